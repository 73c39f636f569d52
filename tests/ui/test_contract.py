"""The console's contract with the phone is typed: the fakes the UI tests drive satisfy the
same protocols (:mod:`agentconsole.softphone.api`) as the real Phone and Session.

The real classes are checked by ``make typecheck`` (the assignments at the end of
``softphone/api.py``); the fakes by running mypy on ``tests/ui/fakes.py`` here, so a
console test can never pass against a fake the real phone does not resemble.
"""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).parents[2]


def test_fakes_satisfy_the_console_contract() -> None:
    out, err, status = api.run(["--no-error-summary", "--cache-dir",
                                str(ROOT / ".mypy_cache"), str(ROOT / "tests/ui/fakes.py")])
    assert status == 0, out + err
