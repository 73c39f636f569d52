"""200 calls straight to the UA with 20 % random loss on every datagram to or from it.

The run lives in a private network namespace (:mod:`tests.interop.loss_run`: ``lo``,
two ``iptables -m statistic`` rules, the UA and SIPp all inside), so it needs neither
the rig's ports nor its lock. SIPp counts a call successful only when the UA's BYE
reached it; the UA must have answered and ended every call itself (cause
"Terminated"), its BYEs answered 200 or, when SIPp had already forgotten a call whose
every 200 was lost, timed out (no other answer).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .rig import require

CALLS = 200
ROOT = Path(__file__).resolve().parents[2]


def test_200_calls_under_20_percent_udp_loss_all_end_with_a_bye(tmp_path: Path) -> None:
    unshare = require("unshare")
    require("iptables")
    require("sipp")
    if os.geteuid() != 0:
        pytest.skip("a private network namespace with iptables rules needs root")
    out = tmp_path / "loss.json"
    proc = subprocess.run(
        [unshare, "-n", "--", sys.executable, "-m", "tests.interop.loss_run",
         "--calls", str(CALLS), "--loss", "0.2", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0 and out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    print(f"\nloss run: {json.dumps(result)}")
    assert result["sipp"] == {"successful": CALLS, "failed": 0}, result
    assert result["ua_incoming"] == CALLS and result["ua_errors"] == [], result
    assert result["ua_causes"] == {"Terminated": CALLS}, result
    finals = result["bye_finals"]
    assert set(finals) <= {"200"} and sum(finals.values()) >= CALLS - 5, result
