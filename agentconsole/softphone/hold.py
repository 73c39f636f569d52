"""Offer/answer inside a call: our hold and resume, the peer's re-INVITEs and UPDATEs.

:class:`Renegotiation` is a part of a Session. Hold is a re-INVITE with ``a=sendonly``
(``inactive`` when the peer holds us too), resume one with ``sendrecv`` (``recvonly``
while the peer still holds us), RFC 3264 §8.4. A refused request leaves the call up
and raises (the SDK's JsSIP hangs up instead, sdk-parity §3.11). The peer's re-offers
are answered by the call's media part (:meth:`.call_media.CallMedia.answer_reoffer`,
which may move the call to another media engine); one that says the peer holds us sets
``status.remote_hold``; one the media cannot serve is answered 488 with a Warning and
changes nothing (RFC 3264 §8). An offerless re-INVITE gets our offer of the media we
run, keeping our hold; its answer comes in the ACK. One offer of ours at a time (hold,
resume, :meth:`Renegotiation.exchange`): a second one while the first is on its way
(:attr:`Renegotiation.pending`) would replace the offer the first still waits an answer
for, so it is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ..errors import AgentConsoleError, PhoneError
from ..media.sdp import MediaNegotiationError, audio_direction, is_hold_direction
from ..sip import events as ev
from .host import request_wait_s

if TYPE_CHECKING:
    from ..media.interface import MediaEngine
    from .session import Session


class Renegotiation:
    """Re-INVITEs of one call (see the module doc); one of ours at a time."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._waiter: asyncio.Future[ev.ReinviteResult] | None = None
        self._pending = False

    @property
    def engine(self) -> MediaEngine:
        return self.session.media

    @property
    def pending(self) -> bool:
        """A hold or resume of ours is on its way (its re-INVITE not answered yet)."""
        return self._pending

    async def set_hold(self, hold: bool) -> None:
        """Hold (True) or resume (False) the call; nothing when it is so already.
        Refused while another hold or resume is on its way (see the module doc)."""
        async with self._one_at_a_time("Hold"):
            await self._change_hold(hold)

    async def exchange(self, offer: str) -> str:
        """Send our ``offer`` in a re-INVITE and return the answer (a new media engine's
        offer moving the call to another profile). Raises :class:`AgentConsoleError`
        when refused: the call goes on as it was (RFC 3261 §14.1)."""
        async with self._one_at_a_time("Media"):
            result = await self._reinvite(offer.encode())
            if not result.ok or not result.sdp:
                raise AgentConsoleError(
                    f"the media change was refused ({result.status}); the call is still up",
                    title="Media change failed", code=PhoneError.UNKNOWN_ERROR)
            return result.sdp.decode("utf-8", "replace")

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, title: str) -> AsyncIterator[None]:
        if self._pending:
            raise AgentConsoleError("a hold, resume or media change of this call is "
                                    "already on its way", title=title,
                                    code=PhoneError.UNKNOWN_ERROR)
        self._pending = True
        try:
            yield
        finally:
            self._pending = False

    async def _change_hold(self, hold: bool) -> None:
        session, engine = self.session, self.engine
        if session.is_ended or not session.established:
            raise AgentConsoleError("the call is not connected", title="Hold",
                                    code=PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED)
        status = session.status
        if status.is_hold == hold:
            return
        if hold:
            direction = "inactive" if status.remote_hold else "sendonly"
        else:
            direction = "recvonly" if status.remote_hold else "sendrecv"
        offer = await engine.create_reoffer(direction)
        result = await self._reinvite(offer.encode())
        if not result.ok or not result.sdp:
            await engine.rollback()
            raise AgentConsoleError(
                f"the {'hold' if hold else 'resume'} request was refused "
                f"({result.status}); the call is still up", title="Hold failed",
                code=PhoneError.UNKNOWN_ERROR)
        answer = result.sdp.decode("utf-8", "replace")
        await engine.accept_answer(answer)
        held = audio_direction(answer) in ("recvonly", "inactive")
        engine.set_sending(not held)
        session.update_status(is_hold=held)

    async def _reinvite(self, sdp: bytes) -> ev.ReinviteResult:
        """Send a re-INVITE and wait for its outcome; a call that ends meanwhile is an
        :class:`AgentConsoleError`, never a CancelledError or a long wait."""
        session = self.session
        if session.is_ended:
            raise AgentConsoleError("the call has ended", title="Call ended",
                                    code=PhoneError.NOT_FOUND_CALL_ID)
        waiter: asyncio.Future[ev.ReinviteResult] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        leg = session.leg
        session.host.signal(lambda ua, now: ua.reinvite(leg, sdp, now))
        wait_s = request_wait_s(session.host.config)  # giving up earlier would leave the
        try:  # media engine with an offer whose answer may still come
            return await asyncio.wait_for(asyncio.shield(waiter), wait_s)
        except (asyncio.CancelledError, TimeoutError):
            if waiter.cancelled() or session.is_ended:  # the call ended under us
                raise AgentConsoleError("the call ended during the request",
                                        title="Call ended",
                                        code=PhoneError.NOT_FOUND_CALL_ID) from None
            raise
        finally:
            self._waiter = None

    def on_result(self, event: ev.ReinviteResult) -> bool:
        """Hand the outcome to our waiting re-INVITE (even if the call just ended);
        False when nobody waits for it."""
        if self._waiter is None or self._waiter.done():
            return False
        self._waiter.set_result(event)
        return True

    async def on_offer(self, event: ev.ReinviteReceived) -> None:
        """Answer the peer's re-INVITE / UPDATE, then ``reinvite`` (the SDK's event)."""
        session = self.session
        leg = session.leg
        try:
            if event.sdp:
                text = event.sdp.decode("utf-8", "replace")
                answer = await session.call_media.answer_reoffer(text)
                session.update_status(remote_hold=is_hold_direction(audio_direction(text)))
            else:  # an offerless re-INVITE: we offer, keeping our own hold
                answer = await self.engine.create_reoffer(
                    "sendonly" if session.status.is_hold else "sendrecv")
        except MediaNegotiationError as exc:
            code, warning = exc.status, exc.header
            session.host.signal(lambda ua, now: ua.answer_reinvite(leg, None, now, code,
                                                                   warning=warning))
            return
        session.host.signal(lambda ua, now: ua.answer_reinvite(leg, answer.encode(), now))
        session.emit("reinvite", session)

    def cancel(self) -> None:
        """The call ended: a re-INVITE still waiting fails at once."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()
