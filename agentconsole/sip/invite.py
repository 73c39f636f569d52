"""Calls: INVITE dialog usages (RFC 3261 §13-15, RFC 4028), sans-IO.

A :class:`CallLeg` is one INVITE dialog usage, outbound or inbound. The UA creates
legs (``UserAgent.invite`` or an incoming INVITE) and drives them through
:class:`~.invite_server.CallManager`; the layer above reads the leg's attributes and
reacts to the call events of :mod:`.events`. This module holds the leg, its states,
the failure-cause mapping and the machinery the client and server halves share
(leg/dialog registry, per-leg deadlines, in-dialog sending, ending a call once).

States (:class:`CallState`)::

    outbound: CALLING -> PROCEEDING (1xx without tag) -> EARLY (1xx with tag)
              -> CONFIRMED (2xx received, ACK sent)
    inbound:  INCOMING (INVITE received) -> EARLY (ring(): 1xx with our tag)
              -> CONFIRMING (answer(): 2xx sent, waiting for the ACK) -> CONFIRMED
    both:     -> TERMINATING (CANCEL or BYE sent, or a BYE waits for the ACK)
              -> TERMINATED

Exactly one terminal event is reported per leg: :class:`~.events.CallFailed` when
the call was never established (no 2xx sent or received), else
:class:`~.events.CallEnded`. A local hangup/cancel reports it when the signalling is
done (the BYE's or CANCEL'd INVITE's final response, or its timeout); a local reject,
a missing ACK (No ACK) and a session-timer expiry (Expires) report it at once.
"""

from __future__ import annotations

import enum
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .auth import DigestAuthenticator
from .dialog import Dialog, DialogId
from .events import CallEnded, CallFailed, UAEvent
from .headers import split_header_list
from .in_dialog import InDialogSender
from .message import Headers, Request, Response
from .session_timer import SessionTimer
from .timers import TimerSet
from .transaction import (
    ClientTransaction,
    PassToTU,
    ServerTransaction,
    TransactionTerminated,
    TransactionTimeout,
    TransportErrorEffect,
)
from .uri import NameAddr

if TYPE_CHECKING:
    from .transfer import IncomingRefer, OutgoingRefer
    from .ua import UserAgent

logger = logging.getLogger(__name__)

Address = tuple[str, int]
ResponseHandler = Callable[[Response | None, int, str, float], None]

#: Transport failures reach handlers as this status with ``response`` None.
TRANSPORT_ERROR = 503
#: How many ended dialogs we remember for Replaces (603 instead of 481).
ENDED_DIALOGS_KEPT = 256


def deliver(handler: ResponseHandler, effect: object, now: float) -> bool:
    """Hand a client transaction's effect to a call-layer handler: every response passed
    up (provisionals, 2xx retransmissions), a timeout as ``(None, 408, ...)``, a transport
    error as ``(None, 503, ...)``. True when the handler will hear nothing more."""
    if isinstance(effect, PassToTU) and isinstance(effect.message, Response):
        handler(effect.message, effect.message.status, effect.message.reason, now)
    elif isinstance(effect, TransactionTimeout):
        handler(None, 408, "Request Timeout", now)
    elif isinstance(effect, TransportErrorEffect):
        handler(None, TRANSPORT_ERROR, "Connection Error", now)
    return isinstance(effect, TransactionTerminated | TransactionTimeout | TransportErrorEffect)



def cancel_for(tx: ClientTransaction, user_agent: str) -> tuple[Request, Address | None]:
    """The CANCEL of ``tx``'s INVITE (RFC 3261 §9.1: its top Via, Route set, From, To,
    Call-ID and CSeq number) and the address the INVITE went to."""
    invite = tx.request
    headers = Headers([("Via", split_header_list(invite.headers.get_raw_all("Via")[0])[0]),
                       ("Max-Forwards", "70")])
    for route in invite.headers.get_raw_all("Route"):
        headers.add("Route", route)
    for name in ("From", "To", "Call-ID"):
        headers.add(name, invite.headers.get(name) or "")
    headers.add("CSeq", f"{invite.cseq.number} CANCEL")
    headers.add("User-Agent", user_agent)
    cancel = Request("CANCEL", invite.uri, headers)
    return cancel, (tx.destination if isinstance(tx.destination, tuple) else None)


class CallState(enum.Enum):
    """Where a leg is; see the module docstring for the transitions."""

    CALLING = "calling"
    PROCEEDING = "proceeding"
    INCOMING = "incoming"
    EARLY = "early"
    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"
    TERMINATING = "terminating"
    TERMINATED = "terminated"


_CAUSES: dict[int, str] = {
    486: "Busy", 600: "Busy",
    403: "Rejected", 603: "Rejected",
    404: "Not Found", 604: "Not Found",
    480: "Unavailable", 410: "Unavailable", 408: "Unavailable", 430: "Unavailable",
    484: "Address Incomplete", 424: "Address Incomplete",
    488: "Incompatible SDP", 606: "Incompatible SDP",
    401: "Authentication Error", 407: "Authentication Error",
}


def failure_cause(status: int) -> str:
    """The call-end cause string for a final non-2xx status (JsSIP's mapping)."""
    if 300 <= status < 400:
        return "Redirected"
    return _CAUSES.get(status, "SIP Failure Code")


@dataclass
class OutgoingUpdate:
    """Our pending re-INVITE/UPDATE. ``refresh`` ones are the core's own (session-timer
    refreshes, and target refreshes after a reconnect, ``target``): no ReinviteResult
    reports them, the session they carry is the current one."""

    method: str
    sdp: bytes | None
    refresh: bool = False
    attempts: int = 1
    tx: ClientTransaction | None = None
    target: bool = False

    @property
    def label(self) -> str:
        """How a cause names it: "re-INVITE" or "UPDATE"."""
        return "re-INVITE" if self.method == "INVITE" else self.method


@dataclass
class PendingAnswer:
    """A 2xx to an INVITE that the UAS core retransmits until the ACK (§13.3.1.4)."""

    response: Response
    dest: Address | None
    cseq: int
    interval: float
    initial: bool


@dataclass(eq=False)
class CallLeg:
    """One call: an INVITE dialog usage in either direction (created only by the UA).

    ``remote_identity`` is the From of an inbound INVITE or the To of ours;
    ``request_headers`` the initial INVITE's headers (P-Asserted-Identity,
    Diversion...). ``local_sdp``/``remote_sdp`` are the latest session descriptions
    each way. ``replaces`` is set on an inbound leg whose INVITE carried a Replaces
    header matching another of our calls (RFC 3891): that call, to end once this one is
    up. The ``_``-prefixed attributes are the call layer's bookkeeping.
    """

    id: str
    call_id: str
    direction: str  # "outbound" | "inbound"
    invite: Request
    local_identity: NameAddr
    remote_identity: NameAddr
    state: CallState
    dialog: Dialog | None = None
    local_sdp: bytes | None = None
    remote_sdp: bytes | None = None
    session_timer: SessionTimer | None = None
    established: bool = False
    _tx: ClientTransaction | ServerTransaction | None = field(default=None, repr=False)
    _cancel: str = field(default="", repr=False)  # "" | "wanted" | "sent"
    _auth_tries: int = field(default=0, repr=False)
    _se_retried: bool = field(default=False, repr=False)
    _acks: dict[int, Request] = field(default_factory=dict, repr=False)
    _answer: PendingAnswer | None = field(default=None, repr=False)
    _out_update: OutgoingUpdate | None = field(default=None, repr=False)
    _queued_update: OutgoingUpdate | None = field(default=None, repr=False)
    _in_update: tuple[Request, ServerTransaction] | None = field(default=None, repr=False)
    _bye_wanted: bool = field(default=False, repr=False)
    _reported: bool = field(default=False, repr=False)
    _peer_caps: Request | Response | None = field(default=None, repr=False)
    _se_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    _auth: DigestAuthenticator | None = field(default=None, repr=False)
    replaces: CallLeg | None = field(default=None, repr=False)
    #: Where an inbound INVITE came from (the transport peer's address): what a policy
    #: such as auto-answer may trust, unlike any header the caller wrote.
    source: tuple[str, int] | None = None
    _refer_out: OutgoingRefer | None = field(default=None, repr=False)
    _refer_in: IncomingRefer | None = field(default=None, repr=False)
    _refers_received: int = field(default=0, repr=False)

    @property
    def request_headers(self) -> Headers:
        return self.invite.headers

    @property
    def is_terminated(self) -> bool:
        return self.state is CallState.TERMINATED


class CallBase:
    """Registry, deadlines and helpers shared by the UAC and UAS halves."""

    def __init__(self, host: UserAgent) -> None:
        self.host = host
        self.legs: dict[str, CallLeg] = {}
        self.dialogs: dict[DialogId, CallLeg] = {}
        self._timers = TimerSet()
        self._timer_owners: dict[str, tuple[CallLeg, str]] = {}
        #: Recently ended dialogs: an INVITE with Replaces naming one gets 603 (RFC 3891 §3).
        self.ended_dialogs: OrderedDict[DialogId, None] = OrderedDict()
        #: Sends every in-dialog request (digest retry, flow recovery).
        self.sender = InDialogSender(host, self.authenticator, self.dest_for)

    # ----- identifiers and events ---------------------------------------------------------
    def token(self, n: int = 10) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.host.rng.choice(alphabet) for _ in range(n))

    def authenticator(self, leg: CallLeg) -> DigestAuthenticator | None:
        """The leg's own digest state (RFC 3261 §22.2), with the account's credentials and
        realms. Per call, because servers such as Kamailio hand out the same nonce to
        the REGISTER and the INVITE, which a shared nonce history would take for a
        refusal."""
        config = self.host.config
        if leg._auth is None and config.password is not None:
            shared = self.host.registration.authenticator
            realms = shared.realms if shared is not None else None
            if realms is None and config.realm:
                realms = frozenset({config.realm})
            leg._auth = DigestAuthenticator(
                config.auth_user or config.aor.user or "", config.password, realms=realms,
                cnonce_factory=lambda: self.token(16), learn_realm=realms is None)
        return leg._auth

    def _post(self, event: UAEvent) -> None:
        self.host.post(event)

    def _bind(self, leg: CallLeg, dialog: Dialog) -> None:
        if leg.dialog is not None and self.dialogs.get(leg.dialog.id) is leg:
            del self.dialogs[leg.dialog.id]
        leg.dialog = dialog
        self.dialogs[dialog.id] = leg

    # ----- per-leg deadlines -----------------------------------------------------------------
    def _arm(self, leg: CallLeg, kind: str, deadline: float) -> None:
        name = f"{leg.id}\x00{kind}"
        self._timers.arm(name, deadline)
        self._timer_owners[name] = (leg, kind)

    def _disarm(self, leg: CallLeg, *kinds: str) -> None:
        for kind in kinds:
            name = f"{leg.id}\x00{kind}"
            self._timers.cancel(name)
            self._timer_owners.pop(name, None)

    def deadline_of(self, leg: CallLeg, kind: str) -> float | None:
        return self._timers.deadline(f"{leg.id}\x00{kind}")

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self._timers.next_deadline(), self.sender.next_deadline())
                     if d is not None]
        return min(deadlines) if deadlines else None

    def on_timer(self, now: float) -> None:
        self.sender.on_timer(now)
        while True:
            due = self._timers.pop_due(now)
            if due is None:
                return
            owner = self._timer_owners.pop(due[0], None)
            if owner is not None:
                self._fire(owner[0], owner[1], now)

    def _fire(self, leg: CallLeg, kind: str, now: float) -> None:
        raise NotImplementedError  # pragma: no cover

    # ----- sending inside a dialog ----------------------------------------------------------------
    def dest_for(self, dialog: Dialog | None) -> Address | None:
        """Where an in-dialog request goes: the outbound proxy, else the first route or
        the remote target (§12.2.1.1); None on connection-oriented transports."""
        config = self.host.config
        if config.reliable:
            return None
        if config.outbound_proxy is not None:
            return (config.outbound_proxy.host, config.outbound_proxy.port or 5060)
        hop = dialog.next_hop() if dialog is not None else None
        if hop is None:
            target = config.registrar
            return (target.host, target.port or 5060)
        return (hop[0], hop[1] or 5060)

    def _request(self, leg: CallLeg, method: str, *, body: bytes | None = None,
                 content_type: str = "application/sdp",
                 extra: Sequence[tuple[str, str]] = ()) -> Request:
        assert leg.dialog is not None
        leg.dialog.local_contact = self.host.contact()
        request = leg.dialog.create_request(method)
        for name, value in extra:
            request.headers.add(name, value)
        if method != "ACK":
            request.headers.add("User-Agent", self.host.config.user_agent)
        if body:
            request.headers.add("Content-Type", content_type)
            request.body = body
        return request

    def _send_ack(self, leg: CallLeg, dialog: Dialog, invite: Request,
                  body: bytes | None = None) -> Request:
        """The ACK for a 2xx (§13.2.2.4): a new branch, the INVITE's CSeq number and
        credentials; kept so every retransmitted 2xx is ACKed again."""
        number = invite.cseq.number
        ack = dialog.create_request("ACK", number)
        for name in ("Authorization", "Proxy-Authorization"):
            for value in invite.headers.get_raw_all(name):
                ack.headers.add(name, value)
        proxy = self.host.config.outbound_proxy
        if proxy is not None and "Route" not in ack.headers:  # as send_request does
            ack.headers.add("Route", f"<{proxy};lr>")
        if body:
            ack.headers.add("Content-Type", "application/sdp")
            ack.body = body
        self.host.stamp_via(ack)
        self.host.emit(ack, self.dest_for(dialog))
        if dialog is leg.dialog:
            leg._acks[number] = ack
        return ack

    # ----- ending ---------------------------------------------------------------------------------
    def _report_failed(self, leg: CallLeg, status: int, reason: str, cause: str) -> None:
        if not leg._reported:
            leg._reported = True
            self._post(CallFailed(leg, status, reason, cause))

    def _report_ended(self, leg: CallLeg, cause: str, status: int | None,
                      by_remote: bool = False) -> None:
        if not leg._reported:
            leg._reported = True
            self._post(CallEnded(leg, cause, status, by_remote))

    def _report(self, leg: CallLeg, status: int, reason: str, cause: str,
                by_remote: bool = False) -> None:
        """CallEnded when the call was established, else CallFailed."""
        if leg.established:
            self._report_ended(leg, cause, status, by_remote)
        else:
            self._report_failed(leg, status, reason, cause)

    def _close(self, leg: CallLeg) -> None:
        """The leg is over: no more timers, no dialog match (late messages get 481)."""
        leg.state = CallState.TERMINATED
        self._disarm(leg, "2xx", "noack", "glare", "refresh", "expire", "cancel", "refer",
                     "refer-in", "target")
        if leg.dialog is not None and self.dialogs.get(leg.dialog.id) is leg:
            del self.dialogs[leg.dialog.id]
        if leg.dialog is not None and leg.dialog.remote_tag:
            self.ended_dialogs[leg.dialog.id] = None
            while len(self.ended_dialogs) > ENDED_DIALOGS_KEPT:
                self.ended_dialogs.popitem(last=False)
        self.legs.pop(leg.id, None)
        logger.debug("call %s terminated", leg.id)


__all__ = [
    "CallBase",
    "CallLeg",
    "CallState",
    "OutgoingUpdate",
    "PendingAnswer",
    "TRANSPORT_ERROR",
    "cancel_for",
    "deliver",
    "failure_cause",
]
