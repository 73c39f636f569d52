"""Requests inside calls, seen through to their final answer even across a lost flow.

Every in-dialog request a call sends (re-INVITE, UPDATE, BYE, INFO, REFER, NOTIFY) goes
through :class:`InDialogSender`, which adds two things to the plain client transaction:

* **One digest retry** (RFC 3261 §22.2): a 401/407 is answered once with credentials
  from the call's own authenticator, in a new transaction with the next CSeq.
* **Flow recovery** (RFC 3261 §17.1.4 read with RFC 5626 §4.4): on a connection-oriented
  transport a reset kills the transactions on it, but not the dialog. A request whose
  flow died, or that is sent while there is none, is *parked*; when the transport is
  up again it is sent once more, as a new request of the dialog (next CSeq, a new
  branch, the new Contact in target-refresh methods, §12.2.1.1) so that a peer that did
  see the first copy does not take the second for a merged request (§8.2.2.2). The
  wait is bounded by the transaction timeout the request would have had: a request
  whose flow is not back within 64·T1 of its first sending (Timer B/F) times out with a
  408, exactly as an unanswered one does, and only then may the call give up on the
  dialog.

A parked BYE is sent even when its call has meanwhile been closed: the far end must
hear that the call is over. Other requests of a closed call are dropped. For the same
reason a CANCEL waits for the next flow when a reset cuts off an INVITE that was already
ringing (:meth:`InDialogSender.cancel_on_next_flow`): the call has failed here, and the
proxy must stop ringing the callee rather than connect them to nobody.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .auth import DigestAuthenticator
from .dialog import Dialog
from .message import Request, Response
from .timers import TimerConfig, TimerSet
from .transaction import ClientTransaction

if TYPE_CHECKING:
    from .invite import CallLeg
    from .ua import UserAgent

logger = logging.getLogger(__name__)

Address = tuple[str, int]
ResponseHandler = Callable[[Response | None, int, str, float], None]
TxListener = Callable[[ClientTransaction], None]


def answer_bound(timers: TimerConfig) -> float:
    """The longest an in-dialog request waits for its final answer, or for the 408 that
    stands for none, from its first sending: parked through a flow outage for up to
    64·T1 (its Timer B/F), then sent again as a new transaction with a Timer B/F of its
    own — 2×64·T1, 64 s with the default T1. A layer above that waits for the outcome
    must wait at least this long, or it gives up on a request the core still carries."""
    return 2 * 64 * timers.t1


@dataclass(eq=False)
class _Outstanding:
    """One in-dialog request until its final answer: what to do with the answer, and
    when it must be given up (``deadline``, 64·T1 after it was first sent)."""

    leg: CallLeg
    request: Request
    on_final: ResponseHandler
    on_tx: TxListener | None
    deadline: float
    auth_tried: bool = False
    tx: ClientTransaction | None = field(default=None, repr=False)


class InDialogSender:
    """Sends the in-dialog requests of every call of one UA (see the module docstring).

    ``authenticator(leg)`` gives the call's digest state, ``dest_for(dialog)`` the next
    hop (None on connection-oriented transports).
    """

    def __init__(self, host: UserAgent,
                 authenticator: Callable[[CallLeg], DigestAuthenticator | None],
                 dest_for: Callable[[Dialog | None], Address | None]) -> None:
        self.host = host
        self._authenticator = authenticator
        self._dest_for = dest_for
        self._live: dict[int, _Outstanding] = {}  # by id() of the running transaction
        self._parked: list[_Outstanding] = []
        self._cancels: dict[str, tuple[Request, Address | None]] = {}  # by timer key
        self._timers = TimerSet()

    # ----- sending ------------------------------------------------------------------------
    def send(self, leg: CallLeg, request: Request, now: float, on_final: ResponseHandler,
             on_tx: TxListener | None = None) -> None:
        """Send ``request`` in ``leg``'s dialog; ``on_final`` hears every final response
        (2xx retransmissions of a re-INVITE included), a timeout as ``(None, 408, ...)``;
        ``on_tx`` each transaction that carries it (a retry has a new CSeq)."""
        timeout = 64 * self.host.config.timers.t1
        self._transmit(_Outstanding(leg, request, on_final, on_tx, now + timeout), now)

    def _transmit(self, item: _Outstanding, now: float) -> None:
        if self.host.flow_lost:
            self._park(item, now)
            return

        def handler(response: Response | None, status: int, reason: str, t: float) -> None:
            self._on_response(item, response, status, reason, t)

        tx = self.host.send_request(item.request, now, on_response=handler,
                                    destination=self._dest_for(item.leg.dialog))
        item.tx = tx
        self._live[id(tx)] = item
        if item.on_tx is not None:
            item.on_tx(tx)

    def _on_response(self, item: _Outstanding, response: Response | None, status: int,
                     reason: str, now: float) -> None:
        if response is not None and status < 200:
            return
        if item.tx is not None:
            self._live.pop(id(item.tx), None)
        dialog = item.leg.dialog
        if response is not None and status in (401, 407) and not item.auth_tried \
                and dialog is not None:
            item.auth_tried = True
            retry = self._authorized(item.leg, dialog, item.request, response)
            if retry is not None:
                item.request = retry
                self._transmit(item, now)
                return
        item.on_final(response, status, reason, now)

    def _authorized(self, leg: CallLeg, dialog: Dialog, request: Request,
                    response: Response) -> Request | None:
        auth = self._authenticator(leg)
        retry = auth.handle_challenge(request, response) if auth is not None else None
        if retry is not None:
            dialog.local_cseq += 1
            retry.headers.set("CSeq", f"{dialog.local_cseq} {request.method}")
        return retry

    # ----- the flow -----------------------------------------------------------------------
    def flow_lost(self, tx: ClientTransaction, now: float) -> bool:
        """``tx`` dies with its flow: park its request if it is one of ours (True)."""
        item = self._live.pop(id(tx), None)
        if item is None:
            return False
        self._park(item, now)
        return True

    def _park(self, item: _Outstanding, now: float) -> None:
        logger.debug("call %s: %s waits for the flow to come back", item.leg.id,
                     item.request.method)
        self._parked.append(item)
        self._timers.arm(str(id(item)), max(item.deadline, now))

    def cancel_on_next_flow(self, cancel: Request, destination: Address | None,
                            deadline: float) -> None:
        """Send ``cancel`` (of an INVITE the lost flow cut off, §9.1) as it is — same Via
        branch, so the proxy matches it to the INVITE — when a flow is back before
        ``deadline``; after that the proxy has given up on the INVITE itself."""
        key = f"cancel-{id(cancel)}"
        self._cancels[key] = (cancel, destination)
        self._timers.arm(key, deadline)

    def flow_restored(self, now: float) -> None:
        """The transport is up again: send every parked request anew (module docstring)."""
        cancels, self._cancels = self._cancels, {}
        for key, (cancel, destination) in cancels.items():
            self._timers.cancel(key)
            self.host.send_request(cancel, now, keep_via=True, destination=destination)
        parked, self._parked = self._parked, []
        for item in parked:
            self._timers.cancel(str(id(item)))
            dialog = item.leg.dialog
            if dialog is None or (item.leg.is_terminated and item.request.method != "BYE"):
                continue
            item.request = self._renewed(item.leg, item.request, dialog)
            self._transmit(item, now)

    def _renewed(self, leg: CallLeg, request: Request, dialog: Dialog) -> Request:
        """The same request as a new one of the dialog: next CSeq, current Contact,
        fresh credentials (the next nonce count); the UA gives it a fresh Via."""
        renewed = Request(request.method, request.uri, request.headers.copy(), request.body)
        dialog.local_cseq += 1
        renewed.headers.set("CSeq", f"{dialog.local_cseq} {request.method}")
        if "Contact" in renewed.headers:
            dialog.local_contact = self.host.contact()
            renewed.headers.set("Contact", dialog.local_contact)
        if "Authorization" in renewed.headers or "Proxy-Authorization" in renewed.headers:
            auth = self._authenticator(leg)
            if auth is not None:
                renewed.headers.remove("Authorization")
                renewed.headers.remove("Proxy-Authorization")
                renewed = auth.authorize(renewed)
        return renewed

    # ----- deadlines ----------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        return self._timers.next_deadline()

    def on_timer(self, now: float) -> None:
        """Parked requests whose flow did not come back in time: Request Timeout."""
        while (due := self._timers.pop_due(now)) is not None:
            if self._cancels.pop(due[0], None) is not None:
                continue  # the flow stayed down: the proxy's own timer ends that INVITE
            item = next((p for p in self._parked if str(id(p)) == due[0]), None)
            if item is None:
                continue
            self._parked.remove(item)
            logger.info("call %s: %s timed out waiting for the flow", item.leg.id,
                        item.request.method)
            item.on_final(None, 408, "Request Timeout", now)


__all__ = ["InDialogSender", "answer_bound"]
