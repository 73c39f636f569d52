"""Transfers of a Session: blind and attended (RFC 3515, RFC 3891, RFC 5589).

Transferor side:

* :meth:`blind_transfer` sends REFER (no Replaces) in this call. Progress comes as
  ``transfer_progress`` events ``{"call_id", "state", "status"}`` with ``state`` one
  of trying (REFER accepted, NOTIFY 100), ringing (NOTIFY 180/183), succeeded (NOTIFY
  2xx) or failed (REFER refused, NOTIFY ≥ 300, no NOTIFY in time). ``hangup_after``
  (default ``calls.transfer_hangup_after``): ``"notify"`` ends our call when the
  transfer succeeded and keeps it (un-held if we held it) when it failed;
  ``"immediately"`` ends it as soon as the REFER is accepted (the seed sends its BYE
  right after the REFER; waiting for the 202 costs one round trip and keeps a BYE from
  overtaking the REFER); ``None`` leaves ending the call to the peer or the PBX.
  A transferred call ends with cause **"Transferred"** (not "Terminated"), so history
  and wrap-up can tell a hand-over from a hang-up.
* :meth:`attended_transfer`, on a consult leg (``status.transfer_parent``), follows
  RFC 5589 §7: the REFER goes on the **parent** dialog to the transferee, with
  ``Refer-To: <target?Replaces=consult dialog>``; on success both our legs end. The
  seed does the reverse (REFER on the consult leg, Replaces naming the parent), which
  Asterisk also accepts; ``via="consult"`` sends that variant, with the Refer-To
  pointing at the transferee so it also works between plain UAs. Completing while
  the target still rings sends Replaces naming the early consult dialog: a PBX that
  owns that leg can bridge it, but a plain UA target (our own core included) must
  refuse an INVITE replacing an early dialog it did not initiate (481, RFC 3891 §3),
  so the transfer fails and the calls stay; ``ringing="blind"`` instead cancels the
  consult and blind-transfers the parent to the same target.
* :meth:`cancel_transfer` ends the consult leg and resumes the parent; :meth:`swap`
  holds whichever of the pair is active and resumes the other.

Transferee side: a REFER becomes ``transfer_request`` with a
:class:`~agentconsole.softphone.transfer_in.TransferRequest` (``accept()``/``reject()``);
it is accepted without asking only when it comes from ``calls.trusted_refer_sources``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AgentConsoleError, PhoneError
from ..sip import events as ev
from ..sip.errors import LocalProtocolError
from ..sip.refer import Replaces
from .host import request_wait_s
from .transfer_in import TransferRequest, is_trusted_source

if TYPE_CHECKING:
    from .session import Session

logger = logging.getLogger(__name__)

HANGUP_POLICIES = ("notify", "immediately", None)
#: ``hangup_after`` not given: ``calls.transfer_hangup_after`` decides.
DEFAULT_POLICY: Any = object()


@dataclass
class OutgoingTransfer:
    """A transfer this call is running as the transferor."""

    kind: str  # "blind" | "attended"
    policy: str | None
    accepted: asyncio.Future[tuple[bool, int]]
    consult: Session | None = None
    held_by_us: bool = False
    state: str = ""


class CallTransfer:
    """REFER-based blind and attended transfer of one call: a part of its Session.

    It owns the transfer this call runs as the transferor (one at a time) and turns
    the REFER events of the call's leg into ``transfer_progress`` / ``transfer_request``
    events of the Session. It uses the Session's public API (hold, unhold, hangup,
    end_transferred, emit) and, for a consult pair, the other call's transfer part.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.running: OutgoingTransfer | None = None

    # ----- transferor ------------------------------------------------------------------------
    async def blind(self, target: str, *, hangup_after: str | None = DEFAULT_POLICY,
                    hold: bool = False) -> bool:
        """REFER this call to ``target``; True once the peer accepted the REFER.

        Raises AgentConsoleError when the call cannot be transferred or the REFER is
        refused (the call then stays up). ``hold=True`` holds the call first (RFC 5589
        §6.2 "transfer with consultation hold" style); it is resumed on failure.
        """
        session = self.session
        self._check_transferable()
        policy = self._policy(hangup_after)
        uri = self._target_uri(target)
        held = False
        if hold and not session.status.is_hold:
            await session.hold()
            held = True
        xfer = OutgoingTransfer("blind", policy, _future(), held_by_us=held)
        return await self.run_refer(xfer, uri, None)

    async def attended(self, *, target: str | None = None, via: str = "parent",
                       ringing: str = "replaces",
                       hangup_after: str | None = DEFAULT_POLICY) -> bool:
        """Complete an attended transfer from this consult leg (see the module doc)."""
        consult = self.session
        parent = self._consult_parent()
        if parent.transfer.running is not None:
            raise AgentConsoleError("a transfer of this call is already running",
                                    title="Transfer", code=PhoneError.UNKNOWN_ERROR)
        policy = self._policy(hangup_after)
        dialog = consult.leg.dialog
        consult_uri = target or str(consult.leg.invite.uri)
        if not consult.established and (ringing == "blind" or dialog is None):
            if ringing != "blind":
                raise AgentConsoleError("the consulted party has not answered or rung yet",
                                        title="Transfer",
                                        code=PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED)
            consult.hangup()
            return await parent.transfer.blind(consult_uri, hangup_after=policy)
        assert dialog is not None
        if via == "consult":  # the seed's direction: REFER to the target, replace the parent
            pdialog = parent.leg.dialog
            if pdialog is None or not consult.established:
                raise AgentConsoleError("both calls must be connected for via='consult'",
                                        title="Transfer",
                                        code=PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED)
            replaces = Replaces.for_dialog(pdialog.call_id, pdialog.local_tag,
                                           pdialog.remote_tag)
            xfer = OutgoingTransfer("attended", policy, _future(), consult=parent)
            return await self.run_refer(xfer, target or pdialog.remote_target, replaces)
        replaces = Replaces.for_dialog(dialog.call_id, dialog.local_tag, dialog.remote_tag)
        xfer = OutgoingTransfer("attended", policy, _future(), consult=consult)
        return await parent.transfer.run_refer(xfer, consult_uri, replaces)

    async def cancel(self) -> None:
        """End this consult leg and resume its parent."""
        parent = self._consult_parent()
        self.session.hangup()
        if not parent.is_ended and parent.status.is_hold:
            await parent.unhold()

    async def swap(self) -> None:
        """Between a consult leg and its parent: hold the active one, resume the other."""
        session = self.session
        other = self._swap_partner()
        active, held = (other, session) if session.status.is_hold else (session, other)
        if not active.status.is_hold:
            await active.hold()
        await held.unhold()

    # ----- helpers -------------------------------------------------------------------------
    def _check_transferable(self) -> None:
        session = self.session
        if session.is_ended or not session.established:
            raise AgentConsoleError.from_code(PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED,
                                              "only a connected call can be transferred")
        if self.running is not None:
            raise AgentConsoleError("a transfer of this call is already running",
                                    title="Transfer", code=PhoneError.UNKNOWN_ERROR)

    def _policy(self, value: str | None) -> str | None:
        if value is DEFAULT_POLICY:
            value = self.session.host.config.calls.transfer_hangup_after
        if value not in HANGUP_POLICIES:
            raise AgentConsoleError(f"bad hangup_after {value!r}", title="Transfer",
                                    code=PhoneError.UNKNOWN_ERROR)
        return value

    def _target_uri(self, target: str) -> str:
        try:
            return self.session.host.signal(lambda ua, now: ua.calls.target_uri(target))
        except LocalProtocolError as exc:
            raise AgentConsoleError.from_code(PhoneError.INVALID_NUMBER, str(exc)) from exc

    def _consult_parent(self) -> Session:
        info = self.session.status.transfer_parent
        if info is None:
            raise AgentConsoleError("this call is not a consultation call", title="Transfer",
                                    code=PhoneError.NOT_FOUND_CALL_ID)
        parent = self.session.host.sessions.get(info.call_id)
        if parent is None or parent.is_ended:
            raise AgentConsoleError.from_code(PhoneError.ATTENDED_PARENT_NOT_FOUND)
        return parent

    def _swap_partner(self) -> Session:
        session = self.session
        if session.status.transfer_parent is not None:
            return self._consult_parent()
        for other in session.host.sessions.values():
            info = other.status.transfer_parent
            if info is not None and info.call_id == session.call_id and not other.is_ended:
                return other
        raise AgentConsoleError("there is no consultation call to swap with",
                                title="Swap", code=PhoneError.NOT_FOUND_CALL_ID)

    async def run_refer(self, xfer: OutgoingTransfer, uri: str,
                        replaces: Replaces | None) -> bool:
        """Send the REFER in this call and wait for its final response."""
        self._check_transferable()
        self.running = xfer
        leg = self.session.leg
        self.session.host.signal(lambda ua, now: ua.refer(leg, uri, now, replaces=replaces))
        try:
            ok, status = await asyncio.wait_for(asyncio.shield(xfer.accepted),
                                                request_wait_s(self.session.host.config))
        except TimeoutError:
            ok, status = False, 408
            self._failed(xfer, 408)
        if not ok:
            raise AgentConsoleError(f"the transfer was refused ({status}); the call is still up",
                                    title="Transfer failed", code=PhoneError.UNKNOWN_ERROR)
        return True

    def _progress(self, xfer: OutgoingTransfer, state: str, status: int | None) -> None:
        if state == xfer.state:
            return
        xfer.state = state
        session = self.session
        payload = {"call_id": session.call_id, "state": state, "status": status}
        session.emit("transfer_progress", payload)
        if xfer.consult is not None and xfer.consult is not session:
            xfer.consult.emit("transfer_progress", payload)

    def _failed(self, xfer: OutgoingTransfer, status: int) -> None:
        if self.running is xfer:
            self.running = None
        if not xfer.accepted.done():
            xfer.accepted.set_result((False, status))
        self._progress(xfer, "failed", status)
        session = self.session
        if xfer.held_by_us and not session.is_ended:
            _background(session.unhold(), f"resuming {session.call_id} after a failed transfer")

    def _succeeded(self, xfer: OutgoingTransfer, status: int) -> None:
        if self.running is xfer:
            self.running = None
        self._progress(xfer, "succeeded", status)
        if xfer.policy == "notify":
            self._end_legs(xfer)

    def _end_legs(self, xfer: OutgoingTransfer) -> None:
        """End our legs as transferred, consult legs before their parent: ending a parent
        hangs up its consults ("Terminated"), which would hide that they were transferred."""
        legs = [self.session] if xfer.consult is None else [self.session, xfer.consult]
        legs.sort(key=lambda leg: leg.status.transfer_parent is None)
        for leg in legs:
            leg.end_transferred()

    # ----- events from the core ----------------------------------------------------------------
    def on_refer_event(self, event: ev.ReferAccepted | ev.ReferFailed | ev.TransferProgress
                       ) -> None:
        """The outcome of our REFER (202 or a failure) or a NOTIFY of its progress."""
        xfer = self.running
        if xfer is None:
            return
        if isinstance(event, ev.ReferFailed):
            self._failed(xfer, event.status)
        elif isinstance(event, ev.ReferAccepted):
            if not xfer.accepted.done():
                xfer.accepted.set_result((True, event.status))
            if xfer.state in ("succeeded", "failed"):
                return  # the final NOTIFY overtook the 202
            self._progress(xfer, "trying", event.status)
            if xfer.policy == "immediately":
                self.running = None
                self._end_legs(xfer)
            elif not event.subscribed:  # RFC 4488: no news will come; take it as done
                self._succeeded(xfer, event.status)
        else:
            self._on_notify_progress(xfer, event)

    def _on_notify_progress(self, xfer: OutgoingTransfer, event: ev.TransferProgress) -> None:
        status = event.status
        if not event.final:
            self._progress(xfer, "ringing" if status in (180, 183) else "trying", status)
        elif 200 <= status < 300:
            if not xfer.accepted.done():
                xfer.accepted.set_result((True, 202))
            self._succeeded(xfer, status)
        else:
            if not xfer.accepted.done():  # a failure NOTIFY before the 202: still accepted
                xfer.accepted.set_result((True, 202))
            self._failed(xfer, status)

    def on_refer_received(self, event: ev.ReferReceived) -> None:
        """The peer asks us to transfer (we are the transferee): ``transfer_request``."""
        session = self.session
        trusted = is_trusted_source(event, session.host.config.calls.trusted_refer_sources)
        request = TransferRequest(session, event, trusted=trusted)
        session.emit("transfer_request", request)
        if trusted:
            _background(request.accept(), f"auto-accepting a transfer of {session.call_id}")


def _future() -> asyncio.Future[tuple[bool, int]]:
    return asyncio.get_running_loop().create_future()


def _background(coro: Any, what: str) -> None:
    """Run ``coro`` on its own: its failure is logged and never ends the call (the
    Session's own task guard would hang up)."""

    async def run() -> None:
        try:
            await coro
        except AgentConsoleError as exc:
            logger.warning("%s failed: %s", what, exc)
        except Exception:  # noqa: BLE001 - a transfer side task must not kill the loop
            logger.exception("%s failed", what)

    task = asyncio.get_running_loop().create_task(run())
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


_TASKS: set[asyncio.Task[None]] = set()
