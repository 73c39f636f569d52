"""Run-wide hooks: the closing summary of what was skipped, and why.

A newcomer's ``make test`` ends with the skipped tests grouped by reason (pytest's own
``-rs`` lists them one location at a time) and, when system packages are missing, the one
command that installs them (``.ci/system-packages``, the script ``make test`` runs first).
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

SYSTEM_PACKAGES = Path(__file__).resolve().parents[1] / ".ci" / "system-packages"


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The reason a test was skipped, without pytest's ``Skipped:`` prefix."""
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def system_packages(mode: str) -> str:
    """``.ci/system-packages missing|command``; "" when all are there or it cannot tell."""
    if not SYSTEM_PACKAGES.is_file():
        return ""
    try:
        done = subprocess.run(["bash", str(SYSTEM_PACKAGES), mode], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reasons = Counter(skip_reason(r) for r in terminalreporter.stats.get("skipped", []))
    missing = system_packages("missing")
    if not reasons and not missing:
        return
    write = terminalreporter.write_line
    total = sum(reasons.values())
    terminalreporter.section(f"{total} skipped, by reason (pytest -rs lists each test)")
    for reason, count in reasons.most_common():
        write(f"{count:5d}  {reason}")
    if missing:
        write("")
        write(f"System packages missing: {missing}")
        write("The tests that need them were skipped. Install them, then run make test again:")
        write(f"    {system_packages('command')}")
