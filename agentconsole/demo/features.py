"""PBX-side features of the demo: the record feature code and its status report.

A real PBX sits in the media path and hears the agent's ``*1``; the demo switch does
not (media flows between the parties directly), so the far end of the call — every
simulated party — plays the PBX's part: :class:`RecordFeature` watches the digits it
receives (RFC 4733 or SIP INFO, both arrive as ``dtmf_received``): the record code
(``*1``) starts or stops a recording, the pause code (``*2``) pauses or resumes it, and
each change is reported back in the same dialog with an INFO (RFC 6086) whose body is
the state: ``Content-Type: application/x-record-status``, body ``recording``, ``pause``
or ``stop``. A pause code with no recording running reports ``stop``, so the agent's
status never stays "unknown".

The agent's Session reads that INFO itself (``session_media.record_feedback``) and sets
``status.record_status`` from it, as it would from a PBX that reports the same way.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..softphone.call_media import RECORD_STATUS_TYPE
from .data import PAUSE_CODE, RECORD_CODE

if TYPE_CHECKING:
    from ..softphone.session import Session

logger = logging.getLogger(__name__)



class RecordFeature:
    """Run the record and pause codes arriving as DTMF in ``session``; report by INFO."""

    def __init__(self, session: Session, code: str = RECORD_CODE,
                 pause_code: str = PAUSE_CODE) -> None:
        self.session = session
        self.code = code
        self.pause_code = pause_code
        self.state = "stop"
        self._recent = ""
        session.on("dtmf_received", self._on_digit)

    def _on_digit(self, info: dict[str, Any]) -> None:
        digit = str(info.get("digit", ""))
        self._recent = (self._recent + digit)[-max(len(self.code), len(self.pause_code)):]
        if self._recent.endswith(self.code):
            self.state = "recording" if self.state == "stop" else "stop"
        elif self._recent.endswith(self.pause_code):
            self.state = {"recording": "pause", "pause": "recording"}.get(self.state, "stop")
        else:
            return
        self._recent = ""
        logger.info("demo: call %s recording is now %s", self.session.call_id, self.state)
        self.report()

    def report(self) -> None:
        session = self.session
        if session.is_ended:
            return
        body = self.state.encode()
        session.send_info(RECORD_STATUS_TYPE, body)


__all__ = ["RECORD_STATUS_TYPE", "RecordFeature"]
