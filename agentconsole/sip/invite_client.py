"""The UAC half of calls: our INVITE, CANCEL, ACK, re-INVITE/UPDATE, BYE and INFO.

RFC 3261 §13.2 (INVITE and its responses), §9.1 (CANCEL only after a provisional;
a 2xx that races the CANCEL is ACKed and BYEd), §13.2.2.4 (the TU ACKs every 2xx,
forked ones too), §22.2 (one authenticated retry), §14.1 (re-INVITE failures keep
the session; 491 → retry after a random delay), §12.2.1.2 (481/408 end the dialog)
and RFC 4028 (422 retry, refreshes).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from .auth import may_answer_again
from .capabilities import ALLOW, SUPPORTED
from .dialog import Dialog
from .errors import LocalProtocolError, SipError
from .events import CallAnswered, CallProgress, ReinviteResult
from .invite import (
    TRANSPORT_ERROR,
    CallBase,
    CallLeg,
    CallState,
    OutgoingUpdate,
    ResponseHandler,
    cancel_for,
    failure_cause,
)
from .message import Headers, Request, Response
from .session_timer import (
    SessionTimer,
    allows,
    from_uac_response,
    min_se_of,
    refresh_headers,
)
from .transaction import ClientTransaction
from .uri import NameAddr, SipUri, parse_uri

logger = logging.getLogger(__name__)

#: re-INVITE attempts after 491 Request Pending, the first one included (§14.1).
MAX_GLARE_ATTEMPTS = 3


def body_sdp(message: Request | Response) -> bytes | None:
    """The body when there is one; SDP is opaque here, the media layer reads it."""
    return message.body or None


class UacCalls(CallBase):
    """Everything we send as the client of a transaction in a call."""

    # ----- new outbound call -----------------------------------------------------------------
    def target_uri(self, target: str) -> str:
        """``1002`` → ``sip:1002@<AOR domain>``; sip:/sips:/tel: URIs are kept."""
        text = target.strip()
        if not text:
            raise LocalProtocolError("empty call target")
        lower = text.lower()
        if not lower.startswith(("sip:", "sips:", "tel:")):
            text = f"sip:{text}" if "@" in text else f"sip:{text}@{self.host.config.aor.host_port}"
        try:
            parse_uri(text)
        except SipError as exc:
            raise LocalProtocolError(f"bad call target {target!r}: {exc}") from exc
        return text

    def invite(self, target: str, sdp: bytes, now: float, *,
               extra_headers: Sequence[tuple[str, str]] = (), call_id: str | None = None,
               replaces: str | None = None) -> CallLeg:
        config = self.host.config
        uri = self.target_uri(target)
        call_id = call_id or self.token(24)
        tag = self.token(10)
        aor = config.aor
        local = NameAddr(SipUri(aor.scheme, aor.host, aor.user, None, aor.port),
                         config.display_name, {"tag": tag})
        remote = NameAddr(parse_uri(uri))
        headers = Headers([
            ("Max-Forwards", "70"), ("From", str(local)), ("To", str(remote)),
            ("Call-ID", call_id), ("CSeq", "1 INVITE"), ("Contact", self.host.contact()),
            ("Allow", ALLOW), ("Supported", SUPPORTED),
            ("Session-Expires", str(config.session_expires)),
            ("User-Agent", config.user_agent),
        ])
        if replaces:
            headers.add("Replaces", replaces)
        for name, value in extra_headers:
            headers.add(name, value)
        if sdp:
            headers.add("Content-Type", "application/sdp")
        invite = Request("INVITE", uri, headers, sdp)
        leg = CallLeg(id=f"{call_id}:{tag}", call_id=call_id, direction="outbound",
                      invite=invite, local_identity=local, remote_identity=remote,
                      state=CallState.CALLING, local_sdp=sdp or None)
        self.legs[leg.id] = leg
        self._send_invite(leg, invite, now)
        return leg

    def _send_invite(self, leg: CallLeg, invite: Request, now: float) -> None:
        cell: list[ClientTransaction] = []

        def handler(response: Response | None, status: int, reason: str, t: float) -> None:
            self._on_invite_response(leg, cell[0], response, status, reason, t)

        tx = self.host.send_request(invite, now, on_response=handler)
        cell.append(tx)
        leg._tx = tx
        leg.invite = tx.request

    def _on_invite_response(self, leg: CallLeg, tx: ClientTransaction,
                            response: Response | None, status: int, reason: str,
                            now: float) -> None:
        if response is not None and 200 <= status < 300:
            self._on_invite_2xx(leg, tx, response, now)
            return
        if tx is not leg._tx or leg.state is CallState.TERMINATED:
            return
        if response is None:
            if status == TRANSPORT_ERROR:
                self._cancel_on_next_flow(leg, tx, now)
                self._report_failed(leg, status, reason, "Connection Error")
            elif leg._cancel:
                self._report_failed(leg, 408, "Request Timeout", "Canceled")
            else:
                self._report_failed(leg, 408, "Request Timeout", "Request Timeout")
            self._close(leg)
        elif status < 200:
            self._on_provisional(leg, tx, response, now)
        else:
            self._on_invite_failure(leg, tx, response, now)

    def _on_provisional(self, leg: CallLeg, tx: ClientTransaction, response: Response,
                        now: float) -> None:
        if leg._cancel == "wanted":
            self._send_cancel(leg, now)
        if leg.state not in (CallState.CALLING, CallState.PROCEEDING, CallState.EARLY):
            return
        try:
            tag = response.to.tag
        except SipError:
            tag = None
        if tag and response.status > 100:
            if leg.dialog is None:  # the first early dialog (§12.1.2); other forks' 1xx
                self._bind(leg, Dialog.from_uac(tx.request, response, self.host.contact()))
            elif leg.dialog.remote_tag == tag:  # only report progress
                leg.dialog.refresh_target(response)
            leg.state = CallState.EARLY
        elif leg.state is CallState.CALLING:
            leg.state = CallState.PROCEEDING
        sdp = body_sdp(response)
        if sdp is not None:
            leg.remote_sdp = sdp
        self._post(CallProgress(leg, response.status, response.reason, sdp))

    def _on_invite_2xx(self, leg: CallLeg, tx: ClientTransaction, response: Response,
                       now: float) -> None:
        try:
            tag = response.to.tag or ""
            number = response.cseq.number
        except SipError:
            return
        current = leg.dialog
        if current is not None and not current.early:
            if current.remote_tag == tag:  # a retransmission: ACK it again (§13.2.2.4)
                ack = leg._acks.get(number)
                if ack is not None:
                    self.host.emit(ack, self.dest_for(current))
                return
            self._ack_and_bye(leg, tx.request, response, now)  # a second fork
            return
        if leg.state is CallState.TERMINATED and leg._reported:
            self._ack_and_bye(leg, tx.request, response, now)
            return
        dialog = Dialog.from_uac(tx.request, response, self.host.contact())
        self._bind(leg, dialog)
        self._send_ack(leg, dialog, tx.request)
        self._disarm(leg, "cancel")
        leg._peer_caps = response
        if leg._cancel or leg.state is CallState.TERMINATING:
            # §9.1/§15: the CANCEL lost the race; the call is not wanted any more.
            leg.state = CallState.TERMINATING

            def done(r: Response | None, s: int, m: str, t: float) -> None:
                self._report_failed(leg, 487, "Request Terminated", "Canceled")
                self._close(leg)

            self._bye(leg, now, done)
            return
        leg.established = True
        leg.state = CallState.CONFIRMED
        sdp = body_sdp(response)
        if sdp is not None:
            leg.remote_sdp = sdp
        self._start_session_timer(leg, from_uac_response(response), now)
        self._post(CallAnswered(leg, sdp, response))

    def _ack_and_bye(self, leg: CallLeg, invite: Request, response: Response,
                     now: float) -> None:
        """A 2xx we do not want (another fork, or after the call ended): ACK it, then
        BYE that dialog (§13.2.2.4)."""
        try:
            dialog = Dialog.from_uac(invite, response, self.host.contact())
        except SipError:
            return
        self._send_ack(leg, dialog, invite)
        bye = dialog.create_request("BYE")
        self.host.send_request(bye, now, destination=self.dest_for(dialog))

    def _on_invite_failure(self, leg: CallLeg, tx: ClientTransaction, response: Response,
                           now: float) -> None:
        status = response.status
        wanted = not leg._cancel and leg.state is not CallState.TERMINATING
        if wanted and status in (401, 407):
            retry = self._authorized(leg, tx.request, response, tx.request.cseq.number + 1)
            if retry is not None:
                self._send_invite(leg, retry, now)
                return
        if wanted and status == 422 and not leg._se_retried:
            min_se = min_se_of(response)
            if min_se is not None:
                leg._se_retried = True
                retry = _copy_request(tx.request)
                retry.headers.set("CSeq", f"{tx.request.cseq.number + 1} INVITE")
                retry.headers.set("Session-Expires", str(min_se))
                retry.headers.set("Min-SE", str(min_se))
                self._send_invite(leg, retry, now)
                return
        if not wanted:
            cause = "Canceled"
        elif status in (401, 407):
            cause = "Authentication Error"
        else:
            cause = failure_cause(status)
        self._report_failed(leg, status, response.reason, cause)
        self._close(leg)

    def _authorized(self, leg: CallLeg, request: Request, response: Response,
                    cseq: int) -> Request | None:
        """The request again with credentials (§22.2), or None: at most one answer per
        request, a second only when the server says the nonce went stale."""
        auth = self.authenticator(leg)
        if auth is None:
            return None
        if not may_answer_again(response, leg._auth_tries):
            return None
        retry = auth.handle_challenge(request, response)
        if retry is None:
            return None
        leg._auth_tries += 1
        retry.headers.set("CSeq", f"{cseq} {request.method}")
        return retry

    # ----- CANCEL -------------------------------------------------------------------------------
    def cancel(self, leg: CallLeg, now: float) -> None:
        """Cancel our INVITE (§9.1): at once when a provisional came, else on the first one."""
        if leg.direction != "outbound" or leg._cancel:
            return
        if leg.state not in (CallState.CALLING, CallState.PROCEEDING, CallState.EARLY):
            return
        got_provisional = leg.state is not CallState.CALLING
        leg.state = CallState.TERMINATING
        leg._cancel = "wanted"
        if got_provisional:
            self._send_cancel(leg, now)

    def _send_cancel(self, leg: CallLeg, now: float) -> None:
        tx = leg._tx
        if not isinstance(tx, ClientTransaction):
            return
        leg._cancel = "sent"
        cancel, dest = cancel_for(tx, self.host.config.user_agent)
        self.host.send_request(cancel, now, keep_via=True, destination=dest)
        self._arm(leg, "cancel", now + 64 * self.host.config.timers.t1)

    def _cancel_on_next_flow(self, leg: CallLeg, tx: ClientTransaction, now: float) -> None:
        """The flow died under an INVITE that a provisional (or our CANCEL) showed a proxy
        holds: CANCEL it on the next flow, so the callee stops ringing (in_dialog)."""
        ringing = leg.state in (CallState.PROCEEDING, CallState.EARLY) or leg._cancel == "sent"
        if self.host.flow_lost and ringing:
            cancel, dest = cancel_for(tx, self.host.config.user_agent)
            self.sender.cancel_on_next_flow(cancel, dest, now + 64 * self.host.config.timers.t1)

    def _cancel_gave_up(self, leg: CallLeg, now: float) -> None:
        """No final response 64·T1 after our CANCEL: forget the INVITE (§9.1)."""
        if isinstance(leg._tx, ClientTransaction):
            self.host.abandon(leg._tx, now)
        self._report_failed(leg, 408, "Request Timeout", "Canceled")
        self._close(leg)

    # ----- re-INVITE / UPDATE ----------------------------------------------------------------
    def reinvite(self, leg: CallLeg, sdp: bytes, now: float) -> None:
        """Offer ``sdp`` in a re-INVITE; the outcome comes as ReinviteResult (status 0 and
        ok False when the call is not in a state to send one, 491 when one is pending)."""
        if leg.state is not CallState.CONFIRMED or leg.dialog is None:
            self._post(ReinviteResult(leg, False, 0))
            return
        pending = leg._out_update
        if pending is not None and pending.refresh and leg._in_update is None \
                and leg._queued_update is None:
            # The core's own refresh is in flight: this one follows it, not a 491.
            leg._queued_update = OutgoingUpdate("INVITE", sdp or None)
            return
        if pending is not None or leg._in_update is not None:
            self._post(ReinviteResult(leg, False, 491))
            return
        leg._out_update = OutgoingUpdate("INVITE", sdp or None)
        self._send_update(leg, now)

    def _send_queued(self, leg: CallLeg, now: float) -> None:
        """Send the application's re-INVITE that waited for a refresh to finish."""
        queued, leg._queued_update = leg._queued_update, None
        if queued is None:
            return
        if leg.state is not CallState.CONFIRMED or leg._out_update is not None:
            self._post(ReinviteResult(leg, False, 0 if leg.state is not CallState.CONFIRMED
                                      else 491))
            return
        leg._out_update = queued
        self._send_update(leg, now)

    def target_refresh(self, leg: CallLeg, now: float) -> None:
        """Tell the peer our new Contact without changing the session (RFC 3261 §12.2):
        after a reconnect its requests would otherwise go to the dead flow (a proxy
        answers them 477). UPDATE when the peer allows it (RFC 3311 §5.1), else a
        re-INVITE with the current session description unchanged, same o= version
        (RFC 3264 §8). A request of ours already under way carries the new Contact; an
        offer still being answered either way goes first, then this one."""
        if leg.state is CallState.CONFIRMING:  # our 2xx waits for its ACK: then
            self._arm(leg, "target", now + 2.0)
            return
        if leg.state is not CallState.CONFIRMED or leg.dialog is None \
                or leg._out_update is not None:
            return
        if leg._in_update is not None or leg._answer is not None:
            self._arm(leg, "target", now + 2.0)
            return
        if allows(leg._peer_caps, "UPDATE"):
            leg._out_update = OutgoingUpdate("UPDATE", None, refresh=True, target=True)
        else:
            leg._out_update = OutgoingUpdate("INVITE", leg.local_sdp, refresh=True,
                                             target=True)
        self._send_update(leg, now)

    def _session_refresh(self, leg: CallLeg, now: float) -> None:
        """We are the refresher (RFC 4028 §10): UPDATE when the peer allows it, else a
        re-INVITE with our current SDP."""
        if leg.state is not CallState.CONFIRMED or leg.session_timer is None:
            return
        if leg._out_update is not None or leg._in_update is not None:
            self._arm(leg, "refresh", now + 2.0)  # something else is in flight: soon
            return
        if allows(leg._peer_caps, "UPDATE"):
            leg._out_update = OutgoingUpdate("UPDATE", None, refresh=True)
        else:
            leg._out_update = OutgoingUpdate("INVITE", leg.local_sdp, refresh=True)
        self._send_update(leg, now)

    def _send_update(self, leg: CallLeg, now: float) -> None:
        update = leg._out_update
        if update is None or leg.dialog is None:
            return
        extra: list[tuple[str, str]] = [("Allow", ALLOW), ("Supported", SUPPORTED)]
        if leg.session_timer is not None:
            extra += refresh_headers(leg.session_timer.interval, self.host.config.min_se)
        request = self._request(leg, update.method, body=update.sdp, extra=extra)

        def handler(response: Response | None, status: int, reason: str, t: float) -> None:
            self._on_update_response(leg, update, response, status, t)

        def on_tx(tx: ClientTransaction) -> None:
            update.tx = tx

        self.sender.send(leg, request, now, handler, on_tx)

    def _on_update_response(self, leg: CallLeg, update: OutgoingUpdate,
                            response: Response | None, status: int, now: float) -> None:
        tx = update.tx
        if response is not None and 200 <= status < 300 and tx is not None:
            if tx.request.method == "INVITE":
                number = tx.request.cseq.number
                ack = leg._acks.get(number)
                if ack is not None:  # 2xx retransmission
                    self.host.emit(ack, self.dest_for(leg.dialog))
                    return
                if leg.dialog is not None:
                    self._send_ack(leg, leg.dialog, tx.request)
            if leg._out_update is update:
                self._update_succeeded(leg, update, response, now)
                self._send_queued(leg, now)
            return
        if leg._out_update is not update or leg.state is CallState.TERMINATED:
            return
        if status == 491 and update.attempts < MAX_GLARE_ATTEMPTS:
            update.attempts += 1
            update.tx = None
            low, high = (2.1, 4.0) if leg.direction == "outbound" else (0.0, 2.0)
            self._arm(leg, "glare", now + self.host.rng.uniform(low, high))
            return
        leg._out_update = None
        if not update.refresh:
            self._post(ReinviteResult(leg, False, status))
        if response is None:  # §12.2.1.2: no answer at all ends the dialog
            self._dialog_error(leg, status, now, send_bye=True,
                               cause=no_answer_cause(update.label, status))
        elif status in (481, 408):
            self._dialog_error(leg, status, now, send_bye=status != 481)
        else:
            self._send_queued(leg, now)

    def _update_succeeded(self, leg: CallLeg, update: OutgoingUpdate, response: Response,
                          now: float) -> None:
        leg._out_update = None
        if leg.dialog is not None:
            leg.dialog.refresh_target(response)
        leg._peer_caps = response if response.headers.get("Allow") else leg._peer_caps
        if update.sdp is not None:
            leg.local_sdp = update.sdp
        sdp = body_sdp(response)
        if sdp is not None:
            leg.remote_sdp = sdp
        if leg.session_timer is not None or update.refresh:
            self._start_session_timer(leg, from_uac_response(response), now)
        if not update.refresh:
            self._post(ReinviteResult(leg, True, response.status, sdp))

    def _dialog_error(self, leg: CallLeg, status: int, now: float, *, send_bye: bool,
                      cause: str = "Dialog Error") -> None:
        """481/408 to an in-dialog request, or no answer at all: the dialog is gone
        (§12.2.1.2, RFC 5057); ``cause`` says which."""
        if leg.state is CallState.TERMINATED:
            return
        self._report_ended(leg, cause, status)
        if send_bye and leg.dialog is not None:
            self._bye(leg, now)
        self._close(leg)

    # ----- INFO, BYE, generic in-dialog sending ------------------------------------------------
    def send_info(self, leg: CallLeg, content_type: str, body: bytes, now: float) -> None:
        """INFO in the call (RFC 6086); a 481/408 answer or no answer at all ends the
        call, other answers are ignored."""
        if leg.state not in (CallState.CONFIRMED, CallState.CONFIRMING) or leg.dialog is None:
            return
        request = self._request(leg, "INFO", body=body, content_type=content_type)

        def handler(response: Response | None, status: int, reason: str, t: float) -> None:
            if response is None:
                self._dialog_error(leg, status, t, send_bye=True,
                                   cause=no_answer_cause("INFO", status))
            elif status in (481, 408):
                self._dialog_error(leg, status, t, send_bye=status != 481)

        self.sender.send(leg, request, now, handler)

    def _bye(self, leg: CallLeg, now: float, on_done: ResponseHandler | None = None) -> None:
        if leg.dialog is None:
            return
        handler = on_done or (lambda r, s, m, n: None)
        self.sender.send(leg, self._request(leg, "BYE"), now, handler)

    def _start_session_timer(self, leg: CallLeg, timer: SessionTimer | None,
                             now: float) -> None:
        leg.session_timer = timer
        self._disarm(leg, "refresh", "expire")
        if timer is None:
            return
        if timer.we_refresh:
            self._arm(leg, "refresh", timer.refresh_at(now))
        else:
            self._arm(leg, "expire", timer.expire_at(now))


def no_answer_cause(what: str, status: int) -> str:
    """"Request Timeout (re-INVITE, no answer)": the cause of a call ended because an
    in-dialog request got no answer at all (Timer B/F, or its flow never came back)."""
    if status == 408:
        return f"Request Timeout ({what}, no answer)"
    return f"Connection Error ({what}, no answer)"


def _copy_request(request: Request) -> Request:
    return Request(request.method, request.uri, request.headers.copy(), request.body)


__all__ = ["MAX_GLARE_ATTEMPTS", "UacCalls", "body_sdp", "no_answer_cause"]
