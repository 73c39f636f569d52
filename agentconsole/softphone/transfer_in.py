"""The phone's side of transfers: REFERs we are asked to follow, INVITEs that replace.

* :class:`TransferRequest` is what a Session emits as ``transfer_request`` when the
  peer REFERs us (RFC 3515). Nothing happens before ``accept()`` (or an auto-accept
  for a source listed in ``calls.trusted_refer_sources``): RFC 3515 §5 warns that a
  REFER asks us to place a call in our user's name. On accept we answer 202, place the
  new call with :meth:`Phone.call` (carrying ``Referred-By`` and, for an attended
  transfer, ``Replaces`` — no other header embedded in Refer-To is copied), report its
  progress in NOTIFYs on the original dialog (100 → 180 → 200 or the failure) and end
  the original call (cause "Transferred") once the new one is answered. On failure the
  original call stays and is un-held if placing the new call held it.
* :class:`Replacements` gives an INVITE with Replaces (RFC 3891) that the core
  matched to one of our calls its meaning: it is answered automatically (it is exempt
  from ``max_calls``: it takes the place of a call) and the replaced call is hung up
  once the new one is confirmed. The core already refused the INVITEs that name no
  dialog (481), an ended one (603) or a confirmed one with ``early-only`` (486).
  Knowing the Call-ID and both tags of a live dialog is the authorization RFC 3891 §6
  relies on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import AgentConsoleError, PhoneError
from ..sip import events as ev
from ..trust import source_keys, trust_entries, uri_keys

if TYPE_CHECKING:
    from .calls import CallList
    from .host import CallHost
    from .session import Session

logger = logging.getLogger(__name__)

#: How long the replaced call waits for the replacing one to be confirmed.
REPLACE_CONFIRM_S = 32.0
_TASKS: set[asyncio.Task[None]] = set()  # keep background tasks referenced


class TransferRequest:
    """The peer asks us (the transferee) to call ``target`` (RFC 3515).

    ``replaces`` is set for an attended transfer; ``trusted`` when the source is in
    ``calls.trusted_refer_sources`` (then it is accepted without asking). Call
    :meth:`accept` or :meth:`reject` once.
    """

    def __init__(self, session: Session, event: ev.ReferReceived, *, trusted: bool) -> None:
        self.session = session
        self.target = event.target
        self.refer_to = event.refer_to
        self.replaces = event.replaces
        self.referred_by = event.referred_by
        self.source = event.source
        self.trusted = trusted
        self.new_session: Session | None = None
        self._decided = False
        self._holding: asyncio.Task[None] | None = None

    @property
    def call_id(self) -> str:
        return self.session.call_id

    def reject(self, status: int = 603) -> bool:
        """Decline (603 Decline; 403 Forbidden also fits). False when already decided."""
        if self._decided:
            return False
        self._decided = True
        leg = self.session.leg
        return bool(self.session.host.signal(
            lambda ua, now: ua.reject_refer(leg, status, now)))

    async def accept(self) -> Session:
        """202, then place the call the REFER asks for; returns the new Session."""
        if self._decided:
            raise AgentConsoleError("this transfer request was already answered",
                                    title="Transfer", code=PhoneError.UNKNOWN_ERROR)
        self._decided = True
        original = self.session
        host = original.host
        leg = original.leg
        if not host.signal(lambda ua, now: ua.accept_refer(leg, now)):
            raise AgentConsoleError("the transfer request is no longer pending",
                                    title="Transfer", code=PhoneError.UNKNOWN_ERROR)
        was_held = original.status.is_hold
        self._holding = _hold_in_background(original)
        if self._holding is not None:
            await asyncio.sleep(0)  # the hold starts (hold_pending): auto-hold leaves it be
        headers: list[tuple[str, str]] = []
        if self.referred_by:
            headers.append(("Referred-By", self.referred_by))
        if self.replaces:
            headers.append(("Replaces", self.replaces))
        try:
            new = await host.call(self.target, extra_headers=headers)
        except AgentConsoleError as exc:
            self._notify(503, "Service Unavailable")
            await self._resume(was_held)
            raise AgentConsoleError(f"cannot place the transferred call: {exc}",
                                    title="Transfer", code=exc.code) from exc
        self.new_session = new
        self._follow(new, was_held)
        return new

    def _notify(self, status: int, reason: str) -> None:
        leg = self.session.leg
        if not self.session.is_ended:
            self.session.host.signal(
                lambda ua, now: ua.notify_refer_progress(leg, status, reason, now))

    async def _resume(self, was_held: bool) -> None:
        original = self.session
        if self._holding is not None:  # the transfer failed: let the hold settle first
            await asyncio.wait([self._holding])
        if not was_held and not original.is_ended and original.status.is_hold:
            try:
                await original.unhold()
            except AgentConsoleError as exc:
                logger.warning("could not resume %s after a failed transfer: %s",
                               original.call_id, exc)

    def _follow(self, new: Session, was_held: bool) -> None:
        """Mirror the new call's progress into NOTIFYs on the original dialog."""
        ringing = [False]

        def on_progress(status: int) -> None:  # a ProgressStatus
            if status in (180, 183) and not ringing[0]:
                ringing[0] = True
                self._notify(180, "Ringing")

        def on_accepted(_: object) -> None:
            self._notify(200, "OK")
            self.session.end_transferred()

        def on_failed(info: dict[str, Any]) -> None:
            code = info.get("code")
            status = code if isinstance(code, int) and 300 <= code <= 699 else 487
            self._notify(status, str(info.get("cause") or "Request Terminated"))
            task = asyncio.get_running_loop().create_task(self._resume(was_held))
            _TASKS.add(task)
            task.add_done_callback(_TASKS.discard)

        new.on("progress", on_progress)
        new.once("accepted", on_accepted)
        new.once("failed", on_failed)


def _hold_in_background(session: Session) -> asyncio.Task[None] | None:
    """Hold the original call while the target is dialled (what auto-hold would do),
    without waiting for the hold's answer: a transferor busy with its REFER may leave
    our re-INVITE unanswered until it times out, and the transfer must not wait for
    that. None when there is nothing to do (held, a hold on its way, policy off)."""
    if session.is_ended or session.status.is_hold or session.hold_pending \
            or not session.host.config.calls.auto_hold:
        return None
    loop = asyncio.get_running_loop()
    hold = loop.create_task(session.hold())  # first: it marks hold_pending when it starts
    watcher = loop.create_task(_hold_quietly(session, hold))
    _TASKS.add(watcher)
    watcher.add_done_callback(_TASKS.discard)
    return watcher


async def _hold_quietly(session: Session, task: asyncio.Task[Session]) -> None:
    """See the hold ``task`` through, tolerating that the transferor hangs up meanwhile
    (``hangup_after: immediately``): the BYE may end the session in the middle of the
    re-INVITE, which then either cancels its waiter or is never answered. Its own task,
    so that neither can leak into the caller's."""
    while not task.done() and not session.is_ended:
        await asyncio.wait([task], timeout=0.1)
    if not task.done():  # ended under us: its re-INVITE result will never be read
        task.cancel()
        await asyncio.wait([task])
    if task.cancelled() or task.exception() is not None:
        logger.info("could not hold %s before the transfer (ended: %s)", session.call_id,
                    session.is_ended)


def is_trusted_source(event: ev.ReferReceived, trusted: Any) -> bool:
    """Whether a REFER comes from a configured trusted source: an entry matches the
    packet's source address (``host`` or ``host:port``) or the dialog's remote URI
    (``host`` or ``sip:user@host``). Referred-By is never used: the referrer writes it."""
    entries = trust_entries(trusted)
    if not entries:
        return False
    seen = source_keys(event.source)
    dialog = event.leg.dialog
    if dialog is not None:
        seen |= uri_keys(dialog.remote_uri)
    return bool(entries & seen)


class Replacements:
    """INVITEs with Replaces (RFC 3891) for a phone (see the module doc).

    ``take`` rings a new inbound call as the phone does, exempt from ``max_calls``, and
    returns its Session (None when it was refused, e.g. for its media).
    """

    def __init__(self, host: CallHost, calls: CallList,
                 take: Callable[[ev.CallIncoming], Session | None],
                 emit: Callable[..., object]) -> None:
        self._host = host
        self._calls = calls
        self._take = take
        self._emit = emit

    def handle(self, event: ev.CallIncoming) -> bool:
        """Take ``event`` if it replaces one of our calls; False when it replaces none."""
        leg = event.leg
        if leg.replaces is None:
            return False
        old = self._calls.by_leg(leg.replaces.id)
        if old is None or old.is_ended:
            self._host.signal(lambda ua, now: ua.reject(leg, 481, now))
            return True
        new = self._take(event)
        if new is not None:
            new.replaced_call_id = old.call_id
            task = asyncio.get_running_loop().create_task(self._replace(new, old))
            _TASKS.add(task)
            task.add_done_callback(_TASKS.discard)
        return True

    async def _replace(self, new: Session, old: Session) -> None:
        """Answer the replacing call, then hang up the one it replaces (RFC 3891 §3)."""
        loop = asyncio.get_running_loop()
        confirmed: asyncio.Future[None] = loop.create_future()

        def on_confirmed(*_: object) -> None:
            if not confirmed.done():
                confirmed.set_result(None)

        new.once("confirmed", on_confirmed)
        try:
            await new.answer()
            await asyncio.wait_for(confirmed, REPLACE_CONFIRM_S)
        except (AgentConsoleError, TimeoutError) as exc:
            logger.warning("replacing call %s did not come up: %s", new.call_id, exc)
            return
        if not new.is_ended:
            old.hangup()
            self._emit("replaced", {"call_id": new.call_id, "replaced_call_id": old.call_id})


__all__ = ["Replacements", "TransferRequest", "is_trusted_source"]
