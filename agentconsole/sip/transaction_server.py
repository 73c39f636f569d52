"""Server transactions (RFC 3261 §17.2 figures 7 and 8, RFC 6026 §8.7) and the
transaction table (§17.1.3, §17.2.3), sans-IO.

Import them from :mod:`agentconsole.sip.transaction`, which re-exports this module.
The TU hands every response through :meth:`ServerTransaction.respond`; request
retransmissions and ACKs go through :meth:`ServerTransaction.receive_request`. Nothing a
peer sends raises out of these methods; misusing ``respond`` (a second final, a status
outside 100-699) raises :class:`~agentconsole.sip.errors.LocalProtocolError`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import TypeAlias, TypeVar

from .errors import LocalProtocolError, SipError
from .message import Request, Response, make_response
from .timers import TimerConfig
from .transaction import (
    ClientTransaction,
    Effect,
    PassToTU,
    SendMessage,
    TransactionKey,
    TransactionTimeout,
    TxState,
    _Transaction,
    client_key_for_response,
    server_key_for_request,
)

logger = logging.getLogger(__name__)

_unmatchable = itertools.count(1)


class ServerTransaction(_Transaction):
    """Base of the two server machines; create :class:`ServerInviteTransaction` or
    :class:`ServerNonInviteTransaction` (or use :func:`create_server_transaction`).

    ``source`` is where the request came from, kept for the caller's response routing
    (§18.2.2, RFC 3581). A request so broken that no key can be computed gets a key
    that nothing will ever match, so the constructor does not raise on peer input.
    """

    def __init__(
        self,
        request: Request,
        *,
        reliable: bool,
        timers: TimerConfig | None = None,
        source: object = None,
    ) -> None:
        super().__init__(request, reliable=reliable, timers=timers or TimerConfig())
        if request.method == "ACK":
            raise LocalProtocolError("an ACK never creates a server transaction (§17.2.3)")
        self.source = source
        self.last_response: Response | None = None
        key = server_key_for_request(request)
        if key is None:
            key = TransactionKey(f"\x00unmatchable-{next(_unmatchable)}", request.method)
        self.key = key
        self._cseq_number = _cseq_number(request)
        self._take(request)

    def _send(self, response: Response) -> SendMessage:
        self.last_response = response
        return SendMessage(response, self.source)

    def _resend_last(self) -> list[Effect]:
        if self.last_response is None:
            return []
        return [SendMessage(self.last_response, self.source)]

    def start(self, now: float) -> list[Effect]:
        """Arm the start-up timers (the INVITE server's 100 Trying); returns no effects
        today, but callers should process whatever it returns."""
        self._check_start()
        return []

    def receive_request(self, request: Request, now: float) -> list[Effect]:
        """A request that matched this transaction: a retransmission, or an ACK."""
        if self.terminated:
            return []
        try:
            if request.method == "ACK":
                if self.key.method != "INVITE" or _cseq_number(request) != self._cseq_number:
                    return []
                return self._on_ack(request, now)
            if request.method != self.request.method:
                return []  # e.g. a CANCEL: it has a transaction of its own
            logger.debug("%r: request retransmission", self)
            return self._on_retransmission(now)
        except SipError as exc:
            logger.debug("%r: ignoring a malformed request: %s", self, exc)
            return []

    def respond(self, response: Response, now: float) -> list[Effect]:
        """Send a response from the TU, moving the machine on as figures 7/8 say."""
        if not 100 <= response.status <= 699:
            raise LocalProtocolError(f"bad response status {response.status}")
        if self.terminated:
            raise LocalProtocolError("the transaction is terminated")
        return self._on_respond(response, now)

    def _on_ack(self, ack: Request, now: float) -> list[Effect]:
        return []

    def _on_retransmission(self, now: float) -> list[Effect]:
        raise NotImplementedError  # pragma: no cover

    def _on_respond(self, response: Response, now: float) -> list[Effect]:
        raise NotImplementedError  # pragma: no cover


def _cseq_number(request: Request) -> int | None:
    try:
        return request.cseq.number
    except SipError:
        return None


class ServerInviteTransaction(ServerTransaction):
    """INVITE server transaction: RFC 3261 figure 7 with RFC 6026 §8.7's Accepted state.

    A 2xx moves it to Accepted, where the TU's own 2xx retransmissions (§13.3.1.4) are
    still sent through :meth:`respond`, INVITE retransmissions are absorbed and an ACK
    that matches (a peer reusing the INVITE's branch) is passed to the TU, as RFC 6026
    §8.7 requires, so that the UAS core can stop retransmitting its 2xx.
    """

    for_invite = True

    def _enter_first_state(self) -> None:
        self.state = TxState.PROCEEDING
        self._interval_g = self.timers.timer_g

    def start(self, now: float) -> list[Effect]:
        """Arm the 200 ms timer after which 100 Trying is sent for a silent TU (§17.2.1)."""
        out = super().start(now)
        if self.last_response is None and self.state is TxState.PROCEEDING:
            self._pending.arm("100", now + self.timers.trying_delay)
        return out

    def _fire(self, name: str, deadline: float, now: float) -> list[Effect]:
        if name == "100":
            if self.state is TxState.PROCEEDING and self.last_response is None:
                return [self._send(make_response(self.request, 100))]
            return []
        if name == "G" and self.state is TxState.COMPLETED:
            self._interval_g = min(2 * self._interval_g, self.timers.t2)
            self._rearm("G", deadline, self._interval_g, now)
            return self._resend_last()
        if name == "H" and self.state is TxState.COMPLETED:
            return [TransactionTimeout(), *self._terminate()]
        if name in ("I", "L"):
            return self._terminate()
        return []

    def _on_retransmission(self, now: float) -> list[Effect]:
        # Proceeding: the latest provisional; Completed: the final (§17.2.1).
        # Confirmed and Accepted absorb (§17.2.1, RFC 6026 §8.7).
        if self.state in (TxState.PROCEEDING, TxState.COMPLETED):
            return self._resend_last()
        return []

    def _on_ack(self, ack: Request, now: float) -> list[Effect]:
        if self.state is TxState.COMPLETED:
            self.state = TxState.CONFIRMED
            self._pending.cancel("G", "H")
            return self._linger("I", 0 if self.reliable else self.timers.timer_i, now)
        if self.state is TxState.ACCEPTED:
            return [PassToTU(ack)]
        return []  # Confirmed absorbs ACK retransmissions; an early ACK is meaningless

    def _on_respond(self, response: Response, now: float) -> list[Effect]:
        status = response.status
        if self.state is TxState.ACCEPTED and 200 <= status < 300:
            return [self._send(response)]  # the UAS core retransmitting its 2xx
        if self.state is not TxState.PROCEEDING:
            raise LocalProtocolError(f"cannot send {status} in state {self.state.value}")
        self._pending.cancel("100")
        out: list[Effect] = [self._send(response)]
        if status < 200:
            return out
        if status < 300:
            self.state = TxState.ACCEPTED
            self._pending.arm("L", now + self.timers.timer_l)
            return out
        self.state = TxState.COMPLETED
        if not self.reliable:
            self._pending.arm("G", now + self._interval_g)
        self._pending.arm("H", now + self.timers.timer_h)
        return out


class ServerNonInviteTransaction(ServerTransaction):
    """Non-INVITE server transaction: RFC 3261 figure 8 (§17.2.2)."""

    for_invite = False

    def _enter_first_state(self) -> None:
        self.state = TxState.TRYING

    def _fire(self, name: str, deadline: float, now: float) -> list[Effect]:
        return self._terminate() if name == "J" else []

    def _on_retransmission(self, now: float) -> list[Effect]:
        # Trying: nothing to resend yet, the retransmission is absorbed (§17.2.2).
        return self._resend_last()

    def _on_respond(self, response: Response, now: float) -> list[Effect]:
        if self.state not in (TxState.TRYING, TxState.PROCEEDING):
            raise LocalProtocolError(f"cannot send {response.status} in state {self.state.value}")
        out: list[Effect] = [self._send(response)]
        if response.status < 200:
            self.state = TxState.PROCEEDING
            return out
        self.state = TxState.COMPLETED
        return out + self._linger("J", 0 if self.reliable else self.timers.timer_j, now)


def create_server_transaction(
    request: Request,
    *,
    reliable: bool,
    timers: TimerConfig | None = None,
    source: object = None,
) -> ServerTransaction:
    """The right server machine for ``request`` (INVITE or not)."""
    cls = ServerInviteTransaction if request.method == "INVITE" else ServerNonInviteTransaction
    return cls(request, reliable=reliable, timers=timers, source=source)


_T = TypeVar("_T", bound=_Transaction)


# ----- the table -----------------------------------------------------------------------------
AnyTransaction: TypeAlias = ClientTransaction | ServerTransaction


class TransactionTable:
    """Every live transaction, found by the §17.1.3/§17.2.3 keys.

    Lookups never raise, whatever the message looks like. Terminated transactions are
    never returned; they are dropped by :meth:`on_timer`, :meth:`add` and on lookup.
    """

    def __init__(self) -> None:
        self._client: dict[TransactionKey, ClientTransaction] = {}
        self._server: dict[TransactionKey, ServerTransaction] = {}

    def __len__(self) -> int:
        return len(self._client) + len(self._server)

    def __iter__(self) -> Iterator[AnyTransaction]:
        return iter([*self._client.values(), *self._server.values()])

    def __contains__(self, tx: object) -> bool:
        return any(t is tx for t in self)

    def add(self, tx: AnyTransaction) -> None:
        """Register ``tx``; a live transaction with the same key is a local bug."""
        self.remove_terminated()
        existing = (self._client if isinstance(tx, ClientTransaction) else self._server).get(tx.key)
        if existing is not None and existing is not tx:
            raise LocalProtocolError(f"a transaction with key {tx.key!r} already exists")
        if isinstance(tx, ClientTransaction):
            self._client[tx.key] = tx
        else:
            self._server[tx.key] = tx

    def remove(self, tx: AnyTransaction) -> None:
        if isinstance(tx, ClientTransaction):
            if self._client.get(tx.key) is tx:
                del self._client[tx.key]
        elif self._server.get(tx.key) is tx:
            del self._server[tx.key]

    def remove_terminated(self) -> None:
        for table in (self._client, self._server):
            for key in [k for k, t in table.items() if t.terminated]:
                del table[key]

    def match_response(self, response: Response) -> ClientTransaction | None:
        """The client transaction a response belongs to: top Via branch + CSeq method
        (§17.1.3), so a 200 to a CANCEL never reaches the INVITE's transaction."""
        key = client_key_for_response(response)
        return None if key is None else self._live(self._client, key)

    def match_request(self, request: Request) -> ServerTransaction | None:
        """The server transaction a request belongs to (§17.2.3): branch + sent-by +
        method, an ACK matching its INVITE's transaction. A CANCEL matches only its own
        transaction (a retransmitted CANCEL); see :meth:`find_invite_for_cancel`."""
        key = server_key_for_request(request)
        return None if key is None else self._live(self._server, key)

    def find_invite_for_cancel(self, cancel: Request) -> ServerTransaction | None:
        """The INVITE server transaction a CANCEL cancels (§9.2): the CANCEL's top Via
        equals the INVITE's (§9.1), so the INVITE's key is the CANCEL's with method
        INVITE."""
        if cancel.method != "CANCEL":
            return None
        key = server_key_for_request(cancel, method="INVITE")
        return None if key is None else self._live(self._server, key)

    def on_timer(self, now: float) -> list[tuple[AnyTransaction, Effect]]:
        """Fire the due timers of every transaction (earliest first), then drop the
        terminated ones."""
        due: list[tuple[float, int, AnyTransaction]] = []
        for i, tx in enumerate(self):
            deadline = tx.next_deadline()
            if deadline is not None and deadline <= now:
                due.append((deadline, i, tx))
        out: list[tuple[AnyTransaction, Effect]] = []
        for _, _, tx in sorted(due, key=lambda item: (item[0], item[1])):
            out.extend((tx, effect) for effect in tx.on_timer(now))
        self.remove_terminated()
        return out

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (tx.next_deadline() for tx in self) if d is not None]
        return min(deadlines) if deadlines else None

    def fail_all(self, now: float) -> list[tuple[AnyTransaction, Effect]]:
        """The transport is gone: every transaction gets a transport error (§17.1.4,
        §17.2.4) and the table is emptied."""
        out: list[tuple[AnyTransaction, Effect]] = []
        for tx in self:
            out.extend((tx, effect) for effect in tx.transport_error(now))
        self._client.clear()
        self._server.clear()
        return out

    @staticmethod
    def _live(table: dict[TransactionKey, _T], key: TransactionKey) -> _T | None:
        tx = table.get(key)
        if tx is None:
            return None
        if tx.terminated:
            del table[key]
            return None
        return tx
