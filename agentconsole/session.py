"""``Session``: one call, as the SDK's Session (``reference/sdk-parity.md`` §1.3, §3).

A Session joins one SIP call leg of the sans-IO core to one media session (an aiortc
peer connection). It keeps ``status`` true, runs the timer and the 3-second call
report, and emits the SDK's events in snake_case: ``progress``, ``accepted``,
``confirmed``, ``ended``, ``failed``, ``client_error``, ``reinvite``,
``status_change``, ``static_status_change``, ``update_timer``, ``call_report``,
``stream_added``.

Policies that involve other calls (auto-hold, max calls, consult legs) live in
:class:`~agentconsole.phone.Phone`; a Session only knows its own call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pyee.asyncio import AsyncIOEventEmitter

from .call_status import CallStatus, SessionTicker, StaticCallStatus, TimerType
from .errors import AgentConsoleError, PhoneError
from .media.sdp import MediaNegotiationError, audio_direction, is_hold_direction
from .media.stats import Report
from .session_media import SessionMediaMixin
from .session_transfer import SessionTransferMixin
from .sip import events as ev

if TYPE_CHECKING:
    from .media.peer import MediaSession
    from .phone import Phone
    from .sip.invite import CallLeg

logger = logging.getLogger(__name__)

REPORT_INTERVAL_S = 3.0
#: SDK cause strings for how a call ended on our side.
LOCAL_CAUSES = {"hangup": "Terminated", "reject": "Rejected", "terminate": "Terminated"}


class Session(SessionMediaMixin, SessionTransferMixin, AsyncIOEventEmitter):
    """One call. Create calls with :meth:`Phone.call`; inbound ones arrive as events."""

    def __init__(self, phone: Phone, leg: CallLeg, media: MediaSession,
                 status: CallStatus, *, manual_name: bool = False) -> None:
        super().__init__()
        self.phone = phone
        self.leg = leg
        self.media = media
        self._status = status
        self._static_manual = manual_name
        now = phone.clock()
        self._ticker = SessionTicker(started_at=now)
        self.call_report = Report.empty(status.call_id, status.number)
        self._report_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reinvite_waiter: asyncio.Future[ev.ReinviteResult] | None = None
        self._hold_pending = False
        self._ended = False
        self.end_cause: str | None = None
        self.end_code: int | None = None
        self.established = False
        self._no_answer: asyncio.TimerHandle | None = None
        self._media_up = False
        media.call_id = status.call_id
        media.extension = status.number
        media.on_connection_state = self._on_media_state

    # ----- read-only state ------------------------------------------------------------
    @property
    def call_id(self) -> str:
        return self._status.call_id

    @property
    def status(self) -> CallStatus:
        return self._status

    @property
    def timer(self) -> TimerType:
        return self._ticker.timer

    @property
    def is_ended(self) -> bool:
        return self._ended

    @property
    def incoming_list(self) -> list[Session]:
        return self.phone.incoming_list

    # ----- status -------------------------------------------------------------------------
    def set_status(self, **changes: Any) -> Session:
        """Merge fields into the status silently (the SDK's setStatus emits nothing)."""
        self._status = self._status.merged(**changes)
        return self

    def _update(self, **changes: Any) -> None:
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
        old = StaticCallStatus(self._status.name, self._status.avatar, self._status.company)
        changes = {k: v for k, v in (("name", name), ("avatar", avatar), ("company", company))
                   if v is not None}
        self._status = self._status.merged(**changes)
        self._static_manual = manual
        new = StaticCallStatus(self._status.name, self._status.avatar, self._status.company)
        self.emit("static_status_change", new, old)
        return self

    def update_identity(self, *, name: str | None, number: str | None) -> None:
        """An identity update from the network (P-Asserted-Identity, re-INVITE ...)."""
        changes: dict[str, Any] = {}
        if number:
            changes["number"] = number
        if name and not self._static_manual:
            changes["name"] = name
        if changes:
            self._update(**changes)

    # ----- timer ---------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Called by the phone's 1 Hz ticker: advance and emit ``update_timer``."""
        if self._ticker.stopped:
            return
        timer = self._ticker.tick(now, self._status)
        self.emit("update_timer", timer)

    def stop_timer(self) -> Session:
        self._ticker.tick(self.phone.clock(), self._status)
        self._ticker.stopped = True
        return self

    # ----- actions ------------------------------------------------------------------------
    async def answer(self) -> Session:
        """Answer an inbound call (auto-holding the talking call first, per policy)."""
        if self._ended or self._status.communication_type != "inbound":
            raise AgentConsoleError.from_code(PhoneError.NOT_FOUND_CALL_ID,
                                              "there is no ringing call to answer")
        if not self._status.is_ring:
            return self
        self.phone._check_can_answer(self)
        await self.phone._auto_hold(except_session=self)
        offer = self.leg.remote_sdp
        try:
            if offer:
                sdp = await self.media.accept_offer(offer.decode("utf-8", "replace"))
            else:  # offerless INVITE: we offer in the 200, the answer comes in the ACK
                sdp = await self.media.create_offer()
        except MediaNegotiationError as exc:
            code = exc.status
            self.phone._ua_do(lambda ua, now: ua.reject(self.leg, code, now))
            self._finish("failed", "Incompatible SDP", code)
            raise AgentConsoleError(f"cannot answer: {exc.warning}", title="Incompatible media",
                                    code=PhoneError.UNKNOWN_ERROR) from exc
        if self._ended:
            return self
        self._cancel_no_answer()
        self.phone._ua_do(lambda ua, now: ua.answer(self.leg, sdp.encode(), now))
        self._update(is_ring=False, call_status="talking", answer_time=_ms_now(),
                     codec=self.media.codec or "")
        self.established = True
        self.emit("accepted", self)
        self._start_reports()
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
        status = code or self.phone.config.calls.reject_code
        inbound_ringing = self._status.communication_type == "inbound" and self._status.is_ring
        if inbound_ringing:
            self.phone._ua_do(lambda ua, now: ua.reject(self.leg, status, now))
        else:
            self.phone._ua_do(lambda ua, now: ua.hangup(self.leg, now))
        cause = "Rejected" if inbound_ringing else ("Canceled" if not self.established
                                                    else LOCAL_CAUSES.get(kind, "Terminated"))
        self._finish("ended" if self.established else "failed", cause,
                     status if inbound_ringing else None)
        return True

    async def hold(self) -> Session:
        """Put the call on hold (re-INVITE with a=sendonly; inactive if held by the peer)."""
        return await self._set_hold(True)

    async def unhold(self) -> Session:
        await self.phone._auto_hold(except_session=self)
        return await self._set_hold(False)

    @property
    def hold_pending(self) -> bool:
        """A hold or resume is on its way (its re-INVITE not answered yet)."""
        return self._hold_pending

    async def _set_hold(self, hold: bool) -> Session:
        """One hold/resume at a time: a second one would replace the media offer the
        first is still waiting an answer for."""
        if self._hold_pending:
            raise AgentConsoleError("a hold or resume of this call is already on its way",
                                    title="Hold", code=PhoneError.UNKNOWN_ERROR)
        self._hold_pending = True
        try:
            return await self._change_hold(hold)
        finally:
            self._hold_pending = False

    async def _change_hold(self, hold: bool) -> Session:
        if self._ended or not self.established:
            raise AgentConsoleError("the call is not connected", title="Hold",
                                    code=PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED)
        if self._status.is_hold == hold:
            return self
        if hold:
            direction = "inactive" if self._status.remote_hold else "sendonly"
        else:
            direction = "recvonly" if self._status.remote_hold else "sendrecv"
        offer = await self.media.create_reoffer(direction)
        result = await self._reinvite(offer.encode())
        if not result.ok or not result.sdp:
            await self.media.rollback()
            raise AgentConsoleError(
                f"the {'hold' if hold else 'resume'} request was refused "
                f"({result.status}); the call is still up", title="Hold failed",
                code=PhoneError.UNKNOWN_ERROR)
        await self.media.accept_answer(result.sdp.decode("utf-8", "replace"))
        answer_dir = audio_direction(result.sdp.decode("utf-8", "replace"))
        held = answer_dir in ("recvonly", "inactive")
        self.media.set_sending(not held)
        self._update(is_hold=held)
        return self

    async def _reinvite(self, sdp: bytes) -> ev.ReinviteResult:
        """Send a re-INVITE and wait for its outcome; a call that ends meanwhile is an
        :class:`AgentConsoleError`, never a CancelledError or a 40 s wait."""
        if self._ended:
            raise AgentConsoleError("the call has ended", title="Call ended",
                                    code=PhoneError.NOT_FOUND_CALL_ID)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[ev.ReinviteResult] = loop.create_future()
        self._reinvite_waiter = waiter
        self.phone._ua_do(lambda ua, now: ua.reinvite(self.leg, sdp, now))
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), 40.0)
        except (asyncio.CancelledError, TimeoutError):
            if waiter.cancelled() or self._ended:  # the call ended under us
                raise AgentConsoleError("the call ended during the request",
                                        title="Call ended",
                                        code=PhoneError.NOT_FOUND_CALL_ID) from None
            raise
        finally:
            self._reinvite_waiter = None

    def mute(self) -> Session:
        """The agent's audio is replaced by silence; no signalling (SDK §3.11)."""
        self.media.set_muted(True)
        self._update(is_mute=True)
        return self

    def unmute(self) -> Session:
        self.media.set_muted(False)
        self._update(is_mute=False)
        return self

    def destroy(self) -> None:
        """Drop listeners, timers and media without signalling (SDK ``destroy``)."""
        self._ended = True
        self._teardown()
        self.remove_all_listeners()

    # ----- events from the SIP core (called by the phone) ------------------------------------
    def on_call_event(self, event: object) -> None:
        if isinstance(event, ev.ReinviteResult) and self._reinvite_waiter is not None \
                and not self._reinvite_waiter.done():
            self._reinvite_waiter.set_result(event)  # even when the call just ended
            return
        if self._ended:
            return
        if isinstance(event, ev.CallProgress):
            self._on_progress(event)
        elif isinstance(event, ev.CallAnswered):
            self._spawn(self._on_answered(event))
        elif isinstance(event, ev.CallConfirmed):
            self._spawn(self._on_confirmed(event))
        elif isinstance(event, ev.CallFailed):
            self._finish("failed", event.cause, event.status)
        elif isinstance(event, ev.CallEnded):
            self._finish("ended" if self.established else "failed", event.cause, event.status)
        elif isinstance(event, ev.ReinviteReceived):
            self._spawn(self._on_reinvite(event))
        elif isinstance(event, ev.ReinviteResult):
            pass  # nobody waits for it (delivered above when someone does)
        else:
            self._on_extra_event(event)

    def _on_progress(self, event: ev.CallProgress) -> None:
        self.emit("progress", event.status)
        if event.status in (180, 183) and self._status.call_status == "calling":
            self._update(call_status="ringing")

    async def _on_answered(self, event: ev.CallAnswered) -> None:
        if event.sdp:
            await self.media.accept_answer(event.sdp.decode("utf-8", "replace"))
        self.established = True
        self._update(call_status="talking", answer_time=_ms_now(), codec=self.media.codec or "")
        self.emit("accepted", self)
        self.phone._set_current(self)
        self.emit("confirmed", self)  # the core sent the ACK with the 2xx
        self._start_reports()

    async def _on_confirmed(self, event: ev.CallConfirmed) -> None:
        if event.sdp:  # answer to the offer we made in an offerless INVITE's 200
            await self.media.accept_answer(event.sdp.decode("utf-8", "replace"))
        self.phone._set_current(self)
        self.emit("confirmed", self)

    async def _on_reinvite(self, event: ev.ReinviteReceived) -> None:
        try:
            if event.sdp:
                text = event.sdp.decode("utf-8", "replace")
                answer = await self.media.accept_reoffer(text)
                self._update(remote_hold=is_hold_direction(audio_direction(text)))
            else:
                answer = await self.media.create_reoffer(
                    "sendonly" if self._status.is_hold else "sendrecv")
        except MediaNegotiationError as exc:
            code = exc.status
            self.phone._ua_do(lambda ua, now: ua.answer_reinvite(self.leg, None, now, code))
            return
        self.phone._ua_do(lambda ua, now: ua.answer_reinvite(self.leg, answer.encode(), now))
        self.emit("reinvite", self)

    def _on_media_state(self, state: str) -> None:
        """ICE + DTLS came up (``stream_added``) or failed (``client_error``)."""
        if self._ended:
            return
        if state == "connected" and not self._media_up:
            self._media_up = True
            self.emit("stream_added", {"call_id": self.call_id,
                                       "communication_type": self._status.communication_type})
        elif state == "failed":
            self.emit("client_error", {"call_id": self.call_id,
                                       "cause": "WebRTC Error: media connection failed"})

    # ----- reports, tasks, teardown -------------------------------------------------------------
    def _start_reports(self) -> None:
        if self._report_task is None:
            self._report_task = asyncio.get_running_loop().create_task(self._report_loop())

    async def _report_loop(self) -> None:
        while not self._ended:
            try:
                self.call_report = await self.media.report(self.call_report)
            except Exception:  # noqa: BLE001 - stats must never end a call
                logger.exception("call report failed")
            else:
                self.emit("call_report", self.call_report)
            await asyncio.sleep(REPORT_INTERVAL_S)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coro: Awaitable[Any]) -> None:
        try:
            await coro
        except Exception as exc:  # noqa: BLE001 - a media failure ends this call only
            logger.exception("call %s: media error", self.call_id)
            self.emit("client_error", {"call_id": self.call_id, "cause": f"WebRTC Error: {exc}"})
            self.phone._ua_do(lambda ua, now: ua.hangup(self.leg, now))
            self._finish("ended" if self.established else "failed", "WebRTC Error", None)

    def arm_no_answer(self, seconds: float, on_expiry: Callable[[], None]) -> None:
        self._no_answer = asyncio.get_running_loop().call_later(seconds, on_expiry)

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
        self._update(call_status="ended", is_ring=False)
        self._teardown()
        if kind == "failed":
            self.emit("failed", {"call_id": self.call_id, "cause": cause, "code": code})
        else:
            self.emit("ended", {"call_id": self.call_id, "cause": cause})
        self.phone._session_finished(self, cause)

    def _teardown(self) -> None:
        self._cancel_no_answer()
        if self._report_task is not None:
            self._report_task.cancel()
            self._report_task = None
        if self._reinvite_waiter is not None and not self._reinvite_waiter.done():
            self._reinvite_waiter.cancel()
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        asyncio.get_running_loop().create_task(self.media.close())

    def __repr__(self) -> str:
        s = self._status
        return f"<Session {s.call_id} {s.communication_type} {s.number} {s.call_status}>"


def _ms_now() -> int:
    return int(time.time() * 1000)
