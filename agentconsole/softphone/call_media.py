"""The media part of a Session: stream state, early media, call reports, DTMF, recording.

The media connection coming up is ``stream_added``, its failure ``client_error``
(cause "WebRTC Error: …" on the WebRTC stack, "Media Error: …" on plain RTP / SRTP);
once the call is answered a ``call_report`` (:class:`~agentconsole.media.stats.Report`)
comes at once and every 3 seconds (seed §3.5). On plain RTP, no packet from the far
end for ``media.rtp_timeout_s`` is a ``client_error`` "RTP Timeout: …", and with
``media.rtp_timeout_hangup`` the end of the call (cause "RTP Timeout").

While an outgoing call rings, a provisional response with SDP (a 183 Session Progress)
plays the far end's early media — announcements, its ringback, queue music — and a
180 without SDP plays a local ringback tone (``audio.ringback_tone``; RFC 3960 §3) until
the answer.

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
to "unknown" until :meth:`CallMedia.pbx_record_feedback` reports the truth.

Changing profile in mid-call (:meth:`CallMedia.answer_reoffer`): a PBX handing the call
to another media server, or a B2BUA re-anchoring it, may re-offer another profile than
the call runs — plain ``RTP/AVP`` or SDES ``RTP/SAVP`` on a WebRTC call, or WebRTC on a
plain one. Each engine says whether it serves an offer
(:meth:`~agentconsole.media.interface.MediaEngine.serves`); when the current one does
not, the phone builds the engine that does (``host.new_media``, the factory of new
calls), it answers the offer, and only then does it become the call's engine: the
recording moves its taps over (same file, same pause state), hold and mute are set on
it before it answers, its connection states and DTMF come here, the call report goes
on from the last one (packet counts restart with the new stream, jitter history and
duration continue) and the old engine is closed. If the new engine cannot answer, it
is closed, the offer is refused (488 with a Warning) and the old media goes on
untouched: a rejected offer leaves the session as it was (RFC 3264 §8). A re-offer the
current engine serves stays with it — a new address, a codec, new SDES keys (a changed
``a=crypto`` is a new SRTP context, RFC 4568 §7.1.4), RTP/AVP ↔ RTP/SAVP on the plain
engine. :meth:`CallMedia.change_profile` is the same move offered from our side.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from ..errors import AgentConsoleError, PhoneError
from ..media.common import play_digits
from ..media.dtmf import (
    DEFAULT_DURATION_MS,
    DEFAULT_GAP_MS,
    INFO_RELAY,
    DtmfError,
    PlannedDigit,
    info_body,
    parse_info,
    plan,
)
from ..media.profile import WEBRTC
from ..media.recorder import LiveRecording, RecordingError, create_file, recording_name
from ..media.ringer import ring_tone
from ..media.sdp import MediaNegotiationError
from ..media.stats import Report
from ..sip import events as ev

if TYPE_CHECKING:
    from ..config import RecordingConfig
    from ..media.interface import MediaEngine
    from .session import Session
    from .status import RecordStatus

log = logging.getLogger(__name__)
T = TypeVar("T")

RECORD_STATES = ("stop", "recording", "pause")
#: The seed's call-report interval (§3.5).
REPORT_INTERVAL_S = 3.0


class CallMedia:
    """Stream state, early media, DTMF (RFC 4733 / SIP INFO) and recording of one call:
    a part of its Session.

    It owns its state (the DTMF lock, the live recording, the PBX's feedback count) and
    uses only the Session's public members (``call_id``, ``status``, ``leg``, ``host``,
    ``emit``, ``update_status``, ``end_locally``) and the call's
    :class:`~agentconsole.media.interface.MediaEngine`.
    """

    def __init__(self, session: Session, engine: MediaEngine) -> None:
        self.session = session
        self.engine = engine
        self._dtmf_lock = asyncio.Lock()
        self._recording: LiveRecording | None = None
        self._record_feedback = 0
        #: Path of the current or last local recording of this call, None before.
        self.recording_path: str | None = None
        #: The last call-quality report (seed §3.5), refreshed every 3 s once answered.
        self.report = Report.empty(session.status.call_id, session.status.number)
        self._report_task: asyncio.Task[None] | None = None
        self._stream_up = False
        self._closing: set[asyncio.Task[None]] = set()  # engines a profile change replaced
        self._attach(engine)

    def _attach(self, engine: MediaEngine) -> None:
        engine.on_connection_state = self._on_connection_state
        engine.on_dtmf = self._on_rfc4733_digit
        engine.add_close_hook(functools.partial(self._on_media_closed, engine))

    @property
    def _config(self) -> RecordingConfig:
        return self.session.host.config.recording

    # ----- the media connection and its reports -----------------------------------------
    @property
    def error_cause(self) -> str:
        """How a media failure of this call is named (``client_error``, the end cause):
        the SDK's "WebRTC Error" on the WebRTC stack, "Media Error" on plain RTP / SRTP."""
        return "WebRTC Error" if self.engine.profile == WEBRTC else "Media Error"

    def _on_connection_state(self, state: str) -> None:
        """The media came up (``stream_added``), failed or timed out (``client_error``)."""
        session = self.session
        if session.is_ended:
            return
        if state == "connected" and not self._stream_up:
            self._stream_up = True
            session.emit("stream_added", {
                "call_id": session.call_id,
                "communication_type": session.status.communication_type})
        elif state == "failed":
            session.emit("client_error", {
                "call_id": session.call_id,
                "cause": f"{self.error_cause}: media connection failed"})
        elif state == "timeout":
            self._on_rtp_timeout()

    def _on_rtp_timeout(self) -> None:
        """Plain RTP: nothing came for ``media.rtp_timeout_s`` while the far end should be
        sending (hold does not count): a warning, and maybe the end of the call."""
        session = self.session
        session.emit("client_error", {"call_id": session.call_id,
                                      "cause": "RTP Timeout: no media from the other side"})
        if session.host.config.media.rtp_timeout_hangup and session.established:
            session.end_locally("RTP Timeout")

    # ----- early media and ringback (our outgoing calls) --------------------------------------
    async def on_progress(self, event: ev.CallProgress) -> None:
        """A provisional response to our INVITE: with SDP, early media (the far end's
        audio plays before the answer); a 180 without, the local ringback tone."""
        if event.sdp:
            await self.engine.accept_answer(event.sdp.decode("utf-8", "replace"))
        elif event.status == 180:
            tone = ring_tone(self.session.host.config.audio.ringback_tone)
            self.engine.start_ringback(tone)

    async def on_answered(self, sdp: bytes | None) -> None:
        """The 2xx to our INVITE: the ringback stops for good, its SDP (if the answer did
        not come early) sets the media up."""
        self.engine.stop_ringback()
        if sdp:
            await self.engine.accept_answer(sdp.decode("utf-8", "replace"))

    def start_reports(self) -> None:
        """The call is answered: a ``call_report`` now and every 3 s until it ends."""
        if self._report_task is None:
            self._report_task = asyncio.get_running_loop().create_task(self._report_loop())

    def stop_reports(self) -> None:
        if self._report_task is not None:
            self._report_task.cancel()
            self._report_task = None

    async def _report_loop(self) -> None:
        while not self.session.is_ended:
            try:
                self.report = await self.engine.report(self.report)
            except Exception:  # noqa: BLE001 - stats must never end a call
                log.exception("call report failed")
            else:
                self.session.emit("call_report", self.report)
            await asyncio.sleep(REPORT_INTERVAL_S)

    # ----- changing profile in mid-call (RFC 3264 §8; see the module doc) -----------------
    async def answer_reoffer(self, sdp: str) -> str:
        """Our answer to the peer's re-offer, from the engine that serves it; raises
        :class:`MediaNegotiationError` (488 + Warning) with the call's media unchanged."""
        if self.engine.serves(sdp):
            return await self.engine.accept_reoffer(sdp)
        engine = self.session.host.new_media(sdp.encode())
        return await self._move_to(engine, engine.accept_reoffer(sdp))

    async def change_profile(self, profile: str) -> None:
        """Move the call to ``profile`` ("webrtc", "rtp", "srtp") by a re-INVITE of ours
        with a new engine's offer; a refusal leaves the call as it was. Not while the
        call is on hold (the new engine offers ``sendrecv``)."""
        self._check_connected()
        if self.session.status.is_hold:
            raise AgentConsoleError("resume the call before changing its media",
                                    title="Media", code=int(PhoneError.UNKNOWN_ERROR))
        engine = self.session.host.new_media(profile=profile)

        async def negotiate() -> None:
            offer = await engine.create_offer()
            await engine.accept_answer(await self.session.renegotiation.exchange(offer))

        await self._move_to(engine, negotiate())

    async def _move_to(self, engine: MediaEngine, negotiate: Awaitable[T]) -> T:
        """Run ``negotiate`` on ``engine`` (set up as the call is: ids, hold, mute), then
        make it the call's engine; on any failure close it and keep the current one.
        Digits being sent finish first (the DTMF lock): the old engine plays them."""
        session = self.session
        engine.call_id, engine.extension = session.call_id, session.status.number
        engine.set_muted(session.status.is_mute)
        engine.set_sending(not session.status.is_hold)
        try:
            async with self._dtmf_lock:
                result = await negotiate
                if session.is_ended:
                    raise MediaNegotiationError("the call ended during the media change")
                self._replace(engine)
        except BaseException as exc:
            await engine.close()
            if isinstance(exc, Exception) and not isinstance(
                    exc, MediaNegotiationError | AgentConsoleError):
                raise MediaNegotiationError(f"cannot move the call's media: {exc}") from exc
            raise
        return result

    def _replace(self, engine: MediaEngine) -> None:
        """``engine`` becomes the call's: callbacks, recording taps, codec; the old one
        goes quiet and closes in the background (the answer need not wait for it)."""
        old, self.engine = self.engine, engine
        old.on_connection_state = old.on_dtmf = None
        self._attach(engine)
        if self._recording is not None:
            self._recording.move_to(engine)
        log.info("call %s: media moved from %s to %s", self.session.call_id, old.profile,
                 engine.profile)
        task = asyncio.get_running_loop().create_task(old.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        self.session.update_status(codec=engine.codec or "")

    # ----- DTMF ---------------------------------------------------------------------------
    def dtmf_method(self) -> str:
        """"rfc4733" or "info" for the next :meth:`dtmf`, from the mode and the SDP."""
        mode = self.session.host.config.media.dtmf_mode
        negotiated = self.engine.dtmf_payload_type is not None
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
        self._check_connected()
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
                    await self.engine.send_dtmf(digits, duration_ms=duration_ms, gap_ms=gap_ms)
                except (DtmfError, ConnectionError) as exc:
                    raise AgentConsoleError(f"DTMF not sent: {exc}", title="DTMF",
                                            code=int(PhoneError.UNKNOWN_ERROR)) from exc
        return True

    async def _send_info_digits(self, schedule: list[PlannedDigit], duration_ms: int) -> None:
        """One INFO a digit, each at its planned time (the pacing RFC 4733 digits get)."""
        async def send(digit: str) -> None:
            if not self.session.is_ended:
                self._send_info(info_body(digit, duration_ms))

        await play_digits(schedule, send)

    def _send_info(self, body: bytes) -> None:
        self.session.send_info(INFO_RELAY, body)

    def _on_rfc4733_digit(self, digit: str, duration_ms: int) -> None:
        self._emit_digit(digit, "rfc4733", duration_ms)

    def _emit_digit(self, digit: str, method: str, duration_ms: int) -> None:
        call_id = self.session.call_id
        log.debug("call %s: DTMF %s received by %s", call_id, digit, method)
        self.session.emit("dtmf_received", {"call_id": call_id, "digit": digit,
                                            "method": method, "duration_ms": duration_ms})

    def on_info(self, event: ev.InfoReceived) -> None:
        """An INFO in the call: a DTMF relay digit, or the PBX's recording state."""
        parsed = parse_info(event.content_type, event.body)
        if parsed is not None:
            self._emit_digit(parsed[0], "info", parsed[1])
            return
        state = record_feedback(event.content_type, event.body)
        if state is not None:
            self.pbx_record_feedback(state)

    # ----- recording ------------------------------------------------------------------------
    async def start_record(self) -> bool:
        """Start recording (local file or the PBX's feature code); False if not started."""
        if self._config.mode == "feature_code":
            return await self._feature_code("start")
        self._check_connected()
        if self._recording is not None:
            return False
        directory = self._config.directory
        status = self.session.status
        name = recording_name(time.time(), status.communication_type, status.number,
                              status.call_id)
        try:
            fd, path = create_file(directory, name)
        except OSError as exc:
            message = RecordingError.describe(exc, os.path.join(directory, name))
            self._record_failed(message, directory)
            return False
        self.recording_path = path
        recording = LiveRecording(self.engine, fd, path, on_error=self._on_record_error)
        if recording.state == "stop":  # the header could not be written
            return False
        self._recording = recording
        self.session.update_status(record_status="recording")
        return True

    async def pause_record(self) -> bool:
        """Pause: the file keeps running with silence until :meth:`resume_record`."""
        return await self._switch("pause", "recording", "pause", LiveRecording.pause)

    async def resume_record(self) -> bool:
        return await self._switch("resume", "pause", "recording", LiveRecording.resume)

    async def _switch(self, action: str, before: str, after: RecordStatus,
                      apply: Callable[[LiveRecording], None]) -> bool:
        """Pause or resume: ``apply`` to a recording in state ``before``, else False."""
        if self._config.mode == "feature_code":
            return await self._feature_code(action)
        if self._recording is None or self._recording.state != before:
            return False
        apply(self._recording)
        self.session.update_status(record_status=after)
        return True

    async def stop_record(self) -> bool:
        """Finish the file (header final) and set record_status "stop"."""
        if self._config.mode == "feature_code":
            return await self._feature_code("stop")
        recording, self._recording = self._recording, None
        if recording is None:
            return False
        recording.stop()
        self.session.update_status(record_status="stop")
        return True

    def pbx_record_feedback(self, state: str) -> None:
        """The PBX told us the true recording state (feature-code mode)."""
        if state not in (*RECORD_STATES, "unknown"):
            raise ValueError(f"unknown recording state {state!r}")
        self._record_feedback += 1
        self.session.update_status(record_status=state)

    async def _feature_code(self, action: str) -> bool:
        """Send the configured code; the status becomes "unknown" unless the PBX answers.

        Without a code for ``action`` the start code is sent: PBX one-touch recording
        is a toggle (seed §3.10 sends the same code for start and pause).
        """
        self._check_connected()
        codes = self._config.feature_codes
        by_action = {"start": codes.start, "stop": codes.stop, "pause": codes.pause,
                     "resume": codes.resume}
        code = by_action[action] or codes.start
        if not code:
            raise AgentConsoleError("no recording feature code is configured",
                                    title="Recording", code=int(PhoneError.UNKNOWN_ERROR))
        before = self._record_feedback
        await self.dtmf(code)
        if self._record_feedback == before:
            self.session.update_status(record_status="unknown")
        return True

    def _check_connected(self) -> None:
        if self.session.is_ended or not self.session.established:
            raise AgentConsoleError.from_code(PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED,
                                              "the call is not connected")

    def _on_record_error(self, message: str) -> None:
        recording, self._recording = self._recording, None
        if recording is not None:
            recording.detach()
        self._record_failed(message, self.recording_path or "")

    def _record_failed(self, message: str, path: str) -> None:
        call_id = self.session.call_id
        log.warning("call %s: %s", call_id, message)
        self.session.update_status(record_status="stop")
        self.session.emit("record_error", {"call_id": call_id, "message": message,
                                           "path": path})
        self.session.emit("client_error", {"call_id": call_id,
                                           "cause": f"Recording Error: {message}"})

    def _on_media_closed(self, engine: MediaEngine) -> None:
        """The call's media is going away: finish the file (not when ``engine`` is one a
        profile change replaced: the recording has moved on)."""
        if engine is not self.engine:
            return
        recording, self._recording = self._recording, None
        if recording is not None:
            recording.stop()
            self.session.update_status(record_status="stop")


#: PBX feedback for feature-code recording: an in-dialog INFO whose body is the state.
RECORD_STATUS_TYPE = "application/x-record-status"


def record_feedback(content_type: str, body: bytes) -> str | None:
    """The recording state a PBX reports in an INFO (``recording``/``pause``/``stop``)."""
    if content_type.split(";", 1)[0].strip().lower() != RECORD_STATUS_TYPE:
        return None
    state = body.decode("utf-8", "replace").strip().lower()
    return state if state in ("recording", "pause", "stop") else None
