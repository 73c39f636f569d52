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
from .transfer_in import TransferRequest, end_transferred, is_trusted_source

if TYPE_CHECKING:
    from ..sip.invite import CallLeg
    from .phone import Phone
    from .session import Session
    from .status import CallStatus

logger = logging.getLogger(__name__)

HANGUP_POLICIES = ("notify", "immediately", None)
_DEFAULT: Any = object()
#: Longer than the REFER's Timer F (64·T1): the core always reports by then.
REFER_WAIT_S = 40.0


@dataclass
class OutgoingTransfer:
    """A transfer this call is running as the transferor."""

    kind: str  # "blind" | "attended"
    policy: str | None
    accepted: asyncio.Future[tuple[bool, int]]
    consult: Session | None = None
    held_by_us: bool = False
    state: str = ""


class SessionTransferMixin:
    """REFER-based blind and attended transfer for :class:`.session.Session`."""

    _transfer_out: OutgoingTransfer | None = None
    #: Set on a call that replaced another (RFC 3891): that call's id.
    replaced_call_id: str | None = None

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
        def hangup(self) -> bool: ...
        async def hold(self) -> Session: ...
        async def unhold(self) -> Session: ...
        def _spawn(self, coro: Any) -> None: ...

    # ----- transferor ------------------------------------------------------------------------
    async def blind_transfer(self, target: str, *, hangup_after: str | None = _DEFAULT,
                             hold: bool = False) -> bool:
        """REFER this call to ``target``; True once the peer accepted the REFER.

        Raises AgentConsoleError when the call cannot be transferred or the REFER is
        refused (the call then stays up). ``hold=True`` holds the call first (RFC 5589
        §6.2 "transfer with consultation hold" style); it is resumed on failure.
        """
        self._check_transferable()
        policy = self._policy(hangup_after)
        uri = self._target_uri(target)
        held = False
        if hold and not self.status.is_hold:
            await self.hold()
            held = True
        xfer = OutgoingTransfer("blind", policy, self._future(), held_by_us=held)
        return await self._run_refer(xfer, uri, None)

    async def attended_transfer(self, *, target: str | None = None, via: str = "parent",
                                ringing: str = "replaces",
                                hangup_after: str | None = _DEFAULT) -> bool:
        """Complete an attended transfer from this consult leg (see the module doc)."""
        parent = self._consult_parent()
        if parent._transfer_out is not None:
            raise AgentConsoleError("a transfer of this call is already running",
                                    title="Transfer", code=PhoneError.UNKNOWN_ERROR)
        policy = self._policy(hangup_after)
        dialog = self.leg.dialog
        consult_uri = target or str(self.leg.invite.uri)
        if not self.established and (ringing == "blind" or dialog is None):
            if ringing != "blind":
                raise AgentConsoleError("the consulted party has not answered or rung yet",
                                        title="Transfer",
                                        code=PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED)
            self.hangup()
            return await parent.blind_transfer(consult_uri, hangup_after=policy)
        assert dialog is not None
        if via == "consult":  # the seed's direction: REFER to the target, replace the parent
            pdialog = parent.leg.dialog
            if pdialog is None or not self.established:
                raise AgentConsoleError("both calls must be connected for via='consult'",
                                        title="Transfer",
                                        code=PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED)
            replaces = Replaces.for_dialog(pdialog.call_id, pdialog.local_tag,
                                           pdialog.remote_tag)
            xfer = OutgoingTransfer("attended", policy, self._future(), consult=parent)
            return await self._run_refer(xfer, target or pdialog.remote_target, replaces)
        replaces = Replaces.for_dialog(dialog.call_id, dialog.local_tag, dialog.remote_tag)
        xfer = OutgoingTransfer("attended", policy, self._future(),
                                consult=self)  # type: ignore[arg-type]
        return await parent._run_refer(xfer, consult_uri, replaces)

    async def cancel_transfer(self) -> None:
        """End this consult leg and resume its parent."""
        parent = self._consult_parent()
        self.hangup()
        if not parent.is_ended and parent.status.is_hold:
            await parent.unhold()

    async def swap(self) -> None:
        """Between a consult leg and its parent: hold the active one, resume the other."""
        other = self._swap_partner()
        active, held = (other, self) if self.status.is_hold else (self, other)
        if not active.status.is_hold:
            await active.hold()
        await held.unhold()

    # ----- helpers -------------------------------------------------------------------------
    def _check_transferable(self) -> None:
        if self.is_ended or not self.established:
            raise AgentConsoleError.from_code(PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED,
                                              "only a connected call can be transferred")
        if self._transfer_out is not None:
            raise AgentConsoleError("a transfer of this call is already running",
                                    title="Transfer", code=PhoneError.UNKNOWN_ERROR)

    def _policy(self, value: str | None) -> str | None:
        if value is _DEFAULT:
            value = getattr(self.phone.config.calls, "transfer_hangup_after", "notify")
        if value not in HANGUP_POLICIES:
            raise AgentConsoleError(f"bad hangup_after {value!r}", title="Transfer",
                                    code=PhoneError.UNKNOWN_ERROR)
        return value

    def _target_uri(self, target: str) -> str:
        try:
            return str(self.phone._ua_do(lambda ua, now: ua.calls.target_uri(target)))
        except LocalProtocolError as exc:
            raise AgentConsoleError.from_code(PhoneError.INVALID_NUMBER, str(exc)) from exc

    def _future(self) -> asyncio.Future[tuple[bool, int]]:
        return asyncio.get_running_loop().create_future()

    def _consult_parent(self) -> Session:
        info = self.status.transfer_parent
        if info is None:
            raise AgentConsoleError("this call is not a consultation call", title="Transfer",
                                    code=PhoneError.NOT_FOUND_CALL_ID)
        parent = self.phone.sessions.get(info.call_id)
        if parent is None or parent.is_ended:
            raise AgentConsoleError.from_code(PhoneError.ATTENDED_PARENT_NOT_FOUND)
        return parent

    def _swap_partner(self) -> Session:
        if self.status.transfer_parent is not None:
            return self._consult_parent()
        for other in self.phone.sessions.values():
            info = other.status.transfer_parent
            if info is not None and info.call_id == self.call_id and not other.is_ended:
                return other
        raise AgentConsoleError("there is no consultation call to swap with",
                                title="Swap", code=PhoneError.NOT_FOUND_CALL_ID)

    async def _run_refer(self, xfer: OutgoingTransfer, uri: str,
                         replaces: Replaces | None) -> bool:
        """Send the REFER in this call and wait for its final response."""
        self._check_transferable()
        self._transfer_out = xfer
        leg = self.leg
        self.phone._ua_do(lambda ua, now: ua.refer(leg, uri, now, replaces=replaces))
        try:
            ok, status = await asyncio.wait_for(asyncio.shield(xfer.accepted), REFER_WAIT_S)
        except TimeoutError:
            ok, status = False, 408
            self._transfer_failed(xfer, 408)
        if not ok:
            raise AgentConsoleError(f"the transfer was refused ({status}); the call is still up",
                                    title="Transfer failed", code=PhoneError.UNKNOWN_ERROR)
        return True

    def _progress(self, xfer: OutgoingTransfer, state: str, status: int | None) -> None:
        if state == xfer.state:
            return
        xfer.state = state
        payload = {"call_id": self.call_id, "state": state, "status": status}
        self.emit("transfer_progress", payload)
        if xfer.consult is not None and xfer.consult is not self:
            xfer.consult.emit("transfer_progress", payload)

    def _transfer_failed(self, xfer: OutgoingTransfer, status: int) -> None:
        if self._transfer_out is xfer:
            self._transfer_out = None
        if not xfer.accepted.done():
            xfer.accepted.set_result((False, status))
        self._progress(xfer, "failed", status)
        if xfer.held_by_us and not self.is_ended:
            _background(self.unhold(), f"resuming {self.call_id} after a failed transfer")

    def _transfer_succeeded(self, xfer: OutgoingTransfer, status: int) -> None:
        if self._transfer_out is xfer:
            self._transfer_out = None
        self._progress(xfer, "succeeded", status)
        if xfer.policy == "notify":
            self._end_legs(xfer)

    def _end_legs(self, xfer: OutgoingTransfer) -> None:
        """End our legs as transferred, consult legs before their parent: ending a parent
        hangs up its consults ("Terminated"), which would hide that they were transferred."""
        legs = [self] if xfer.consult is None else [self, xfer.consult]
        legs.sort(key=lambda leg: leg.status.transfer_parent is None)
        for leg in legs:
            end_transferred(leg)  # type: ignore[arg-type]

    # ----- events from the core ----------------------------------------------------------------
    def _on_extra_event(self, event: Any) -> bool:
        """Handle a call event the Session core does not; True when handled."""
        if isinstance(event, ev.ReferReceived):
            self._on_refer_received(event)
            return True
        xfer = self._transfer_out
        if isinstance(event, ev.ReferAccepted | ev.ReferFailed | ev.TransferProgress):
            if xfer is not None:
                self._on_transfer_event(xfer, event)
            return True
        parent = super()
        handler = getattr(parent, "_on_extra_event", None)
        return bool(handler(event)) if handler is not None else False

    def _on_transfer_event(self, xfer: OutgoingTransfer, event: Any) -> None:
        if isinstance(event, ev.ReferFailed):
            self._transfer_failed(xfer, event.status)
        elif isinstance(event, ev.ReferAccepted):
            if not xfer.accepted.done():
                xfer.accepted.set_result((True, event.status))
            if xfer.state in ("succeeded", "failed"):
                return  # the final NOTIFY overtook the 202
            self._progress(xfer, "trying", event.status)
            if xfer.policy == "immediately":
                self._transfer_out = None
                self._end_legs(xfer)
            elif not event.subscribed:  # RFC 4488: no news will come; take it as done
                self._transfer_succeeded(xfer, event.status)
        elif isinstance(event, ev.TransferProgress):
            self._on_notify_progress(xfer, event)

    def _on_notify_progress(self, xfer: OutgoingTransfer, event: ev.TransferProgress) -> None:
        status = event.status
        if not event.final:
            self._progress(xfer, "ringing" if status in (180, 183) else "trying", status)
        elif 200 <= status < 300:
            if not xfer.accepted.done():
                xfer.accepted.set_result((True, 202))
            self._transfer_succeeded(xfer, status)
        else:
            if not xfer.accepted.done():  # a failure NOTIFY before the 202: still accepted
                xfer.accepted.set_result((True, 202))
            self._transfer_failed(xfer, status)

    def _on_refer_received(self, event: ev.ReferReceived) -> None:
        trusted = is_trusted_source(
            event, getattr(self.phone.config.calls, "trusted_refer_sources", ()))
        request = TransferRequest(self, event, trusted=trusted)  # type: ignore[arg-type]
        self.emit("transfer_request", request)
        if trusted:
            _background(request.accept(), f"auto-accepting a transfer of {self.call_id}")


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
