"""Calls across a lost flow, sans-IO with a fake clock (RFC 6026, RFC 3261 §12.2/§17.1.4).

A TCP user agent whose connection resets: established calls stay up whatever their
INVITE transaction was doing; in-dialog requests caught by the reset (or made while
there is no flow) go out again on the next flow as new requests of the dialog; every
confirmed call then refreshes its remote target with the new Contact, without changing
the session and without telling the application anything it would take for a hold.
"""

from __future__ import annotations

import pytest

from agentconsole.sip.events import (
    CallEnded,
    CallFailed,
    CallIncoming,
    ReinviteReceived,
    ReinviteResult,
)
from agentconsole.sip.in_dialog import answer_bound
from agentconsole.sip.invite import CallState
from agentconsole.sip.message import Request

from .uahelpers import (
    PEER,
    SDP_A,
    SDP_B,
    Call,
    call_ua,
    inbound_call,
    last_request,
    outbound_call,
    peer_reply,
    peer_request,
)

SDP_HOLD = SDP_A.replace(b"t=0 0\r\n", b"t=0 0\r\na=sendonly\r\n")
ALLOW_UPDATE = [("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, REFER, NOTIFY")]
ALLOW_NO_UPDATE = [("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS")]
NEW_PORT = 40123


def reset(call: Call, now: float) -> None:
    call.ua.transport_down("connection reset by peer", now)
    call.wire.flush()


def reconnect(call: Call, now: float) -> list[Request]:
    """The flow is back from a new local port; the requests that went out on it."""
    call.ua.transport_up("127.0.0.1", NEW_PORT, now)
    return [m for m, _ in call.wire.flush() if isinstance(m, Request)]


def contact_of(request: Request) -> str:
    return request.headers.get("Contact") or ""


def call_events(call: Call) -> list[object]:
    return call.events(CallFailed) + call.events(CallEnded)


# ----- item 1: the call survives its flow ----------------------------------------------------
def test_reset_right_after_the_2xx_leaves_the_outbound_call_up() -> None:
    """The INVITE client transaction is still in Accepted (Timer M, RFC 6026 §8.4) when
    the flow resets 5 s after the 200 OK: the call stays up and can still be hung up."""
    call = outbound_call(transport="tcp")
    invite_tx = call.leg._tx
    assert invite_tx is not None and not invite_tx.terminated  # still absorbing 2xx
    reset(call, 7.0)
    assert call.leg.state is CallState.CONFIRMED and call_events(call) == []
    reconnect(call, 9.0)
    call.ua.hangup(call.leg, 10.0)
    call.wire.flush()
    bye = last_request(call.wire, "BYE")
    call.reply_last("BYE", 200, 10.1, contact=None)
    ended = call.events(CallEnded)
    assert [(e.cause, e.status, e.by_remote) for e in ended] == [("Terminated", 200, False)]
    assert NEW_PORT != 5070 and bye.top_via.port == NEW_PORT


def test_reset_leaves_an_inbound_call_up() -> None:
    call = inbound_call(transport="tcp")
    reset(call, 7.0)
    assert call.leg.state is CallState.CONFIRMED and call_events(call) == []


def test_reset_still_fails_a_call_that_was_not_answered() -> None:
    ua, wire = call_ua(transport="tcp")
    leg = ua.invite("1002", SDP_A, 1.0)
    wire.flush()
    ua.transport_down("connection reset by peer", 2.0)
    wire.flush()
    failed = [e for e in wire.events if isinstance(e, CallFailed)]
    assert [(e.cause, e.status) for e in failed] == [("Connection Error", 503)]
    assert leg.state is CallState.TERMINATED


def ringing_call(*, provisional: int | None = 180) -> tuple[Call, Request]:
    """We call the peer over TCP; it answers ``provisional`` (none when None) at t=1.5."""
    ua, wire = call_ua(transport="tcp")
    leg = ua.invite("1002", SDP_A, 1.0)
    wire.flush()
    invite = last_request(wire, "INVITE")
    if provisional is not None:
        ua.receive_data(peer_reply(invite, provisional), PEER, 1.5)
        wire.flush()
    return Call(ua, wire, leg, invite.call_id, invite.from_.tag or "", "srv1", 0), invite


@pytest.mark.parametrize("provisional", [100, 180, 183])
def test_reset_while_ringing_cancels_the_invite_on_the_new_flow(provisional: int) -> None:
    """RFC 3261 §9.1: the call fails here at once, and the proxy that holds the INVITE
    (a provisional says so; behind a 100 the callee may already ring) gets our CANCEL —
    the INVITE's own Via branch, so it matches — once a flow is back: the callee never
    answers into a call that nobody is on."""
    call, invite = ringing_call(provisional=provisional)
    reset(call, 3.0)
    assert [(e.cause, e.status) for e in call.events(CallFailed)] == [("Connection Error", 503)]
    assert call.wire.requests("CANCEL") == []  # no flow to carry it yet
    sent = reconnect(call, 6.0)
    (cancel,) = [r for r in sent if r.method == "CANCEL"]
    assert cancel.top_via.branch == invite.top_via.branch
    assert (cancel.call_id, cancel.cseq.number, cancel.cseq.method) == \
        (invite.call_id, invite.cseq.number, "CANCEL")
    assert cancel.uri == invite.uri and cancel.from_.tag == invite.from_.tag
    assert not [r for r in reconnect(call, 9.0) if r.method == "CANCEL"]  # once only
    assert len(call.events(CallFailed)) == 1


def test_reset_before_any_provisional_sends_no_cancel() -> None:
    """§9.1: no CANCEL before a provisional response: nothing showed the INVITE arrived."""
    call, _invite = ringing_call(provisional=None)
    reset(call, 3.0)
    assert [r for r in reconnect(call, 6.0) if r.method == "CANCEL"] == []


def test_a_flow_back_after_timer_b_sends_no_stale_cancel() -> None:
    """64·T1 after the reset the proxy has ended that INVITE itself: nothing to cancel."""
    call, _invite = ringing_call()
    reset(call, 3.0)
    now = call.wire.run_until(3.0 + 64 * 0.5 + 1, 3.0)
    assert [r for r in reconnect(call, now) if r.method == "CANCEL"] == []


def test_in_dialog_request_caught_by_the_reset_is_resent_on_the_new_flow() -> None:
    call = outbound_call(transport="tcp", ok_headers=ALLOW_NO_UPDATE)
    call.ua.reinvite(call.leg, SDP_HOLD, 5.0)
    call.wire.flush()
    first = last_request(call.wire, "INVITE")
    reset(call, 5.5)
    assert call.events(ReinviteResult) == []  # nobody is told of the lost flow
    sent = reconnect(call, 8.0)
    again = [r for r in sent if r.method == "INVITE"]
    assert len(again) == 1, "one re-INVITE: ours, which also refreshes the target"
    resent = again[0]
    assert resent.body == SDP_HOLD
    assert resent.cseq.number == first.cseq.number + 1  # a new request, not a copy
    assert resent.top_via.branch != first.top_via.branch
    assert f":{NEW_PORT}" in contact_of(resent) and ":5070" in contact_of(first)
    call.reply_last("INVITE", 200, 8.1, body=SDP_B)
    results = call.events(ReinviteResult)
    assert len(results) == 1 and results[0].ok and results[0].sdp == SDP_B
    assert last_request(call.wire, "ACK").cseq.number == resent.cseq.number


def test_bye_while_the_flow_is_down_goes_out_when_it_is_back() -> None:
    call = inbound_call(transport="tcp")
    reset(call, 5.0)
    call.ua.hangup(call.leg, 6.0)
    call.wire.flush()
    assert call.wire.requests("BYE") == []  # no flow: nothing can be sent yet
    sent = reconnect(call, 9.0)
    assert [r.method for r in sent if r.method != "REGISTER"] == ["BYE"]
    call.reply_last("BYE", 200, 9.1, contact=None)
    assert [(e.cause, e.status) for e in call.events(CallEnded)] == [("Terminated", 200)]


def test_flow_that_never_comes_back_times_the_request_out_and_ends_the_call() -> None:
    """Timer B/F bounds the wait: 64·T1 after the re-INVITE was first sent, the call
    ends with a cause that says so, and the BYE still goes out if a flow appears."""
    call = outbound_call(transport="tcp")
    call.ua.reinvite(call.leg, SDP_HOLD, 5.0)
    call.wire.flush()
    reset(call, 6.0)
    call.wire.run_until(5.0 + 31.9, 6.0)
    assert call.events(CallEnded) == []
    call.wire.run_until(5.0 + 32.1, 36.9)
    ended = call.events(CallEnded)
    assert [(e.cause, e.status) for e in ended] == [("Request Timeout (re-INVITE, no answer)",
                                                     408)]
    assert [r.status for r in call.events(ReinviteResult)] == [408]
    sent = reconnect(call, 40.0)
    assert [r.method for r in sent if r.method != "REGISTER"] == ["BYE"]


def test_a_request_resent_at_the_last_moment_is_answered_within_the_bound() -> None:
    """The longest the core carries a request: the flow comes back just before the
    re-INVITE's Timer B, it goes out again and is never answered. Its 408 comes after
    64·T1 (so a layer above waiting only that long would give up too early) and by
    :func:`answer_bound` (2×64·T1) of the first sending, which the softphone's wait for
    a hold is built on."""
    call = outbound_call(transport="tcp", ok_headers=ALLOW_NO_UPDATE)
    bound = answer_bound(call.ua.config.timers)
    call.ua.reinvite(call.leg, SDP_HOLD, 5.0)
    call.wire.flush()
    reset(call, 6.0)
    sent = reconnect(call, 5.0 + 31.9)
    assert [r.body for r in sent if r.method == "INVITE"] == [SDP_HOLD]
    now = call.wire.run_until(5.0 + 32.0 + 31.0, 5.0 + 31.9)
    assert call.events(ReinviteResult) == [] and call_events(call) == []
    call.wire.run_until(5.0 + bound, now)
    assert [r.status for r in call.events(ReinviteResult)] == [408]
    assert [e.cause for e in call.events(CallEnded)] == ["Request Timeout (re-INVITE, no answer)"]


# ----- item 2: target refresh after a reconnect ------------------------------------------------
def test_target_refresh_is_an_update_without_a_body_when_the_peer_allows_it() -> None:
    call = outbound_call(transport="tcp", ok_headers=ALLOW_UPDATE)
    reset(call, 10.0)
    sent = reconnect(call, 12.0)
    updates = [r for r in sent if r.method == "UPDATE"]
    assert len(updates) == 1 and not updates[0].body
    assert f"sip:1001@127.0.0.1:{NEW_PORT};transport=tcp" in contact_of(updates[0])
    assert call.leg.dialog is not None and call.leg.dialog.local_contact == contact_of(updates[0])
    call.reply_last("UPDATE", 200, 12.1, contact="<sip:1002@127.0.0.1:6001;transport=tcp>")
    assert call.leg.dialog.remote_target == "sip:1002@127.0.0.1:6001;transport=tcp"
    assert call.events(ReinviteResult) == []  # nothing the Session could take for a hold
    assert call.leg.state is CallState.CONFIRMED and call.leg._out_update is None


def test_target_refresh_is_a_reinvite_with_the_same_sdp_otherwise() -> None:
    """RFC 3264 §8: the unchanged session description, same o= version."""
    call = inbound_call(transport="tcp")
    assert call.leg.local_sdp == SDP_A
    reset(call, 10.0)
    sent = reconnect(call, 12.0)
    invites = [r for r in sent if r.method == "INVITE"]
    assert len(invites) == 1 and invites[0].body == SDP_A
    assert f":{NEW_PORT};transport=tcp" in contact_of(invites[0])
    call.reply_last("INVITE", 200, 12.1, body=SDP_B)
    assert last_request(call.wire, "ACK").cseq.number == invites[0].cseq.number
    assert call.events(ReinviteResult) == [] and call.leg.local_sdp == SDP_A


def test_glare_on_the_target_refresh_is_answered_491_and_retried() -> None:
    call = outbound_call(transport="tcp", ok_headers=ALLOW_NO_UPDATE)
    reset(call, 10.0)
    reconnect(call, 12.0)
    first = last_request(call.wire, "INVITE")
    call.request("INVITE", 12.05, body=SDP_B)  # the peer's re-INVITE crosses ours
    assert [r.status for r in call.wire.responses() if r.cseq.method == "INVITE"][-1] == 491
    assert call.events(ReinviteReceived) == []
    call.reply_last("INVITE", 491, 12.1, contact=None)
    call.wire.run_until(12.1 + 2.05, 12.1)
    assert last_request(call.wire, "INVITE") is first  # outbound owner waits 2.1-4 s
    call.wire.run_until(12.1 + 4.01, 12.15)
    retry = last_request(call.wire, "INVITE")
    assert retry is not first and retry.cseq.number > first.cseq.number
    assert f":{NEW_PORT}" in contact_of(retry)
    call.reply_last("INVITE", 200, 17.0, body=SDP_B)
    assert call.events(ReinviteResult) == [] and call_events(call) == []


def test_a_hold_asked_during_the_target_refresh_follows_it() -> None:
    """The application's re-INVITE is not refused 491 because of the core's refresh:
    it goes once the refresh is answered, and only it is reported."""
    call = outbound_call(transport="tcp", ok_headers=ALLOW_UPDATE)
    reset(call, 10.0)
    reconnect(call, 12.0)
    call.ua.reinvite(call.leg, SDP_HOLD, 12.01)
    call.wire.flush()
    assert call.wire.requests("INVITE")[-1].cseq.number == 1  # only the initial one yet
    assert call.events(ReinviteResult) == []
    call.reply_last("UPDATE", 200, 12.1, contact=None)
    hold = last_request(call.wire, "INVITE")
    assert hold.body == SDP_HOLD
    call.reply_last("INVITE", 200, 12.2, body=SDP_B)
    results = call.events(ReinviteResult)
    assert len(results) == 1 and results[0].ok


def test_target_refresh_waits_for_an_offer_being_answered() -> None:
    call = inbound_call(transport="tcp")
    call.request("INVITE", 9.0, body=SDP_HOLD)  # the peer holds; the app answers later
    assert len(call.events(ReinviteReceived)) == 1
    reset(call, 10.0)
    sent = reconnect(call, 11.0)
    assert [r for r in sent if r.method in ("INVITE", "UPDATE")] == []
    call.ua.answer_reinvite(call.leg, SDP_A, 11.5)  # its 2xx carries the new Contact
    responses = [m for m, _ in call.wire.flush()]
    assert any(f":{NEW_PORT}" in (m.headers.get("Contact") or "") for m in responses)
    call.request("ACK", 11.6, cseq=call.peer_cseq, branch="z9hG4bKack2")
    call.wire.run_until(13.5, 11.6)
    refresh = last_request(call.wire, "INVITE")
    assert f":{NEW_PORT}" in contact_of(refresh)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_new_local_address_also_refreshes_the_target(transport: str) -> None:
    call = outbound_call(transport=transport, ok_headers=ALLOW_UPDATE)
    call.ua.transport_up("127.0.0.1", NEW_PORT, 10.0)  # same flow kind, new address
    sent = [m for m, _ in call.wire.flush() if isinstance(m, Request)]
    updates = [r for r in sent if r.method == "UPDATE"]
    assert len(updates) == 1 and f":{NEW_PORT}" in contact_of(updates[0])


def test_no_refresh_when_nothing_changed() -> None:
    call = outbound_call(transport="udp", ok_headers=ALLOW_UPDATE)
    call.ua.transport_up("127.0.0.1", 5070, 10.0)
    assert [m for m, _ in call.wire.flush() if isinstance(m, Request)] == []


def test_resent_request_carries_fresh_credentials() -> None:
    """A re-INVITE the proxy challenged (407) and that the reset caught goes out again
    with credentials for the same nonce and the next nonce count (RFC 7616 §3.4)."""
    call = outbound_call(transport="tcp", ok_headers=ALLOW_NO_UPDATE)
    call.ua.reinvite(call.leg, SDP_HOLD, 5.0)
    call.wire.flush()
    challenge = ("Proxy-Authenticate",
                 'Digest realm="127.0.0.1", nonce="abc", qop="auth", algorithm=MD5')
    call.reply_last("INVITE", 407, 5.1, headers=[challenge], contact=None)
    authorized = last_request(call.wire, "INVITE")
    assert "nc=00000001" in (authorized.headers.get("Proxy-Authorization") or "")
    reset(call, 5.5)
    resent = [r for r in reconnect(call, 7.0) if r.method == "INVITE"]
    assert len(resent) == 1 and resent[0].cseq.number == authorized.cseq.number + 1
    credentials = resent[0].headers.get_all("Proxy-Authorization")
    assert len(credentials) == 1 and "nc=00000002" in credentials[0], credentials
    assert 'nonce="abc"' in credentials[0]


def test_call_answered_but_not_acked_refreshes_once_the_ack_comes() -> None:
    ua, wire = call_ua(transport="tcp")
    ua.receive_data(peer_request("INVITE", call_id="late-ack", body=SDP_B), PEER, 1.0)
    wire.flush()
    leg = [e for e in wire.events if isinstance(e, CallIncoming)][0].leg
    ua.answer(leg, SDP_A, 1.5)
    assert leg.dialog is not None
    call = Call(ua, wire, leg, "late-ack", leg.dialog.local_tag, "peer", 1)
    reset(call, 2.0)
    sent = reconnect(call, 3.0)
    assert [r for r in sent if r.method in ("INVITE", "UPDATE")] == []  # no ACK yet
    call.request("ACK", 3.5, cseq=1, branch="z9hG4bKack1")
    assert leg.state is CallState.CONFIRMED
    wire.run_until(5.1, 3.5)
    refresh = last_request(wire, "INVITE")
    assert refresh.to.tag == "peer" and f":{NEW_PORT}" in contact_of(refresh)
