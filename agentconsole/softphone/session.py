"""``Session``: one call, as the SDK's Session (``reference/sdk-parity.md`` §1.3, §3).

A Session joins one SIP call leg of the sans-IO core to one media engine (WebRTC
through aiortc, or plain RTP / SDES-SRTP on our own engine: the
:class:`~agentconsole.media.interface.MediaEngine` interface hides which). It keeps
``status`` true, runs the timer and the 3-second call report, and emits the SDK's
events in snake_case: ``progress``, ``accepted``, ``confirmed``, ``ended``, ``failed``,
``client_error``, ``reinvite``, ``status_change``, ``static_status_change``,
``update_timer``, ``call_report``, ``stream_added``. Every payload names its call
(``call_id``), as the SDK's do.

Manual mode (``set_static_status(..., manual=True)``, the SDK's ``startManualModel``)
keeps a name the application set (from a CRM, the directory) when the network later
says who the call is connected to (:func:`~.identity.connected_identity`, RFC 4916):
the number still follows, the name does not.

It is made of parts with their own state: :class:`~.call_media.CallMedia` (stream
state, early media and ringback, call reports, DTMF, recording),
:class:`~.hold.Renegotiation` (hold, resume, the peer's re-offers) and
:class:`~.transfer.CallTransfer` (REFER, both directions); the Session hands each SIP
event to the one part that handles it (:meth:`on_call_event`). Policies that involve
other calls (auto-hold, max calls, consult legs) belong to the phone, which the Session
reaches only through the :class:`~.host.CallHost` protocol.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from pyee.asyncio import AsyncIOEventEmitter

from ..errors import AgentConsoleError, PhoneError
from ..media.dtmf import DEFAULT_DURATION_MS, DEFAULT_GAP_MS
from ..media.sdp import MediaNegotiationError
from ..media.stats import Report
from ..sip import events as ev
from .call_media import CallMedia
from .calls import header_pairs
from .hold import Renegotiation
from .identity import answering_identity, connected_identity
from .status import CallStatus, ProgressStatus, SessionTicker, StaticCallStatus, TimerType
from .transfer import DEFAULT_POLICY, CallTransfer

if TYPE_CHECKING:
    from ..media.interface import MediaEngine
    from ..sip.invite import CallLeg
    from ..sip.message import Headers
    from .host import CallHost, ExtraHeader

logger = logging.getLogger(__name__)

#: SDK cause strings for how a call ended on our side.
LOCAL_CAUSES = {"hangup": "Terminated", "reject": "Rejected", "terminate": "Terminated"}


class Session(AsyncIOEventEmitter):
    """One call. Create calls with :meth:`Phone.call`; inbound ones arrive as events."""

    def __init__(self, host: CallHost, leg: CallLeg, media: MediaEngine,
                 status: CallStatus, *, manual_name: bool = False) -> None:
        super().__init__()
        self.host = host
        self.leg = leg
        self._status = status
        self._static_manual = manual_name
        self._ticker = SessionTicker(started_at=host.clock(),
                                     timer=TimerType(call_id=status.call_id))
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ended = False
        self.end_cause: str | None = None
        self.end_code: int | None = None
        self.established = False
        self._no_answer: asyncio.TimerHandle | None = None
        #: Set on a call that replaced another (RFC 3891): that call's id.
        self.replaced_call_id: str | None = None
        media.call_id = status.call_id
        media.extension = status.number
        self.call_media = CallMedia(self, media)
        self.renegotiation = Renegotiation(self)
        self.transfer = CallTransfer(self)

    # ----- read-only state ------------------------------------------------------------
    @property
    def media(self) -> MediaEngine:
        """The call's media engine now: a re-offer of another profile replaces it
        (:mod:`.call_media`), so it is never kept across awaits by the parts."""
        return self.call_media.engine

    @property
    def call_id(self) -> str:
        """The SIP Call-ID: the call's key in ``phone.sessions`` and in every event."""
        return self._status.call_id

    @property
    def status(self) -> CallStatus:
        """Everything shown about the call; a new value on every change."""
        return self._status

    @property
    def timer(self) -> TimerType:
        """Ring, calling, talk and hold seconds, advanced by the phone's 1 Hz tick."""
        return self._ticker.timer

    @property
    def is_ended(self) -> bool:
        """Ended, failed or destroyed: the call takes no more actions."""
        return self._ended

    @property
    def call_report(self) -> Report:
        """The last call-quality report (refreshed every 3 s while the call is up)."""
        return self.call_media.report

    @property
    def incoming_list(self) -> list[Session]:
        """The phone's ringing inbound calls (the SDK's ``session.incomingList``)."""
        return self.host.incoming_list

    @property
    def request_headers(self) -> Headers:
        """The headers of the INVITE that started the call (ours or the caller's)."""
        return self.leg.request_headers

    @property
    def source(self) -> tuple[str, int] | None:
        """Where an inbound call's INVITE came from (the transport peer: the PBX, for a
        phone behind one), what a policy such as auto-answer may trust; None for calls we
        placed."""
        return self.leg.source

    @property
    def recording_path(self) -> str | None:
        """Path of the current or last local recording of this call, None before."""
        return self.call_media.recording_path

    # ----- status -------------------------------------------------------------------------
    def set_status(self, **changes: Any) -> Session:
        """Merge fields into the status silently (the SDK's setStatus emits nothing)."""
        self._status = self._status.merged(**changes)
        return self

    def update_status(self, **changes: Any) -> None:
        """Merge fields into the status and emit ``status_change(new, old)`` if it changed
        (what the call's own parts use to report)."""
        old = self._status
        new = old.merged(**changes)
        if new != old:
            self._status = new
            self.emit("status_change", new, old)

    def set_static_status(self, *, name: str | None = None, avatar: str | None = None,
                          company: str | None = None, manual: bool = False) -> Session:
        """Set name/avatar/company; ``manual=True`` keeps ``name`` from later header updates.

        As in the SDK, every call sets the manual flag to the value given (§3.6).
        """
        old = self._static()
        changes = {k: v for k, v in (("name", name), ("avatar", avatar), ("company", company))
                   if v is not None}
        self._status = self._status.merged(**changes)
        self._static_manual = manual
        self.emit("static_status_change", self._static(), old)
        return self

    def _static(self) -> StaticCallStatus:
        s = self._status
        return StaticCallStatus(s.name, s.avatar, s.company, s.call_id)

    def update_identity(self, *, name: str | None, number: str | None) -> None:
        """Who the call is connected to now, from the network (see the module doc):
        ``number`` always follows, ``name`` unless manual mode is on."""
        changes: dict[str, Any] = {}
        if number:
            changes["number"] = number
        if name and not self._static_manual:
            changes["name"] = name
        if changes:
            self.update_status(**changes)

    # ----- timer ---------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Called by the phone's 1 Hz ticker: advance and emit ``update_timer``."""
        if self._ticker.stopped:
            return
        timer = self._ticker.tick(now, self._status)
        self.emit("update_timer", timer)

    def stop_timer(self) -> Session:
        self._ticker.tick(self.host.clock(), self._status)
        self._ticker.stopped = True
        return self

    # ----- actions ------------------------------------------------------------------------
    async def answer(self, *, extra_headers: Sequence[ExtraHeader] = (),
                     input: str | int | None = None,
                     output: str | int | None = None) -> Session:
        """Answer an inbound call (auto-holding the talking call first, per policy).

        ``extra_headers`` go in the 200 OK (``"X-Agent: 1001"`` or pairs). ``input`` /
        ``output`` switch the phone's microphone / speaker first (by name or index, as
        ``phone.devices.choose``): one headset serves every call, so the choice stays.
        """
        if self._ended or self._status.communication_type != "inbound":
            raise AgentConsoleError.from_code(PhoneError.NOT_FOUND_CALL_ID,
                                              "there is no ringing call to answer")
        if not self._status.is_ring:
            return self
        headers = header_pairs(extra_headers)
        await self.host.before_answer(self)
        if input is not None or output is not None:
            self.host.devices.choose(input=input, output=output)
        offer = self.leg.remote_sdp
        try:
            if offer:
                sdp = await self.media.accept_offer(offer.decode("utf-8", "replace"))
            else:  # offerless INVITE: we offer in the 200, the answer comes in the ACK
                sdp = await self.media.create_offer()
        except MediaNegotiationError as exc:
            code = exc.status
            self.host.signal(lambda ua, now: ua.reject(self.leg, code, now))
            self._finish("failed", "Incompatible SDP", code)
            raise AgentConsoleError(f"cannot answer: {exc.warning}", title="Incompatible media",
                                    code=PhoneError.UNKNOWN_ERROR) from exc
        if self._ended:
            return self
        self._cancel_no_answer()
        self.host.signal(lambda ua, now: ua.answer(self.leg, sdp.encode(), now,
                                                   extra_headers=headers))
        self.update_status(is_ring=False, call_status="talking", answer_time=_ms_now(),
                           codec=self.media.codec or "")
        self.established = True
        self.emit("accepted", self)
        self.call_media.start_reports()
        return self

    def reject(self, code: int | None = None) -> bool:
        """Decline a ringing inbound call (486 by default, ``calls.reject_code``)."""
        return self.terminate("reject", code=code)

    def hangup(self) -> bool:
        return self.terminate("hangup")

    def terminate(self, kind: str = "terminate", *, code: int | None = None) -> bool:
        """End the call in whatever state it is: CANCEL, reject, or BYE."""
        if self._ended:
            return False
        status = code or self.host.config.calls.reject_code
        inbound_ringing = self._status.communication_type == "inbound" and self._status.is_ring
        if inbound_ringing:
            self.host.signal(lambda ua, now: ua.reject(self.leg, status, now))
        else:
            self.host.signal(lambda ua, now: ua.hangup(self.leg, now))
        cause = "Rejected" if inbound_ringing else ("Canceled" if not self.established
                                                    else LOCAL_CAUSES.get(kind, "Terminated"))
        self._finish("ended" if self.established else "failed", cause,
                     status if inbound_ringing else None)
        return True

    def end_transferred(self) -> None:
        """End the call because it was handed over: BYE, cause "Transferred" (so history
        and wrap-up can tell a hand-over from a hang-up)."""
        self.end_locally("Transferred")

    def end_locally(self, cause: str) -> None:
        """End the call from our side for a reason of the phone's own ("Transferred",
        "RTP Timeout"): BYE, then ``ended`` with ``cause``."""
        if self._ended:
            return
        self.host.signal(lambda ua, now: ua.hangup(self.leg, now))
        self._finish("ended", cause, None)

    def expire_unanswered(self, code: int = 480) -> None:
        """Nobody answered in time (``calls.no_answer_s``): "No Answer", then ``code``.

        Finished first: the core reports its own reject as "Rejected" at once, which
        would file a call nobody answered as one the agent declined.
        """
        if self._ended:
            return
        self._finish("failed", "No Answer", code)
        self.host.signal(lambda ua, now: ua.reject(self.leg, code, now))

    async def hold(self) -> Session:
        """Put the call on hold (re-INVITE with a=sendonly; inactive if held by the peer)."""
        await self.renegotiation.set_hold(True)
        return self

    async def unhold(self) -> Session:
        """Resume the call (auto-holding the talking one first, per policy)."""
        await self.host.before_resume(self)
        await self.renegotiation.set_hold(False)
        return self

    @property
    def hold_pending(self) -> bool:
        """A hold or resume is on its way (its re-INVITE not answered yet); another
        one is refused until it is answered."""
        return self.renegotiation.pending

    def mute(self) -> Session:
        """The agent's audio is replaced by silence; no signalling (SDK §3.11)."""
        self.media.set_muted(True)
        self.update_status(is_mute=True)
        return self

    def unmute(self) -> Session:
        self.media.set_muted(False)
        self.update_status(is_mute=False)
        return self

    def destroy(self) -> None:
        """Drop listeners, timers and media without signalling (SDK ``destroy``); the
        phone forgets the call (``delete_session``, cause "Destroyed"), so it no longer
        counts toward ``max_calls``. Hang up first if the other side should know."""
        if not self._ended:
            self._ended = True
            self._teardown()
            self.host.session_finished(self, "Destroyed")
        self.remove_all_listeners()

    # ----- DTMF, recording, transfer: the parts do the work ------------------------------
    def send_info(self, content_type: str, body: bytes) -> None:
        """Send a SIP INFO in this call (RFC 6086), e.g. a PBX-specific notification."""
        leg = self.leg
        self.host.signal(lambda ua, now: ua.send_info(leg, content_type, body, now))

    def dtmf_method(self) -> str:
        """"rfc4733" or "info": how the next :meth:`dtmf` goes (see :mod:`.call_media`)."""
        return self.call_media.dtmf_method()

    async def dtmf(self, digits: str, *, duration_ms: int = DEFAULT_DURATION_MS,
                   gap_ms: int = DEFAULT_GAP_MS) -> bool:
        """Send ``digits`` (0-9 * # A-D, ',' = 2 s pause); returns when all are sent."""
        return await self.call_media.dtmf(digits, duration_ms=duration_ms, gap_ms=gap_ms)

    async def start_record(self) -> bool:
        """Start recording (local file or the PBX's feature code); False if not started."""
        return await self.call_media.start_record()

    async def pause_record(self) -> bool:
        return await self.call_media.pause_record()

    async def resume_record(self) -> bool:
        return await self.call_media.resume_record()

    async def stop_record(self) -> bool:
        return await self.call_media.stop_record()

    def pbx_record_feedback(self, state: str) -> None:
        """The PBX told us the true recording state (feature-code mode)."""
        self.call_media.pbx_record_feedback(state)

    async def blind_transfer(self, target: str, *, hangup_after: str | None = DEFAULT_POLICY,
                             hold: bool = False) -> bool:
        """REFER this call to ``target`` (see :mod:`.transfer`)."""
        return await self.transfer.blind(target, hangup_after=hangup_after, hold=hold)

    async def attended_transfer(self, target: str | None = None, *, via: str = "parent",
                                ringing: str = "replaces",
                                hangup_after: str | None = DEFAULT_POLICY) -> bool:
        """Complete an attended transfer from this consult leg (see :mod:`.transfer`)."""
        return await self.transfer.attended(target=target, via=via, ringing=ringing,
                                            hangup_after=hangup_after)

    async def cancel_transfer(self) -> None:
        """End this consult leg and resume its parent."""
        await self.transfer.cancel()

    async def swap(self) -> None:
        """Between a consult leg and its parent: hold the active one, resume the other."""
        await self.transfer.swap()

    # ----- events from the SIP core (called by the phone) ------------------------------------
    def on_call_event(self, event: ev.CallEvent) -> None:
        """One event of this call's leg, handed to whoever handles it."""
        if isinstance(event, ev.ReinviteResult) and self.renegotiation.on_result(event):
            return
        if self._ended:
            return
        if isinstance(event, ev.CallProgress):
            self._on_progress(event)
            self._spawn(self.call_media.on_progress(event))  # early media or ringback
        elif isinstance(event, ev.CallAnswered):
            self._spawn(self._on_answered(event))
        elif isinstance(event, ev.CallConfirmed):
            self._spawn(self._on_confirmed(event))
        elif isinstance(event, ev.CallFailed):
            self._finish("failed", event.cause, event.status)
        elif isinstance(event, ev.CallEnded):
            self._finish("ended" if self.established else "failed", event.cause, event.status)
        elif isinstance(event, ev.ReinviteReceived):
            self._spawn(self.renegotiation.on_offer(event))
        elif isinstance(event, ev.InfoReceived):
            self.call_media.on_info(event)
        elif isinstance(event, ev.ReferReceived):
            self.transfer.on_refer_received(event)
        elif isinstance(event, ev.ReferAccepted | ev.ReferFailed | ev.TransferProgress):
            self.transfer.on_refer_event(event)
        elif isinstance(event, ev.DialogRefreshed):
            self._on_refreshed(event)

    def _on_progress(self, event: ev.CallProgress) -> None:
        self.emit("progress", ProgressStatus(event.status, self.call_id, event.reason))
        if event.status in (180, 183) and self._status.call_status == "calling":
            self.update_status(call_status="ringing")

    async def _on_answered(self, event: ev.CallAnswered) -> None:
        await self.call_media.on_answered(event.sdp)
        self.established = True
        self.update_status(call_status="talking", answer_time=_ms_now(),
                           codec=self.media.codec or "")
        ident = answering_identity(event.response.headers) if event.response else None
        if ident is not None:
            self.update_identity(name=ident.name or None, number=ident.number or None)
        self.emit("accepted", self)
        self.host.session_confirmed(self)
        self.emit("confirmed", self)  # the core sent the ACK with the 2xx
        self.call_media.start_reports()

    async def _on_confirmed(self, event: ev.CallConfirmed) -> None:
        if event.sdp:  # answer to the offer we made in an offerless (re-)INVITE's 200
            await self.media.accept_answer(event.sdp.decode("utf-8", "replace"))
        if event.reinvite:  # the call was confirmed long ago; it stays where it is
            return
        self.host.session_confirmed(self)
        self.emit("confirmed", self)

    def _on_refreshed(self, event: ev.DialogRefreshed) -> None:
        """The peer's re-INVITE / UPDATE went through: it may say who we talk to now."""
        ident = connected_identity(event.request.headers, self.leg.remote_identity)
        if ident is not None:
            self.update_identity(name=ident.name or None, number=ident.number or None)

    # ----- tasks, teardown -------------------------------------------------------------------
    def _spawn(self, coro: Awaitable[Any]) -> None:
        """Run ``coro`` as this call's task: cancelled when the call ends, and a failure
        (a media error) ends this call only, with ``client_error``."""
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coro: Awaitable[Any]) -> None:
        try:
            await coro
        except Exception as exc:  # noqa: BLE001 - a media failure ends this call only
            logger.exception("call %s: media error", self.call_id)
            cause = self.call_media.error_cause
            self.emit("client_error", {"call_id": self.call_id, "cause": f"{cause}: {exc}"})
            self.host.signal(lambda ua, now: ua.hangup(self.leg, now))
            self._finish("ended" if self.established else "failed", cause, None)

    def arm_no_answer(self, seconds: float, on_expiry: Callable[[], None]) -> None:
        self._no_answer = asyncio.get_running_loop().call_later(seconds, on_expiry)

    @property
    def no_answer_armed(self) -> bool:
        """The ``calls.no_answer_s`` timer is running (the call rings, unanswered)."""
        return self._no_answer is not None

    def _cancel_no_answer(self) -> None:
        if self._no_answer is not None:
            self._no_answer.cancel()
            self._no_answer = None

    def _finish(self, kind: str, cause: str, code: int | None) -> None:
        """End of the call, whichever side ended it: emit once, release everything."""
        if self._ended:
            return
        self._ended = True
        self.end_cause = cause
        self.end_code = code
        self.stop_timer()
        self.update_status(call_status="ended", is_ring=False)
        self._teardown()
        if kind == "failed":
            self.emit("failed", {"call_id": self.call_id, "cause": cause, "code": code})
        else:
            self.emit("ended", {"call_id": self.call_id, "cause": cause})
        self.host.session_finished(self, cause)

    def _teardown(self) -> None:
        self._cancel_no_answer()
        self.call_media.stop_reports()
        self.renegotiation.cancel()
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        asyncio.get_running_loop().create_task(self.media.close())

    def __repr__(self) -> str:
        s = self._status
        return f"<Session {s.call_id} {s.communication_type} {s.number} {s.call_status}>"


def _ms_now() -> int:
    return int(time.time() * 1000)
