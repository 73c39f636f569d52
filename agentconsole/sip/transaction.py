"""SIP transactions (RFC 3261 §17, updated by RFC 6026), sans-IO.

A transaction is a state machine fed with messages and with the current time; it
answers with a list of *effects* (send this, hand that to the TU, the transaction timed
out, it is over) and exposes :meth:`next_deadline` so the caller knows when to call
``on_timer`` again. No clock is read and nothing is sent here, which is what lets the
RFC timer schedules be tested exactly with a fake clock.

This module holds the effects, the matching keys and the client transactions (figures 5
and 6, with RFC 6026's Accepted state); the server transactions (figures 7 and 8) and
the :class:`TransactionTable` live in :mod:`.transaction_server` and are re-exported
from here, so ``from agentconsole.sip.transaction import TransactionTable`` works.

Requests without an RFC 3261 branch (no ``z9hG4bK`` magic cookie, i.e. RFC 2543 peers)
are matched by a simplified form of the RFC 2543 rules of §17.2.3: Request-URI,
Call-ID, From tag, CSeq number, top Via and method (ACK and CANCEL mapped onto the
INVITE). The To tag is not compared, which is safe for a user agent whose own server
transactions each carry a distinct To tag.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeAlias

from .errors import LocalProtocolError, SipError
from .headers import Via, parse_via, split_header_list
from .message import Headers, Request, Response
from .timers import TimerConfig, TimerSet

if TYPE_CHECKING:
    from .transaction_server import (
        ServerInviteTransaction as ServerInviteTransaction,
    )
    from .transaction_server import (
        ServerNonInviteTransaction as ServerNonInviteTransaction,
    )
    from .transaction_server import ServerTransaction as ServerTransaction
    from .transaction_server import TransactionTable as TransactionTable
    from .transaction_server import (
        create_server_transaction as create_server_transaction,
    )

logger = logging.getLogger(__name__)

#: RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this.
MAGIC_COOKIE = "z9hG4bK"


def _describe(message: Request | Response) -> str:
    """A one-line summary safe for logs and reprs: no header values at all."""
    if isinstance(message, Request):
        return f"{message.method} request"
    return f"{message.status} {message.reason}"


# ----- effects -----------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class SendMessage:
    """Serialize ``message`` and send it: a client transaction's messages go to its
    ``destination``, a server transaction's responses per Via (RFC 3261 §18.2.2).
    ``destination`` repeats the transaction's destination/source for convenience."""

    message: Request | Response
    destination: object = None

    def __repr__(self) -> str:
        return f"SendMessage({_describe(self.message)})"


@dataclass(frozen=True, repr=False)
class PassToTU:
    """A message for the transaction user: a response (client side), or an ACK that
    reached an INVITE server transaction in the Accepted state (RFC 6026 §8.7)."""

    message: Request | Response

    def __repr__(self) -> str:
        return f"PassToTU({_describe(self.message)})"


@dataclass(frozen=True)
class TransactionTimeout:
    """Timer B/F fired (the TU reports a 408) or Timer H fired (no ACK arrived)."""


@dataclass(frozen=True)
class TransportErrorEffect:
    """The caller reported a send failure; the TU is told (§17.1.4, §17.2.4)."""


@dataclass(frozen=True)
class TransactionTerminated:
    """The transaction reached Terminated and may be dropped."""


Effect: TypeAlias = (
    SendMessage | PassToTU | TransactionTimeout | TransportErrorEffect | TransactionTerminated
)


class TxState(enum.Enum):
    """States of RFC 3261 figures 5-8 plus RFC 6026's Accepted."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


# ----- matching keys -----------------------------------------------------------------------
@dataclass(frozen=True)
class TransactionKey:
    """What a transaction is found by.

    Client transactions: top-Via ``branch`` + CSeq ``method`` (§17.1.3). Server
    transactions add the top Via ``sent_by`` (§17.2.3); ``method`` is the INVITE's for an
    ACK. Branches compare case-insensitively (§7.3.1: parameter values are
    case-insensitive unless a header says otherwise, and Via does not).
    """

    branch: str
    method: str
    sent_by: str = ""


def is_rfc3261_branch(branch: str | None) -> bool:
    """True for a branch that carries the RFC 3261 magic cookie (§8.1.1.7)."""
    return branch is not None and branch[:7].lower() == MAGIC_COOKIE.lower() and len(branch) > 7


def top_via(message: Request | Response) -> Via | None:
    """The first Via value, parsed on its own (a bad *lower* Via does not matter here)."""
    try:
        raw = message.headers.get_raw_all("Via")
        if not raw:
            return None
        values = split_header_list(raw[0])
        return parse_via(values[0]) if values else None
    except SipError:
        return None


def _normalized_sent_by(via: Via) -> str:
    """sent-by with the transport's default port filled in (§18.1, §19.1.2)."""
    default = 5061 if via.transport in ("TLS", "SCTP-TLS", "WSS") else 5060
    host = f"[{via.host}]" if ":" in via.host else via.host
    return f"{host}:{via.port if via.port is not None else default}"


def client_key_for_response(response: Response) -> TransactionKey | None:
    """The key of the client transaction ``response`` belongs to (§17.1.3), or None."""
    via = top_via(response)
    if via is None or not is_rfc3261_branch(via.branch):
        return None
    try:
        method = response.cseq.method
    except SipError:
        return None
    return TransactionKey(str(via.branch).lower(), method)


def server_key_for_request(request: Request, method: str | None = None) -> TransactionKey | None:
    """The key of the server transaction ``request`` belongs to (§17.2.3), or None.

    ``method`` overrides the method part (CANCEL looks up its INVITE with "INVITE");
    an ACK maps onto "INVITE" by itself. Never raises.
    """
    via = top_via(request)
    if via is None:
        return None
    if method is None:
        method = "INVITE" if request.method == "ACK" else request.method
    sent_by = _normalized_sent_by(via)
    if is_rfc3261_branch(via.branch):
        return TransactionKey(str(via.branch).lower(), method, sent_by)
    try:  # RFC 2543 peer: the simplified rule described in the module docstring
        from_tag = request.from_.params.get("tag") or ""
        number = request.cseq.number
        call_id = request.call_id
    except SipError:
        return None
    branch = "\x00".join(("rfc2543", request.uri, call_id, from_tag, str(number), via.branch or ""))
    return TransactionKey(branch, method, sent_by)


# ----- common machinery ----------------------------------------------------------------------
class _Transaction:
    """Timer bookkeeping and termination shared by all four machines."""

    key: TransactionKey
    #: Which requests the machine runs: the INVITE machines (figures 5 and 7) take only
    #: an INVITE, the non-INVITE ones (figures 6 and 8) anything but an INVITE.
    for_invite: ClassVar[bool]

    def __init__(self, request: Request, *, reliable: bool, timers: TimerConfig) -> None:
        self.request = request
        self.reliable = reliable
        self.timers = timers
        self.state: TxState = TxState.TERMINATED  # set by subclasses
        self._pending = TimerSet()
        self._started = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key.method} {self.state.value}>"

    @property
    def terminated(self) -> bool:
        return self.state is TxState.TERMINATED

    def next_deadline(self) -> float | None:
        """When :meth:`on_timer` must next be called, or None when no timer is armed."""
        return None if self.terminated else self._pending.next_deadline()

    def on_timer(self, now: float) -> list[Effect]:
        """Fire every timer due at ``now``, earliest first; a no-op when none is due."""
        out: list[Effect] = []
        while not self.terminated:
            due = self._pending.pop_due(now)
            if due is None:
                break
            name, deadline = due
            logger.debug("%r: timer %s fired at %.3f", self, name, now)
            out.extend(self._fire(name, deadline, now))
        return out

    def transport_error(self, now: float) -> list[Effect]:
        """The transport could not send for us: inform the TU and terminate (§17.1.4, §17.2.4)."""
        if self.terminated:
            return []
        logger.debug("%r: transport error", self)
        return [TransportErrorEffect(), *self._terminate()]

    def terminate(self, now: float) -> list[Effect]:
        """Abandon the transaction at once (the TU gave up on it, e.g. a CANCEL that never
        got a final response, RFC 3261 §9.1)."""
        return [] if self.terminated else self._terminate()

    # -- helpers for subclasses --
    def _take(self, request: Request) -> None:
        """Check that ``request`` is one this machine runs (handing it to the wrong one
        is a local bug) and put the machine in its first state."""
        if (request.method == "INVITE") != self.for_invite:
            wanted = "an INVITE" if self.for_invite else "a request other than INVITE"
            raise LocalProtocolError(f"{type(self).__name__} needs {wanted}")
        self._enter_first_state()

    def _enter_first_state(self) -> None:
        """Set the state the machine starts in and the intervals it doubles."""
        raise NotImplementedError  # pragma: no cover

    def _check_start(self) -> None:
        if self._started:
            raise LocalProtocolError("transaction already started")
        self._started = True

    def _terminate(self) -> list[Effect]:
        self.state = TxState.TERMINATED
        self._pending.clear()
        logger.debug("%r: terminated", self)
        return [TransactionTerminated()]

    def _linger(self, name: str, duration: float, now: float) -> list[Effect]:
        """Arm a timer that ends the transaction, or end it now when it is zero
        (the reliable-transport case of Timers D, I, J and K)."""
        if duration <= 0:
            return self._terminate()
        self._pending.arm(name, now + duration)
        return []

    def _rearm(self, name: str, fired_at: float, interval: float, now: float) -> None:
        """Re-arm a retransmission timer from its own deadline (no drift), but never in
        the past: a caller that woke up late gets one retransmission, not a burst."""
        deadline = fired_at + interval
        self._pending.arm(name, deadline if deadline > now else now + interval)

    def _fire(self, name: str, deadline: float, now: float) -> list[Effect]:
        raise NotImplementedError  # pragma: no cover


# ----- client transactions -------------------------------------------------------------------
class ClientTransaction(_Transaction):
    """Base of the two client machines; create :class:`ClientInviteTransaction` or
    :class:`ClientNonInviteTransaction` (or use :func:`create_client_transaction`).

    ``request`` must already carry our Via with an RFC 3261 branch; a request that
    cannot be sent reliably raises :class:`LocalProtocolError` here.
    """

    def __init__(
        self,
        request: Request,
        *,
        reliable: bool,
        timers: TimerConfig | None = None,
        destination: object = None,
    ) -> None:
        super().__init__(request, reliable=reliable, timers=timers or TimerConfig())
        self.destination = destination
        self.key = self._validate(request)
        self._take(request)

    @staticmethod
    def _validate(request: Request) -> TransactionKey:
        if request.method == "ACK":
            raise LocalProtocolError("ACK is never sent in a client transaction (§17.1)")
        via = top_via(request)
        if via is None or not is_rfc3261_branch(via.branch):
            raise LocalProtocolError("request needs a top Via with a z9hG4bK branch")
        try:
            cseq = request.cseq
            request.from_  # noqa: B018 - validated for the ACK we may have to build
            request.to  # noqa: B018
            request.call_id  # noqa: B018
        except SipError as exc:
            raise LocalProtocolError(f"cannot start a transaction: {exc}") from exc
        if cseq.method != request.method:
            raise LocalProtocolError("CSeq method differs from the request method")
        return TransactionKey(str(via.branch).lower(), request.method)

    def _send(self, message: Request | Response) -> SendMessage:
        return SendMessage(message, self.destination)

    def start(self, now: float) -> list[Effect]:
        """Send the request and arm the retransmission/timeout timers."""
        raise NotImplementedError  # pragma: no cover

    def receive_response(self, response: Response, now: float) -> list[Effect]:
        """Feed a response; one that is malformed or not ours is ignored, never raised."""
        if self.terminated or not self._started:
            return []
        try:
            if not 100 <= response.status <= 699 or client_key_for_response(response) != self.key:
                logger.debug("%r: ignoring a response that does not belong here", self)
                return []
            return self._on_response(response, now)
        except SipError as exc:
            logger.debug("%r: ignoring a malformed response: %s", self, exc)
            return []

    def _on_response(self, response: Response, now: float) -> list[Effect]:
        raise NotImplementedError  # pragma: no cover


class ClientInviteTransaction(ClientTransaction):
    """INVITE client transaction: RFC 3261 figure 5 with RFC 6026 §8.4's Accepted state."""

    for_invite = True

    def _enter_first_state(self) -> None:
        self.state = TxState.CALLING
        self.ack: Request | None = None  # the ACK we built for a non-2xx final
        self._interval_a = self.timers.timer_a

    def start(self, now: float) -> list[Effect]:
        self._check_start()
        if not self.reliable:  # §17.1.1.2: no Timer A on reliable transports
            self._pending.arm("A", now + self._interval_a)
        self._pending.arm("B", now + self.timers.timer_b)
        return [self._send(self.request)]

    def _fire(self, name: str, deadline: float, now: float) -> list[Effect]:
        if name == "A" and self.state is TxState.CALLING:
            self._interval_a *= 2
            self._rearm("A", deadline, self._interval_a, now)
            return [self._send(self.request)]
        if name == "B" and self.state is TxState.CALLING:
            return [TransactionTimeout(), *self._terminate()]
        if name in ("D", "M"):
            return self._terminate()
        return []

    def _on_response(self, response: Response, now: float) -> list[Effect]:
        status = response.status
        early = self.state in (TxState.CALLING, TxState.PROCEEDING)
        if status < 200:
            if not early:
                return []
            self.state = TxState.PROCEEDING  # §17.1.1.2: stop retransmitting, no Timer B
            self._pending.cancel("A", "B")
            return [PassToTU(response)]
        if status < 300:
            if early:  # RFC 6026 §8.4: wait in Accepted for 2xx from other forks
                self.state = TxState.ACCEPTED
                self._pending.cancel("A", "B")
                self._pending.arm("M", now + self.timers.timer_m)
                return [PassToTU(response)]
            # every 2xx retransmission goes up: the TU ACKs each one (§13.2.2.4)
            return [PassToTU(response)] if self.state is TxState.ACCEPTED else []
        if early:
            self.state = TxState.COMPLETED
            self._pending.cancel("A", "B")
            self.ack = build_ack(self.request, response)
            out: list[Effect] = [self._send(self.ack), PassToTU(response)]
            return out + self._linger("D", 0 if self.reliable else self.timers.timer_d, now)
        if self.state is TxState.COMPLETED and self.ack is not None:
            return [self._send(self.ack)]  # §17.1.1.2: re-ACK, do not pass up again
        return []


def build_ack(invite: Request, response: Response) -> Request:
    """The ACK for a non-2xx final, built by the transaction as §17.1.1.3 says.

    Same Request-URI, Call-ID, From, CSeq number and top Via (hence branch) as the
    INVITE, the response's To (with its tag), and the INVITE's Route set.
    """
    headers = Headers()
    via_values = split_header_list(invite.headers.get_raw_all("Via")[0])
    headers.add("Via", via_values[0])
    headers.add("Max-Forwards", (invite.headers.get("Max-Forwards") or "70").strip())
    for route in invite.headers.get_raw_all("Route"):
        headers.add("Route", route)
    headers.add("From", invite.headers.get("From") or "")
    headers.add("To", response.headers.get("To") or invite.headers.get("To") or "")
    headers.add("Call-ID", invite.headers.get("Call-ID") or "")
    headers.add("CSeq", f"{invite.cseq.number} ACK")
    return Request("ACK", invite.uri, headers)


class ClientNonInviteTransaction(ClientTransaction):
    """Non-INVITE client transaction: RFC 3261 figure 6 (§17.1.2)."""

    for_invite = False

    def _enter_first_state(self) -> None:
        self.state = TxState.TRYING
        self._interval_e = self.timers.timer_e

    def start(self, now: float) -> list[Effect]:
        self._check_start()
        if not self.reliable:
            self._pending.arm("E", now + self._interval_e)
        self._pending.arm("F", now + self.timers.timer_f)
        return [self._send(self.request)]

    def _fire(self, name: str, deadline: float, now: float) -> list[Effect]:
        active = self.state in (TxState.TRYING, TxState.PROCEEDING)
        if name == "E" and active:
            if self.state is TxState.TRYING:
                self._interval_e = min(2 * self._interval_e, self.timers.t2)
            else:  # §17.1.2.2: in Proceeding the interval is T2
                self._interval_e = self.timers.t2
            self._rearm("E", deadline, self._interval_e, now)
            return [self._send(self.request)]
        if name == "F" and active:
            return [TransactionTimeout(), *self._terminate()]
        if name == "K":
            return self._terminate()
        return []

    def _on_response(self, response: Response, now: float) -> list[Effect]:
        if self.state not in (TxState.TRYING, TxState.PROCEEDING):
            return []  # Completed absorbs retransmitted finals (§17.1.2.2)
        if response.status < 200:
            self.state = TxState.PROCEEDING
            return [PassToTU(response)]
        self.state = TxState.COMPLETED
        self._pending.cancel("E", "F")
        out: list[Effect] = [PassToTU(response)]
        return out + self._linger("K", 0 if self.reliable else self.timers.timer_k, now)


def create_client_transaction(
    request: Request,
    *,
    reliable: bool,
    timers: TimerConfig | None = None,
    destination: object = None,
) -> ClientTransaction:
    """The right client machine for ``request`` (INVITE or not)."""
    cls = ClientInviteTransaction if request.method == "INVITE" else ClientNonInviteTransaction
    return cls(request, reliable=reliable, timers=timers, destination=destination)


_SERVER_NAMES = frozenset(
    {
        "ServerTransaction",
        "ServerInviteTransaction",
        "ServerNonInviteTransaction",
        "TransactionTable",
        "create_server_transaction",
    }
)


def __getattr__(name: str) -> object:
    """Re-export the server side and the table lazily: :mod:`.transaction_server` imports
    this module, so an eager import here would be circular."""
    if name in _SERVER_NAMES:
        from . import transaction_server

        return getattr(transaction_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
