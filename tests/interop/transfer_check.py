"""Helpers for the transfer interop tests: a SIPp callee registered as 1003, the
first lines of what baresip logged, the SIP messages a SIPp trace holds, and the
steps of a transfer's progress.

baresip 1.0.0 facts these rely on (found on the rig):
- it follows a REFER (RFC 3515): 202, NOTIFY ``SIP/2.0 100 Trying``, then a new call to
  the Refer-To URI through its registrar and a final NOTIFY with that call's outcome
  (200 or the failure; no 180 NOTIFY); its own REFER has a bare Refer-To URI and no
  Referred-By, and it hangs up after the final 200 NOTIFY;
- it puts the Refer-To URI, header part included, into the new INVITE's To header;
- neither baresip nor its SIP stack (libre) knows the Replaces header (RFC 3891): no
  "Replaces" string in either binary. An INVITE with Replaces is treated as a new call.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .sipp import SCENARIOS, Sipp, register, render

TARGET_PORT = 5097  # SIPp callee registered as 1003
REGISTER_PORT = 5098
MEDIA_PORT = 6300


@contextlib.contextmanager
def sipp_callee(work: Path, scenario: str, name: str, **tokens: str | int) -> Iterator[Sipp]:
    """A SIPp UAS running ``scenario`` with user 1003 pointing at it; stopped and
    unregistered on the way out, whatever happened. A scenario with ``@IDENTITY@``
    asserts 1003 unless the test names someone else."""
    if "IDENTITY" in (SCENARIOS / scenario).read_text():
        tokens.setdefault("identity", "<sip:1003@127.0.0.1>")
    path = render(scenario, work, **tokens)
    uas = Sipp(name, path, work, port=TARGET_PORT, media_port=MEDIA_PORT, remote=None,
               timeout_s=30, extra=["-rtp_echo"]).start()
    registered = False
    try:
        reg = register(work, "1003", f"127.0.0.1:{TARGET_PORT}", expires=60,
                       port=REGISTER_PORT)
        assert reg.returncode == 0, reg.trace()
        registered = True
        yield uas
    finally:
        uas.stop()
        if registered:
            register(work, "1003", f"127.0.0.1:{TARGET_PORT}", expires=0, port=REGISTER_PORT)


def sipp_messages(sipp: Sipp, direction: str = "received") -> list[str]:
    """Whole SIP messages from SIPp's ``-trace_msg`` file, ``received`` or ``sent``."""
    if not sipp.messages.exists():
        return []
    text = sipp.messages.read_text(errors="replace")
    out: list[str] = []
    for chunk in re.split(r"^-{5,}.*$", text, flags=re.MULTILINE):
        head, _, message = chunk.strip().partition("\n")
        if f"message {direction}" in head and message.strip():
            out.append(message.strip())
    return out


def header(message: str, name: str) -> str | None:
    """The first value of header ``name`` in a SIP message text (case-insensitive)."""
    match = re.search(rf"^{re.escape(name)}\s*:\s*(.*)$", message,
                      re.MULTILINE | re.IGNORECASE)
    return match.group(1).strip() if match else None


def sipfrags(messages: list[str]) -> list[str]:
    """The sipfrag status lines of the NOTIFY requests among ``messages``."""
    out = []
    for message in messages:
        if message.startswith("NOTIFY "):
            found = re.search(r"^SIP/2\.0 \d{3}[^\r\n]*", message, re.MULTILINE)
            if found:
                out.append(found.group(0).strip())
    return out


def steps(progress: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(state, status) of each ``transfer_progress``. The first step is "trying" with
    the 202 — or with 100 when the transferee's first NOTIFY overtook its 202, which
    RFC 3515 §2.4.4 allows and Kamailio, relaying the two in separate transactions,
    sometimes does; both mean the same, so the 100 is read as the 202 here."""
    out = [(str(p["state"]), int(p["status"])) for p in progress]
    if out[:1] == [("trying", 100)]:
        out[0] = ("trying", 202)
    return out
