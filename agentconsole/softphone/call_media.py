"""In-call media features of a Session: DTMF and recording (issue 4, items 3 and 6).

DTMF (seed §3.9): ``await session.dtmf("12#")`` sends RFC 4733 events in the audio
stream or SIP INFO ``application/dtmf-relay`` (RFC 6086), per ``media.dtmf_mode``:
``auto`` uses RFC 4733 when the negotiated SDP has telephone-event, else INFO.
Received digits of both kinds are emitted once each as ``dtmf_received``
``{"call_id", "digit", "method": "rfc4733"|"info", "duration_ms"}``.

Recording (seed §3.10, ``reference/reliability.md`` §5): ``start_record``,
``pause_record``, ``resume_record``, ``stop_record`` drive ``status.record_status``
(stop | recording | pause). Mode ``local`` writes a stereo WAV (:mod:`.media.recorder`);
a failure emits ``record_error`` ``{"call_id", "message", "path"}`` and
``client_error`` ``{"call_id", "cause"}``, sets the status back to "stop", and the
call goes on. Mode ``feature_code`` sends the PBX's code as DTMF and sets the status
to "unknown" until :meth:`SessionMediaMixin.pbx_record_feedback` reports the truth.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from ..errors import AgentConsoleError, PhoneError
from ..media.dtmf import (
    DEFAULT_DURATION_MS,
    DEFAULT_GAP_MS,
    INFO_RELAY,
    PAUSE,
    DtmfError,
    PlannedDigit,
    info_body,
    parse_info,
    plan,
)
from ..media.recorder import LiveRecording, RecordingError, create_file, recording_name
from ..sip import events as ev

if TYPE_CHECKING:
    from ..media.peer import MediaSession
    from ..sip.invite import CallLeg
    from ..sip.ua import UserAgent
    from .phone import Phone
    from .status import CallStatus

log = logging.getLogger(__name__)

RECORD_STATES = ("stop", "recording", "pause")


class SessionMediaMixin:
    """DTMF (RFC 4733 / SIP INFO) and recording for :class:`.session.Session`."""

    if TYPE_CHECKING:
        phone: Phone
        leg: CallLeg
        established: bool

        @property
        def call_id(self) -> str: ...
        @property
        def status(self) -> CallStatus: ...
        @property
        def is_ended(self) -> bool: ...
        def emit(self, event: str, *args: Any) -> bool: ...
        def _update(self, **changes: Any) -> None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._media_session: MediaSession | None = None
        self._dtmf_lock = asyncio.Lock()
        self._recording: LiveRecording | None = None
        self._record_feedback = 0
        #: Path of the current or last local recording of this call, None before.
        self.recording_path: str | None = None

    # The Session assigns ``self.media`` once in its constructor; the setter wires the
    # media's DTMF callback and close hook without a change to the Session core.
    @property
    def media(self) -> MediaSession:
        assert self._media_session is not None
        return self._media_session

    @media.setter
    def media(self, media: MediaSession) -> None:
        self._media_session = media
        media.on_dtmf = self._on_rfc4733_digit
        media.add_close_hook(self._on_media_closed)

    # ----- DTMF ---------------------------------------------------------------------------
    def dtmf_method(self) -> str:
        """"rfc4733" or "info" for the next :meth:`dtmf`, from the mode and the SDP."""
        mode = self.phone.config.media.dtmf_mode
        negotiated = self.media.dtmf_payload_type is not None
        if mode == "info" or (mode == "auto" and not negotiated):
            return "info"
        if not negotiated:
            raise AgentConsoleError(
                "the other side did not accept RFC 4733 telephone-events; set "
                "media.dtmf_mode to auto or info", title="DTMF",
                code=int(PhoneError.UNKNOWN_ERROR))
        return "rfc4733"

    async def dtmf(self, digits: str, *, duration_ms: int = DEFAULT_DURATION_MS,
                   gap_ms: int = DEFAULT_GAP_MS) -> bool:
        """Send ``digits`` (0-9 * # A-D, ',' = 2 s pause); returns when all are sent.

        Calls are serialised, so two quick calls never interleave their digits.
        """
        if self.is_ended or not self.established:
            raise AgentConsoleError.from_code(PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED,
                                              "the call is not connected")
        try:
            schedule = plan(digits, duration_ms=duration_ms, gap_ms=gap_ms)
        except DtmfError as exc:
            raise AgentConsoleError(str(exc), title="DTMF",
                                    code=int(PhoneError.UNKNOWN_ERROR)) from exc
        async with self._dtmf_lock:
            if self.dtmf_method() == "info":
                await self._send_info_digits(schedule, duration_ms)
            else:
                try:
                    await self.media.send_dtmf(digits, duration_ms=duration_ms, gap_ms=gap_ms)
                except (DtmfError, ConnectionError) as exc:
                    raise AgentConsoleError(f"DTMF not sent: {exc}", title="DTMF",
                                            code=int(PhoneError.UNKNOWN_ERROR)) from exc
        return True

    async def _send_info_digits(self, schedule: list[PlannedDigit], duration_ms: int) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for item in schedule:
            delay = start + item.start - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if item.digit == PAUSE or self.is_ended:
                continue
            self._send_info(info_body(item.digit, duration_ms))

    def _send_info(self, body: bytes) -> None:
        def send(ua: UserAgent, now: float) -> None:
            ua.send_info(self.leg, INFO_RELAY, body, now)

        self.phone._ua_do(send)

    def _on_rfc4733_digit(self, digit: str, duration_ms: int) -> None:
        self._emit_digit(digit, "rfc4733", duration_ms)

    def _emit_digit(self, digit: str, method: str, duration_ms: int) -> None:
        log.debug("call %s: DTMF %s received by %s", self.call_id, digit, method)
        self.emit("dtmf_received", {"call_id": self.call_id, "digit": digit,
                                    "method": method, "duration_ms": duration_ms})

    def _on_extra_event(self, event: Any) -> bool:
        """Handle a call event the Session core does not; True when handled."""
        if isinstance(event, ev.InfoReceived):
            parsed = parse_info(event.content_type, event.body)
            if parsed is not None:
                self._emit_digit(parsed[0], "info", parsed[1])
                return True
            state = record_feedback(event.content_type, event.body)
            if state is not None:
                self.pbx_record_feedback(state)
                return True
        parent = super()
        handler = getattr(parent, "_on_extra_event", None)
        return bool(handler(event)) if handler is not None else False

    # ----- recording ------------------------------------------------------------------------
    async def start_record(self) -> bool:
        """Start recording (local file or the PBX's feature code); False if not started."""
        if self.phone.config.recording.mode == "feature_code":
            return await self._feature_code("start")
        self._check_connected()
        if self._recording is not None:
            return False
        directory = self.phone.config.recording.directory
        status = self.status
        name = recording_name(time.time(), status.communication_type, status.number,
                              self.call_id)
        try:
            fd, path = create_file(directory, name)
        except OSError as exc:
            message = RecordingError.describe(exc, os.path.join(directory, name))
            self._record_failed(message, directory)
            return False
        self.recording_path = path
        recording = LiveRecording(self.media, fd, path, on_error=self._on_record_error)
        if recording.state == "stop":  # the header could not be written
            return False
        self._recording = recording
        self._update(record_status="recording")
        return True

    async def pause_record(self) -> bool:
        """Pause: the file keeps running with silence until :meth:`resume_record`."""
        if self.phone.config.recording.mode == "feature_code":
            return await self._feature_code("pause")
        if self._recording is None or self._recording.state != "recording":
            return False
        self._recording.pause()
        self._update(record_status="pause")
        return True

    async def resume_record(self) -> bool:
        if self.phone.config.recording.mode == "feature_code":
            return await self._feature_code("resume")
        if self._recording is None or self._recording.state != "pause":
            return False
        self._recording.resume()
        self._update(record_status="recording")
        return True

    async def stop_record(self) -> bool:
        """Finish the file (header final) and set record_status "stop"."""
        if self.phone.config.recording.mode == "feature_code":
            return await self._feature_code("stop")
        recording, self._recording = self._recording, None
        if recording is None:
            return False
        recording.stop()
        self._update(record_status="stop")
        return True

    def pbx_record_feedback(self, state: str) -> None:
        """The PBX told us the true recording state (feature-code mode)."""
        if state not in (*RECORD_STATES, "unknown"):
            raise ValueError(f"unknown recording state {state!r}")
        self._record_feedback += 1
        self._update(record_status=state)

    async def _feature_code(self, action: str) -> bool:
        """Send the configured code; the status becomes "unknown" unless the PBX answers.

        Without a code for ``action`` the start code is sent: PBX one-touch recording
        is a toggle (seed §3.10 sends the same code for start and pause).
        """
        self._check_connected()
        codes = self.phone.config.recording.feature_codes
        code = getattr(codes, action) or codes.start
        if not code:
            raise AgentConsoleError("no recording feature code is configured",
                                    title="Recording", code=int(PhoneError.UNKNOWN_ERROR))
        before = self._record_feedback
        await self.dtmf(code)
        if self._record_feedback == before:
            self._update(record_status="unknown")
        return True

    def _check_connected(self) -> None:
        if self.is_ended or not self.established:
            raise AgentConsoleError.from_code(PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED,
                                              "the call is not connected")

    def _on_record_error(self, message: str) -> None:
        recording, self._recording = self._recording, None
        if recording is not None:
            recording.detach()
        self._record_failed(message, self.recording_path or "")

    def _record_failed(self, message: str, path: str) -> None:
        log.warning("call %s: %s", self.call_id, message)
        self._update(record_status="stop")
        self.emit("record_error", {"call_id": self.call_id, "message": message, "path": path})
        self.emit("client_error", {"call_id": self.call_id,
                                   "cause": f"Recording Error: {message}"})

    def _on_media_closed(self) -> None:
        """The call's media is going away: finish the file."""
        recording, self._recording = self._recording, None
        if recording is not None:
            recording.stop()
            self._update(record_status="stop")


#: PBX feedback for feature-code recording: an in-dialog INFO whose body is the state.
RECORD_STATUS_TYPE = "application/x-record-status"


def record_feedback(content_type: str, body: bytes) -> str | None:
    """The recording state a PBX reports in an INFO (``recording``/``pause``/``stop``)."""
    if content_type.split(";", 1)[0].strip().lower() != RECORD_STATUS_TYPE:
        return None
    state = body.decode("utf-8", "replace").strip().lower()
    return state if state in ("recording", "pause", "stop") else None
