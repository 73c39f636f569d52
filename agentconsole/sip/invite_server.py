"""The UAS half of calls and the call API the UserAgent exposes.

RFC 3261 §13.3 (answering an INVITE; the UAS core retransmits its 2xx until the ACK
and sends a BYE when none came in 64·T1, §13.3.1.4), §9.2 (CANCEL: 200, then 487 to
the INVITE), §12.2.2 (in-dialog requests: matched by Call-ID and both tags, a lower
CSeq gets 500), §14.2 (re-INVITE glare → 491; a second pending one → 500 with
Retry-After), §15.1.2 (BYE), RFC 3311 (UPDATE), RFC 6086 (INFO), RFC 4028 §9 (session
timers as UAS).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from .capabilities import ALLOW, SUPPORTED
from .dialog import Dialog
from .errors import LocalProtocolError, SipError
from .events import CallConfirmed, CallIncoming, DialogRefreshed, InfoReceived, ReinviteReceived
from .invite import CallLeg, CallState, PendingAnswer
from .invite_client import body_sdp
from .message import Request, Response, make_response
from .session_timer import negotiate_uas
from .transaction import (
    ClientInviteTransaction,
    ClientTransaction,
    ServerTransaction,
    TxState,
)
from .transfer import TransferCalls

logger = logging.getLogger(__name__)

def invite_precheck(request: Request,
                    accept_invites: bool) -> tuple[int | None, list[tuple[str, str]]]:
    """What the core answers to an initial INVITE before it becomes a call (§8.2.3:
    406/415 for bodies we cannot read; 480 when calls are not enabled)."""
    accept = request.headers.get("Accept")
    if accept is not None and "application/sdp" not in accept.lower() \
            and "*/*" not in accept and "application/*" not in accept.lower():
        return 406, [("Accept", "application/sdp")]
    if request.body and (request.content_type or "") not in ("application/sdp",
                                                              "multipart/mixed"):
        return 415, [("Accept", "application/sdp")]
    if not accept_invites:
        return 480, [("Warning", '399 agentconsole "calls are not enabled"')]
    return None, []


class CallManager(TransferCalls):
    """Every call of one UserAgent: the UAC half, transfer (:mod:`.transfer`) and what
    arrives from peers."""

    # ----- routing from the UA ---------------------------------------------------------------
    def matches(self, request: Request) -> bool:
        """True when ``request`` belongs to one of our calls (a dialog, or a CANCEL of an
        INVITE we are answering). Never raises."""
        if request.method == "CANCEL":
            return self._leg_for_cancel(request) is not None
        return self.leg_for(request) is not None

    def leg_for(self, request: Request) -> CallLeg | None:
        """The call whose dialog ``request`` is in (§12.2.2: Call-ID, To tag = ours,
        From tag = theirs)."""
        try:
            key = (request.call_id, request.to.tag or "", request.from_.tag or "")
        except SipError:
            return None
        return self.dialogs.get(key) if key[1] else None

    def _leg_for_cancel(self, cancel: Request) -> CallLeg | None:
        tx = self.host.transactions.find_invite_for_cancel(cancel)
        if tx is None:
            return None
        return next((leg for leg in self.legs.values() if leg._tx is tx), None)

    def receive_request(self, request: Request, tx: ServerTransaction, now: float) -> None:
        """A new request for the call layer (an initial INVITE, a CANCEL or an in-dialog
        request); the server transaction is already running."""
        if request.method == "CANCEL":
            self._on_cancel(request, tx, now)
            return
        leg = self.leg_for(request)
        if leg is None:
            if request.method == "INVITE":
                self._incoming_invite(request, tx, now)
            else:
                self._respond(tx, make_response(request, 481, to_tag=self.token()), now)
            return
        assert leg.dialog is not None
        if not leg.dialog.accept_remote_cseq(request.cseq.number):
            self._respond(tx, self._response(leg, request, 500), now)  # §12.2.2
            return
        method = request.method
        if method in ("INVITE", "UPDATE"):
            self._on_offer_request(leg, request, tx, now)
        elif method == "BYE":
            self._on_bye(leg, request, tx, now)
        elif method == "INFO":
            self._respond(tx, self._response(leg, request, 200), now)
            self._post(InfoReceived(leg, request.headers.get("Content-Type") or "",
                                    request.body))
        elif method == "NOTIFY":
            self._on_notify(leg, request, tx, now)
        elif method == "REFER":
            self._on_refer(leg, request, tx, now)
        else:
            response = self._response(leg, request, 501)
            response.headers.add("Allow", ALLOW)
            self._respond(tx, response, now)

    # ----- responses --------------------------------------------------------------------------
    def _response(self, leg: CallLeg, request: Request, status: int,
                  reason: str | None = None) -> Response:
        tag = leg.dialog.local_tag if leg.dialog is not None else self.token()
        response = make_response(request, status, reason, to_tag=tag)
        if request.method == "INVITE" and 100 < status < 300:
            for value in request.headers.get_raw_all("Record-Route"):  # §12.1.1
                response.headers.add("Record-Route", value)
        if request.method in ("INVITE", "UPDATE") and 100 < status < 300:
            response.headers.add("Contact", self.host.contact())
        if 200 <= status < 300 and request.method in ("INVITE", "UPDATE"):
            response.headers.add("Allow", ALLOW)
            response.headers.add("Supported", SUPPORTED)
        response.headers.add("Server", self.host.config.user_agent)
        return response

    def _respond(self, tx: ServerTransaction | None, response: Response, now: float) -> bool:
        """Send on ``tx``; False when it cannot take it any more (already final, gone)."""
        if tx is None or tx.terminated:
            return False
        try:
            self.host.send_response(tx, response, now)
        except LocalProtocolError as exc:
            logger.debug("cannot send %d: %s", response.status, exc)
            return False
        return True

    # ----- a new incoming call --------------------------------------------------------------
    def _incoming_invite(self, request: Request, tx: ServerTransaction, now: float) -> None:
        config = self.host.config
        decision = negotiate_uas(request, config.session_expires, config.min_se)
        if decision.reject_min_se is not None:  # RFC 4028 §8.1
            response = make_response(request, 422, to_tag=self.token())
            response.headers.add("Min-SE", str(decision.reject_min_se))
            self._respond(tx, response, now)
            return
        try:
            remote = request.from_
            local = request.to
            call_id = request.call_id
        except SipError:
            self._respond(tx, make_response(request, 400, to_tag=self.token()), now)
            return
        refusal, replaced = self.match_replaces(request)  # RFC 3891 §3
        if refusal is not None:
            self._respond(tx, make_response(request, refusal, to_tag=self.token()), now)
            return
        tag = self.token()
        leg = CallLeg(id=f"{call_id}:{tag}", call_id=call_id, direction="inbound",
                      invite=request, local_identity=local, remote_identity=remote,
                      state=CallState.INCOMING, remote_sdp=body_sdp(request),
                      session_timer=decision.timer, _tx=tx, _peer_caps=request,
                      _se_headers=decision.headers, replaces=replaced,
                      source=tx.source if isinstance(tx.source, tuple) else None)
        self._bind(leg, Dialog.from_uas(request, tag, self.host.contact()))
        self.legs[leg.id] = leg
        self._post(CallIncoming(request, tx, leg))

    def ring(self, leg: CallLeg, now: float, status: int = 180) -> None:
        """A provisional with our tag (an early dialog, §13.3.1.1) and Contact."""
        if leg.direction != "inbound" or leg.state not in (CallState.INCOMING, CallState.EARLY):
            return
        status = status if 101 <= status <= 199 else 180
        if self._respond(leg._tx if isinstance(leg._tx, ServerTransaction) else None,
                         self._response(leg, leg.invite, status), now):
            leg.state = CallState.EARLY

    def answer(self, leg: CallLeg, sdp: bytes, now: float, *,
               extra_headers: Sequence[tuple[str, str]] = ()) -> None:
        """200 OK with ``sdp`` (an offer when the INVITE had none) and ``extra_headers``;
        retransmitted until the ACK (§13.3.1.4)."""
        if leg.direction != "inbound" or leg.state not in (CallState.INCOMING, CallState.EARLY):
            return
        tx = leg._tx if isinstance(leg._tx, ServerTransaction) else None
        response = self._response(leg, leg.invite, 200)
        for name, value in leg._se_headers:
            response.headers.add(name, value)
        for name, value in extra_headers:
            response.headers.add(name, value)
        if sdp:
            response.headers.add("Content-Type", "application/sdp")
            response.body = sdp
        if not self._respond(tx, response, now) or tx is None:
            return
        leg.state = CallState.CONFIRMING
        leg.established = True
        leg.local_sdp = sdp or leg.local_sdp
        if leg.dialog is not None:
            leg.dialog.early = False
        self._await_ack(leg, response, tx, leg.invite.cseq.number, now, initial=True)
        self._start_session_timer(leg, leg.session_timer, now)

    def _await_ack(self, leg: CallLeg, response: Response, tx: ServerTransaction, cseq: int,
                   now: float, *, initial: bool) -> None:
        t1 = self.host.config.timers.t1
        leg._answer = PendingAnswer(response, self.host.response_dest(tx), cseq, t1, initial)
        self._arm(leg, "2xx", now + t1)
        self._arm(leg, "noack", now + 64 * t1)

    def reject(self, leg: CallLeg, status: int, now: float, reason: str | None = None, *,
               warning: str | None = None) -> None:
        """A final non-2xx to an unanswered incoming call; for any other leg: hangup."""
        if leg.direction != "inbound" or leg.state not in (CallState.INCOMING, CallState.EARLY):
            self.hangup(leg, now)
            return
        status = status if 300 <= status <= 699 else 486
        response = self._response(leg, leg.invite, status, reason)
        if warning:
            response.headers.add("Warning", warning)
        self._respond(leg._tx if isinstance(leg._tx, ServerTransaction) else None,
                      response, now)
        self._report_failed(leg, status, response.reason, "Rejected")
        self._close(leg)

    def hangup(self, leg: CallLeg, now: float) -> None:
        """End the call whatever its state (never raises): CANCEL an outbound call not yet
        answered, 486 an inbound one, BYE an established one. An inbound call answered
        but not yet ACKed sends its BYE when the ACK arrives or 64·T1 passed (§15)."""
        state = leg.state
        if state in (CallState.TERMINATED, CallState.TERMINATING):
            return
        if leg.direction == "outbound" and state in (CallState.CALLING, CallState.PROCEEDING,
                                                     CallState.EARLY):
            self.cancel(leg, now)
        elif state in (CallState.INCOMING, CallState.EARLY):
            self.reject(leg, 486, now)
        elif state is CallState.CONFIRMING:
            leg._bye_wanted = True
            leg.state = CallState.TERMINATING
        else:
            self._local_bye(leg, now)

    def _local_bye(self, leg: CallLeg, now: float, cause: str = "Terminated") -> None:
        self._disarm(leg, "refresh", "expire", "glare", "2xx", "noack")
        if leg._in_update is not None:  # §15.1.2: answer what is pending first
            request, tx = leg._in_update
            leg._in_update = None
            self._respond(tx, self._response(leg, request, 487), now)
        leg.state = CallState.TERMINATING
        if cause != "Terminated":  # No ACK / Expires: the reason is known now
            self._report_ended(leg, cause, None)
        if leg.dialog is None:
            self._report_ended(leg, cause, None)
            self._close(leg)
            return

        def done(response: Response | None, status: int, reason: str, t: float) -> None:
            self._report_ended(leg, cause, status)
            self._close(leg)

        self._bye(leg, now, done)

    # ----- ACK, CANCEL, BYE ---------------------------------------------------------------------
    def on_ack(self, ack: Request, now: float) -> None:
        """An ACK outside any transaction, or one an Accepted IST passed up (RFC 6026)."""
        leg = self.leg_for(ack)
        try:
            number = ack.cseq.number
        except SipError:
            return
        if leg is None or leg._answer is None or leg._answer.cseq != number:
            return  # a retransmitted or stray ACK: absorb (§13.3.1.4)
        pending = leg._answer
        leg._answer = None
        self._disarm(leg, "2xx", "noack")
        sdp = body_sdp(ack)
        if sdp is not None:
            leg.remote_sdp = sdp
        if pending.initial and leg._bye_wanted:
            self._local_bye(leg, now)
        elif pending.initial:
            leg.state = CallState.CONFIRMED
            self._post(CallConfirmed(leg, sdp))
        elif sdp is not None:
            self._post(CallConfirmed(leg, sdp, reinvite=True))

    def _on_cancel(self, cancel: Request, tx: ServerTransaction, now: float) -> None:
        leg = self._leg_for_cancel(cancel)
        self._respond(tx, make_response(cancel, 200 if leg else 481, to_tag=self.token()), now)
        if leg is None or leg.state not in (CallState.INCOMING, CallState.EARLY):
            return  # the final went out already: the CANCEL has no effect (§9.2)
        invite_tx = leg._tx if isinstance(leg._tx, ServerTransaction) else None
        self._respond(invite_tx, self._response(leg, leg.invite, 487), now)
        self._report_failed(leg, 487, "Request Terminated", "Canceled")
        self._close(leg)

    def _on_bye(self, leg: CallLeg, bye: Request, tx: ServerTransaction, now: float) -> None:
        self._respond(tx, self._response(leg, bye, 200), now)
        if leg._in_update is not None:  # §15.1.2: 487 to what is still pending
            request, pending_tx = leg._in_update
            leg._in_update = None
            self._respond(pending_tx, self._response(leg, request, 487), now)
        if leg.direction == "inbound" and leg.state in (CallState.INCOMING, CallState.EARLY):
            invite_tx = leg._tx if isinstance(leg._tx, ServerTransaction) else None
            self._respond(invite_tx, self._response(leg, leg.invite, 487), now)
            self._report_failed(leg, 487, "Request Terminated", "Canceled")
        elif leg.established:
            self._report_ended(leg, "Terminated", None, by_remote=True)
        else:  # a BYE on our early dialog: the callee gave up
            self._report_failed(leg, 0, "BYE", "Terminated")
        self._close(leg)

    # ----- re-INVITE and UPDATE from the peer ----------------------------------------------------
    def _on_offer_request(self, leg: CallLeg, request: Request, tx: ServerTransaction,
                          now: float) -> None:
        method = request.method
        confirmed = leg.state is CallState.CONFIRMED
        early_update = method == "UPDATE" and leg.state in (CallState.EARLY,
                                                             CallState.CONFIRMING)
        if not confirmed and not early_update:
            self._retry_later(leg, request, tx, now)
            return
        if leg._out_update is not None and leg._out_update.tx is not None \
                and not leg._out_update.tx.terminated:
            self._respond(tx, self._response(leg, request, 491), now)  # glare, §14.2
            return
        if leg._in_update is not None or leg._answer is not None:
            self._retry_later(leg, request, tx, now)
            return
        config = self.host.config
        decision = negotiate_uas(request, config.session_expires, config.min_se)
        if decision.reject_min_se is not None:
            response = self._response(leg, request, 422)
            response.headers.add("Min-SE", str(decision.reject_min_se))
            self._respond(tx, response, now)
            return
        sdp = body_sdp(request)
        leg._in_update = (request, tx)
        if method == "UPDATE" and sdp is None:
            self.answer_reinvite(leg, None, now)  # a session refresh (RFC 4028 §9)
        elif method == "INVITE" and sdp is not None and sdp == leg.remote_sdp \
                and leg.local_sdp is not None:
            self.answer_reinvite(leg, leg.local_sdp, now)  # an unchanged offer: a refresh
        else:
            self._post(ReinviteReceived(leg, sdp, method))

    def _retry_later(self, leg: CallLeg, request: Request, tx: ServerTransaction,
                     now: float) -> None:
        """500 with Retry-After (§14.2): another offer is still being answered."""
        response = self._response(leg, request, 500)
        response.headers.add("Retry-After", str(self.host.rng.randint(0, 10)))
        self._respond(tx, response, now)

    def answer_reinvite(self, leg: CallLeg, sdp: bytes | None, now: float,
                        status: int = 200, *, warning: str | None = None) -> None:
        """Answer the pending re-INVITE/UPDATE: 2xx with ``sdp`` (our answer, or our offer
        for an offerless re-INVITE), or a failure such as 488 (the session is kept,
        RFC 3264 §8) with a ``warning`` header value saying why (RFC 3261 §20.43)."""
        pending = leg._in_update
        if pending is None:
            return
        request, tx = pending
        leg._in_update = None
        if not 200 <= status < 300:
            refusal = self._response(leg, request, status if status >= 300 else 488)
            if warning:
                refusal.headers.add("Warning", warning)
            self._respond(tx, refusal, now)
            return
        response = self._response(leg, request, status)
        config = self.host.config
        decision = negotiate_uas(request, config.session_expires, config.min_se)
        for name, value in decision.headers:
            response.headers.add(name, value)
        if sdp:
            response.headers.add("Content-Type", "application/sdp")
            response.body = sdp
        if not self._respond(tx, response, now):
            return
        if leg.dialog is not None:
            leg.dialog.refresh_target(request)  # a target refresh (§12.2)
        leg._peer_caps = request if request.headers.get("Allow") else leg._peer_caps
        offer = body_sdp(request)
        if offer is not None:
            leg.remote_sdp = offer
        if sdp:
            leg.local_sdp = sdp
        self._start_session_timer(leg, decision.timer, now)
        if request.method == "INVITE":
            self._await_ack(leg, response, tx, request.cseq.number, now, initial=False)
        self._post(DialogRefreshed(leg, request))

    # ----- deadlines -----------------------------------------------------------------------------
    def _fire(self, leg: CallLeg, kind: str, now: float) -> None:
        if kind == "2xx" and leg._answer is not None:
            pending = leg._answer
            self.host.emit(pending.response, pending.dest)
            pending.interval = min(2 * pending.interval, self.host.config.timers.t2)
            self._arm(leg, "2xx", now + pending.interval)
        elif kind == "noack" and leg._answer is not None:
            leg._answer = None  # §13.3.1.4: no ACK in 64·T1 → BYE
            self._disarm(leg, "2xx")
            self._local_bye(leg, now, "Terminated" if leg._bye_wanted else "No ACK")
        elif kind == "glare" and leg._out_update is not None:
            if leg.state is CallState.CONFIRMED and leg._in_update is None:
                self._send_update(leg, now)
            elif leg.state is CallState.CONFIRMED:
                self._arm(leg, "glare", now + self.host.rng.uniform(0.0, 2.0))
        elif kind == "refresh":
            self._session_refresh(leg, now)
        elif kind == "expire" and leg.state is CallState.CONFIRMED:
            self._local_bye(leg, now, "Expires")  # RFC 4028 §10: no refresh came
        elif kind == "cancel" and leg.state is not CallState.TERMINATED:
            self._cancel_gave_up(leg, now)
        elif kind == "refer":
            self._refer_timeout(leg)
        elif kind == "refer-in":
            self._refer_undecided(leg, now)
        elif kind == "target":
            self.target_refresh(leg, now)

    # ----- the flow (RFC 6026 §8.4, RFC 3261 §12.2) -----------------------------------------
    def flow_lost(self, tx: ClientTransaction, now: float) -> bool:
        """``tx`` dies with its flow. True when that ends nothing: an in-dialog request
        waits for the flow to come back, and an INVITE already answered (Accepted, RFC
        6026 §8.4) only stops absorbing 2xx retransmissions — its call stays up."""
        if self.sender.flow_lost(tx, now):
            return True
        return isinstance(tx, ClientInviteTransaction) and tx.state is TxState.ACCEPTED

    def transport_down(self, now: float) -> None:
        """The flow is gone: calls not yet established cannot finish their INVITE."""
        for leg in list(self.legs.values()):
            if not leg.established and leg.state is not CallState.TERMINATED:
                self._report_failed(leg, 503, "Service Unavailable", "Connection Error")
                self._close(leg)

    def flow_restored(self, now: float) -> None:
        """A new flow (or a new local address): resend what waited for it, then make
        every confirmed call reachable at the new Contact (:meth:`target_refresh`)."""
        self.sender.flow_restored(now)
        for leg in list(self.legs.values()):
            self.target_refresh(leg, now)


__all__ = ["CallManager", "invite_precheck"]
