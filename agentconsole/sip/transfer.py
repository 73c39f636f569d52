"""Transfer inside calls: REFER and its implicit subscription, and Replaces, sans-IO.

Both roles of RFC 3515 inside an INVITE dialog:

* **Referrer** (:meth:`TransferCalls.refer`): an in-dialog REFER with ``Refer-To`` (in
  angle brackets, an escaped ``?Replaces=`` for attended transfer, RFC 3891 §3 / RFC
  5589 §7) and ``Referred-By`` (RFC 3892). Its final response is reported as
  :class:`~.events.ReferAccepted` / :class:`~.events.ReferFailed`; the NOTIFYs of the
  implicit subscription (``Event: refer``, ``message/sipfrag`` bodies) are answered 200
  and reported as :class:`~.events.TransferProgress`. A NOTIFY that matches no
  subscription gets 481 (RFC 6665 §4.1.3). If no NOTIFY comes within 64·T1 of the
  2xx, the subscription is taken as failed (RFC 6665 §4.1.2.4).
* **Referee**: an in-dialog REFER is checked (an established call, exactly one
  Refer-To, §2.4.1 → else 403/400) and reported as :class:`~.events.ReferReceived`;
  nothing is done before the application decides (RFC 3515 §5: a REFER is a request
  to place a call in the user's name). :meth:`accept_refer` answers 202 and sends the
  first NOTIFY (``SIP/2.0 100 Trying``); :meth:`notify_refer_progress` reports the
  triggered call until a final status terminates the subscription; ``Refer-Sub:
  false`` (RFC 4488) suppresses the NOTIFYs. An undecided REFER is declined (603)
  after 30·T1 so the referrer's transaction does not time out (Timer F is 64·T1).

Incoming INVITEs with Replaces are matched by :meth:`match_replaces` (RFC 3891 §3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .errors import ParseError
from .events import ReferAccepted, ReferFailed, ReferReceived, TransferProgress
from .invite import CallLeg, CallState
from .invite_client import UacCalls, no_answer_cause
from .message import Request, Response
from .refer import (
    SIPFRAG_TYPE,
    Replaces,
    build_refer_to,
    parse_event,
    parse_refer_to,
    parse_replaces,
    parse_sipfrag,
    parse_subscription_state,
    refer_sub_false,
    refer_to_values,
    replaces_values,
    sipfrag,
)
from .transaction import ServerTransaction

logger = logging.getLogger(__name__)

#: Subscription lifetime we announce in non-final NOTIFYs (RFC 6665 §4.2.2).
NOTIFY_EXPIRES_S = 120
#: Without an ``expires`` in the last NOTIFY, how long we wait for the next one.
DEFAULT_SUBSCRIPTION_S = 180.0
#: Answer an undecided REFER after this many T1 (well inside the referrer's Timer F).
DECISION_T1 = 30

ReplacesSpec = Replaces | tuple[str, str, str]


@dataclass
class OutgoingRefer:
    """Our REFER and its subscription (``state``: pending → active → terminated)."""

    cseq: int
    state: str = "pending"
    accepted: bool = False
    notified: bool = False


@dataclass
class IncomingRefer:
    """A REFER we received; ``state``: pending (undecided) → active → terminated."""

    request: Request
    tx: ServerTransaction
    event: str  # the Event value our NOTIFYs carry ("refer" or "refer;id=N")
    subscribe: bool
    state: str = "pending"


class TransferCalls(UacCalls):
    """REFER/NOTIFY handling for :class:`~.invite_server.CallManager`."""

    # hooks provided by CallManager
    def _response(self, leg: CallLeg, request: Request, status: int,
                  reason: str | None = None) -> Response:  # pragma: no cover - overridden
        raise NotImplementedError

    def _respond(self, tx: ServerTransaction | None, response: Response,
                 now: float) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    # ----- referrer --------------------------------------------------------------------------
    def refer(self, leg: CallLeg, refer_to: str, now: float, *,
              replaces: ReplacesSpec | None = None, referred_by: str | None = None,
              refer_sub: bool = True) -> bool:
        """Send REFER in ``leg``'s confirmed dialog. ``replaces`` is a
        :class:`~.refer.Replaces` or ``(call_id, to_tag, from_tag)`` as the target
        must match them (see :meth:`~.refer.Replaces.for_dialog`). False (and a
        ReferFailed with status 0 or 491) when the call cannot send one now."""
        if leg.state is not CallState.CONFIRMED or leg.dialog is None:
            self._post(ReferFailed(leg, 0, "the call is not established"))
            return False
        if leg._refer_out is not None:
            self._post(ReferFailed(leg, 491, "a transfer is already in progress"))
            return False
        if isinstance(replaces, tuple):
            replaces = Replaces(*replaces)
        aor = self.host.config.aor
        extra = [("Refer-To", build_refer_to(self.target_uri(refer_to), replaces)),
                 ("Referred-By", referred_by or f"<{aor.scheme}:{aor.user}@{aor.host_port}>")]
        if not refer_sub:
            extra.append(("Refer-Sub", "false"))
        request = self._request(leg, "REFER", extra=extra)
        sub = OutgoingRefer(request.cseq.number)
        leg._refer_out = sub

        def on_tx(tx: object) -> None:  # an authenticated retry has a new CSeq
            request_of = getattr(tx, "request", None)
            if isinstance(request_of, Request):
                sub.cseq = request_of.cseq.number

        def handler(response: Response | None, status: int, reason: str, t: float) -> None:
            self._on_refer_final(leg, sub, response, status, reason, t)

        self.sender.send(leg, request, now, handler, on_tx)
        return True

    def _on_refer_final(self, leg: CallLeg, sub: OutgoingRefer, response: Response | None,
                        status: int, reason: str, now: float) -> None:
        if leg.state is CallState.TERMINATED:
            return
        if response is not None and 200 <= status < 300:
            sub.accepted = True
            subscribed = not refer_sub_false(response.headers)
            if not subscribed and leg._refer_out is sub:
                leg._refer_out = None
                sub.state = "terminated"
            elif sub.state != "terminated" and not sub.notified:
                sub.state = "active"
                self._arm(leg, "refer", now + 64 * self.host.config.timers.t1)
            self._post(ReferAccepted(leg, status, subscribed))
            return
        if leg._refer_out is sub:
            leg._refer_out = None
        sub.state = "terminated"
        self._post(ReferFailed(leg, status, reason))
        if response is None:  # Timer F, or no flow back in time: the peer is gone
            self._dialog_error(leg, status, now, send_bye=True,
                               cause=no_answer_cause("REFER", status))
        elif status in (481, 408):
            self._dialog_error(leg, status, now, send_bye=status != 481)

    def _on_notify(self, leg: CallLeg, request: Request, tx: ServerTransaction,
                   now: float) -> None:
        """A NOTIFY in a call: only our REFER's subscription takes one (RFC 6665 §4.1.3)."""
        event = parse_event(request.headers.get("Event"))
        sub = leg._refer_out
        if event is None or event[0] != "refer" or sub is None or sub.state == "terminated" \
                or (event[1] is not None and event[1] != str(sub.cseq)):
            self._respond(tx, self._response(leg, request, 481), now)
            return
        state, params = parse_subscription_state(request.headers.get("Subscription-State"))
        frag = parse_sipfrag(request.body) if request.body else None
        if frag is None and state != "terminated":
            self._respond(tx, self._response(leg, request, 400, "Bad sipfrag"), now)
            return
        self._respond(tx, self._response(leg, request, 200), now)
        status, reason = frag if frag is not None else (0, "")
        sub.notified = True
        final = state == "terminated" or status >= 200
        if final:
            sub.state = "terminated"
            leg._refer_out = None
            self._disarm(leg, "refer")
        else:
            sub.state = "active"
            self._arm(leg, "refer", now + _expires(params))
        self._post(TransferProgress(leg, status, reason, final))

    def _refer_timeout(self, leg: CallLeg) -> None:
        sub = leg._refer_out
        if sub is None:
            return
        leg._refer_out = None
        sub.state = "terminated"
        self._post(TransferProgress(leg, 408, "No NOTIFY", True))

    # ----- referee ---------------------------------------------------------------------------
    def _on_refer(self, leg: CallLeg, request: Request, tx: ServerTransaction,
                  now: float) -> None:
        if leg.state not in (CallState.CONFIRMED, CallState.CONFIRMING):
            self._respond(tx, self._response(leg, request, 403, "Call Not Established"), now)
            return
        values = refer_to_values(request.headers)
        if len(values) != 1:  # RFC 3515 §2.4.1
            self._respond(tx, self._response(leg, request, 400, "Exactly One Refer-To"), now)
            return
        try:
            target = parse_refer_to(values[0])
        except ParseError as exc:
            logger.debug("bad Refer-To %r: %s", values[0], exc)
            self._respond(tx, self._response(leg, request, 400, "Bad Refer-To"), now)
            return
        if leg._refer_in is not None and leg._refer_in.state != "terminated":
            self._respond(tx, self._response(leg, request, 491), now)
            return
        leg._refers_received += 1
        number = request.cseq.number
        event = "refer" if leg._refers_received == 1 else f"refer;id={number}"  # §2.4.6
        leg._refer_in = IncomingRefer(request, tx, event, not refer_sub_false(request.headers))
        self._arm(leg, "refer-in", now + DECISION_T1 * self.host.config.timers.t1)
        source = tx.source if isinstance(tx.source, tuple) else None
        self._post(ReferReceived(
            leg, values[0], str(target.replaces) if target.replaces else None,
            request.headers.get("Referred-By"), target.uri, source))

    def accept_refer(self, leg: CallLeg, now: float) -> bool:
        """202 Accepted and the first NOTIFY (``100 Trying``); False when there is no
        undecided REFER (already answered, timed out, call gone)."""
        sub = leg._refer_in
        if sub is None or sub.state != "pending" or leg.state is CallState.TERMINATED:
            return False
        self._disarm(leg, "refer-in")
        response = self._response(leg, sub.request, 202)
        if not sub.subscribe:
            response.headers.add("Refer-Sub", "false")
        if not self._respond(sub.tx, response, now):
            sub.state = "terminated"
            return False
        if not sub.subscribe:
            sub.state = "terminated"
            return True
        sub.state = "active"
        self._notify(leg, sub, 100, "Trying", now)
        return True

    def reject_refer(self, leg: CallLeg, status: int, now: float) -> bool:
        """Refuse the undecided REFER (603 Decline by default, or 403 ...)."""
        sub = leg._refer_in
        if sub is None or sub.state != "pending":
            return False
        self._disarm(leg, "refer-in")
        sub.state = "terminated"
        status = status if 300 <= status <= 699 else 603
        return self._respond(sub.tx, self._response(leg, sub.request, status), now)

    def notify_refer_progress(self, leg: CallLeg, status: int, reason: str,
                              now: float) -> bool:
        """Report the triggered call's latest status; a final one (≥ 200) ends the
        subscription. False when there is no active subscription or dialog."""
        sub = leg._refer_in
        if sub is None or sub.state != "active" or leg.dialog is None \
                or leg.state not in (CallState.CONFIRMED, CallState.CONFIRMING):
            return False
        self._notify(leg, sub, status, reason, now)
        return True

    def _notify(self, leg: CallLeg, sub: IncomingRefer, status: int, reason: str,
                now: float) -> None:
        final = status >= 200
        state = "terminated;reason=noresource" if final else f"active;expires={NOTIFY_EXPIRES_S}"
        if final:
            sub.state = "terminated"
        request = self._request(leg, "NOTIFY", body=sipfrag(status, reason),
                                content_type=f"{SIPFRAG_TYPE};version=2.0",
                                extra=[("Event", sub.event), ("Subscription-State", state)])

        def handler(response: Response | None, code: int, text: str, t: float) -> None:
            if code == 481:  # the subscription is gone; the call itself stays (RFC 5057)
                sub.state = "terminated"
            elif response is None:  # no answer at all: the peer is gone (RFC 5057 §5.1)
                sub.state = "terminated"
                self._dialog_error(leg, code, t, send_bye=True,
                                   cause=no_answer_cause("NOTIFY", code))

        self.sender.send(leg, request, now, handler)

    def _refer_undecided(self, leg: CallLeg, now: float) -> None:
        sub = leg._refer_in
        if sub is not None and sub.state == "pending":
            logger.info("call %s: REFER not decided in time, declining", leg.id)
            self.reject_refer(leg, 603, now)

    # ----- Replaces (RFC 3891 §3) -------------------------------------------------------------
    def match_replaces(self, request: Request) -> tuple[int | None, CallLeg | None]:
        """For an initial INVITE: ``(None, None)`` without Replaces, ``(None, leg)``
        when it replaces ``leg``, ``(status, None)`` when it must be refused: 400 for
        several or unreadable Replaces, 481 for no such dialog (or an early dialog we
        did not initiate), 603 for one that ended, 486 for ``early-only`` on a
        confirmed dialog."""
        values = replaces_values(request.headers)
        if not values:
            return None, None
        if len(values) > 1:
            return 400, None
        try:
            wanted = parse_replaces(values[0])
        except ParseError:
            return 400, None
        key = (wanted.call_id, wanted.to_tag, wanted.from_tag)
        leg = self.dialogs.get(key)
        if leg is None:
            return (603 if key in self.ended_dialogs else 481), None
        if leg.state in (CallState.TERMINATING, CallState.TERMINATED):
            return 603, None
        confirmed = leg.state in (CallState.CONFIRMED, CallState.CONFIRMING)
        if confirmed and wanted.early_only:
            return 486, None
        if not confirmed and leg.direction == "inbound":
            return 481, None
        return None, leg


def _expires(params: dict[str, str | None]) -> float:
    value = params.get("expires")
    if value is not None and value.isdigit():
        return min(float(value), 3600.0) + 32.0
    return DEFAULT_SUBSCRIPTION_S


__all__ = ["IncomingRefer", "OutgoingRefer", "TransferCalls"]
