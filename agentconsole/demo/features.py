"""PBX-side features of the demo: the record feature code and its status report.

A real PBX sits in the media path and hears the agent's ``*1``; the demo switch does
not (media flows between the parties directly), so the far end of the call — every
simulated party — plays the PBX's part: :class:`RecordFeature` watches the digits it
receives (RFC 4733 or SIP INFO, both arrive as ``dtmf_received``), toggles a recording
state on the feature code and reports the new state back in the same dialog with an
INFO (RFC 6086) whose body is the state: ``Content-Type: application/x-record-status``,
body ``recording`` or ``stop``.

The agent's Session reads that INFO itself (``session_media.record_feedback``) and sets
``status.record_status`` from it, as it would from a PBX that reports the same way.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..session_media import RECORD_STATUS_TYPE
from .data import RECORD_CODE

if TYPE_CHECKING:
    from ..session import Session

logger = logging.getLogger(__name__)



class RecordFeature:
    """Toggle "recording" when ``code`` arrives as DTMF in ``session``; report by INFO."""

    def __init__(self, session: Session, code: str = RECORD_CODE) -> None:
        self.session = session
        self.code = code
        self.state = "stop"
        self._recent = ""
        session.on("dtmf_received", self._on_digit)

    def _on_digit(self, info: dict[str, Any]) -> None:
        digit = str(info.get("digit", ""))
        self._recent = (self._recent + digit)[-len(self.code):]
        if self._recent != self.code:
            return
        self._recent = ""
        self.state = "recording" if self.state != "recording" else "stop"
        logger.info("demo: call %s recording is now %s (feature code %s)",
                    self.session.call_id, self.state, self.code)
        self.report()

    def report(self) -> None:
        session = self.session
        if session.is_ended:
            return
        body = self.state.encode()
        session.phone._ua_do(
            lambda ua, now: ua.send_info(session.leg, RECORD_STATUS_TYPE, body, now))


__all__ = ["RECORD_STATUS_TYPE", "RecordFeature"]
