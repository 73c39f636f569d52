"""In-dialog requests: re-INVITE (glare, failures), BYE, INFO, CSeq order, target refresh,
route sets."""

from __future__ import annotations

import pytest

from agentconsole.sip.events import (
    CallConfirmed,
    CallEnded,
    InfoReceived,
    ReinviteReceived,
    ReinviteResult,
)
from agentconsole.sip.invite import CallState
from agentconsole.sip.message import Response

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
)

SDP_HOLD = SDP_A.replace(b"t=0 0\r\n", b"t=0 0\r\na=sendonly\r\n")


def last_response(call: Call, method: str) -> Response:
    found = [r for r in call.wire.responses() if r.cseq.method == method]
    assert found, f"no response to {method}"
    return found[-1]


def test_our_reinvite_succeeds_and_is_acked() -> None:
    call = outbound_call()
    call.ua.reinvite(call.leg, SDP_HOLD, 5.0)
    call.wire.flush()
    reinvite = last_request(call.wire, "INVITE")
    assert reinvite.cseq.number == 2 and reinvite.body == SDP_HOLD
    assert reinvite.to.tag == "srv1" and reinvite.uri == "sip:1002@127.0.0.1:5999"
    call.reply_last("INVITE", 200, 5.1, body=SDP_B)
    ack = last_request(call.wire, "ACK")
    assert ack.cseq.number == 2
    results = call.events(ReinviteResult)
    assert len(results) == 1 and results[0].ok and results[0].sdp == SDP_B
    assert call.leg.local_sdp == SDP_HOLD


@pytest.mark.parametrize(("direction", "low", "high"), [("outbound", 2.1, 4.0),
                                                         ("inbound", 0.0, 2.0)])
def test_491_retry_window_depends_on_call_id_owner(direction: str, low: float,
                                                   high: float) -> None:
    for seed in range(8):
        call = outbound_call(seed=seed) if direction == "outbound" else inbound_call(seed=seed)
        call.ua.reinvite(call.leg, SDP_HOLD, 10.0)
        call.wire.flush()
        call.reply_last("INVITE", 491, 10.1, contact=None)
        deadline = call.ua.next_deadline()
        assert deadline is not None and 10.1 + low <= deadline <= 10.1 + high
        before = len(call.wire.requests("INVITE"))
        call.wire.run_until(deadline, 10.1)
        assert len(call.wire.requests("INVITE")) == before + 1
        retry = last_request(call.wire, "INVITE")
        assert retry.body == SDP_HOLD


def test_491_three_times_gives_up() -> None:
    call = outbound_call()
    call.ua.reinvite(call.leg, SDP_HOLD, 10.0)
    call.wire.flush()
    now = 10.0
    for _ in range(3):
        now += 0.1
        call.reply_last("INVITE", 491, now, contact=None)
        now = call.wire.run_until(now + 4.5, now)
    results = call.events(ReinviteResult)
    assert len(results) == 1 and not results[0].ok and results[0].status == 491
    assert call.leg.state is CallState.CONFIRMED
    assert {r.cseq.number for r in call.wire.requests("INVITE")} == {1, 2, 3, 4}


def test_incoming_reinvite_while_ours_pending_gets_491() -> None:
    call = outbound_call()
    call.ua.reinvite(call.leg, SDP_HOLD, 5.0)
    call.wire.flush()
    call.request("INVITE", 5.05, body=SDP_B)
    assert last_response(call, "INVITE").status == 491
    assert call.events(ReinviteReceived) == []


def test_failed_reinvite_keeps_the_call() -> None:
    call = outbound_call()
    call.ua.reinvite(call.leg, SDP_HOLD, 5.0)
    call.wire.flush()
    call.reply_last("INVITE", 500, 5.1, contact=None)
    results = call.events(ReinviteResult)
    assert len(results) == 1 and not results[0].ok and results[0].status == 500
    assert call.leg.state is CallState.CONFIRMED and call.leg.local_sdp == SDP_A
    call.ua.reinvite(call.leg, SDP_HOLD, 6.0)  # another one may go now
    call.wire.flush()
    assert call.leg.state is CallState.CONFIRMED and call.events(CallEnded) == []


def test_reinvite_without_any_answer_ends_the_call_with_a_bye() -> None:
    """§12.2.1.2: no answer at all (Timer B) ends the dialog; a BYE is still tried and
    the cause says what happened."""
    call = outbound_call()
    call.ua.reinvite(call.leg, SDP_HOLD, 5.0)
    call.wire.flush()
    call.wire.run_until(5.0 + 32.5, 5.0)
    results = call.events(ReinviteResult)
    assert len(results) == 1 and results[0].status == 408 and not results[0].ok
    ended = call.events(CallEnded)
    assert [(e.cause, e.status) for e in ended] == [("Request Timeout (re-INVITE, no answer)",
                                                     408)]
    assert call.leg.state is CallState.TERMINATED
    assert len(call.wire.requests("BYE")) >= 1


def test_481_to_reinvite_ends_the_call() -> None:
    call = outbound_call()
    call.ua.reinvite(call.leg, SDP_HOLD, 5.0)
    call.wire.flush()
    call.reply_last("INVITE", 481, 5.1, contact=None)
    ended = call.events(CallEnded)
    assert len(ended) == 1 and ended[0].cause == "Dialog Error" and ended[0].status == 481
    assert call.leg.state is CallState.TERMINATED


def test_481_to_bye_still_terminates() -> None:
    call = outbound_call()
    call.ua.hangup(call.leg, 5.0)
    call.wire.flush()
    call.reply_last("BYE", 481, 5.1, contact=None)
    assert call.leg.state is CallState.TERMINATED
    assert len(call.events(CallEnded)) == 1


def test_408_to_info_ends_the_call() -> None:
    call = outbound_call()
    call.ua.send_info(call.leg, "application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n", 5.0)
    call.wire.flush()
    info = last_request(call.wire, "INFO")
    assert info.headers.get("Content-Type") == "application/dtmf-relay"
    call.reply_last("INFO", 408, 5.1, contact=None)
    ended = call.events(CallEnded)
    assert len(ended) == 1 and ended[0].cause == "Dialog Error" and ended[0].status == 408


def test_incoming_reinvite_is_passed_up_and_answered() -> None:
    call = inbound_call()
    call.request("INVITE", 5.0, body=SDP_HOLD, contact="<sip:1002@127.0.0.9:5999>")
    received = call.events(ReinviteReceived)
    assert len(received) == 1 and received[0].sdp == SDP_HOLD and received[0].method == "INVITE"
    call.request("INVITE", 5.1, body=SDP_HOLD)  # a second one while the first is pending
    response = last_response(call, "INVITE")
    assert response.status == 500 and response.headers.get("Retry-After") is not None
    call.ua.answer_reinvite(call.leg, SDP_A, 5.2)
    call.wire.flush()
    ok = [r for r in call.wire.responses() if r.cseq.number == 2][-1]
    assert ok.status == 200 and ok.body == SDP_A
    assert call.leg.remote_sdp == SDP_HOLD
    call.request("ACK", 5.3, cseq=2, branch="z9hG4bKack2")
    call.ua.hangup(call.leg, 6.0)  # the target refresh moved the remote target
    call.wire.flush()
    assert last_request(call.wire, "BYE").uri == "sip:1002@127.0.0.9:5999"


def test_rejected_incoming_reinvite_keeps_the_call() -> None:
    call = inbound_call()
    call.request("INVITE", 5.0, body=SDP_HOLD)
    call.ua.answer_reinvite(call.leg, None, 5.1, 488,
                            warning='399 agentconsole "no SRTP crypto suite we support"')
    call.wire.flush()
    refusal = last_response(call, "INVITE")
    assert refusal.status == 488
    assert refusal.headers.get("Warning") == '399 agentconsole "no SRTP crypto suite we support"'
    assert call.leg.state is CallState.CONFIRMED and call.leg.remote_sdp == SDP_B


def test_offerless_reinvite_gets_answer_in_ack() -> None:
    call = inbound_call()
    call.request("INVITE", 5.0)
    received = call.events(ReinviteReceived)
    assert received[-1].sdp is None
    call.ua.answer_reinvite(call.leg, SDP_A, 5.1)
    call.request("ACK", 5.2, cseq=call.peer_cseq, branch="z9hG4bKack9", body=SDP_HOLD)
    confirmed = [e for e in call.events(CallConfirmed) if e.reinvite]
    assert len(confirmed) == 1 and confirmed[0].sdp == SDP_HOLD
    assert call.leg.remote_sdp == SDP_HOLD


def test_unchanged_reoffer_is_answered_by_the_core() -> None:
    call = inbound_call()
    call.request("INVITE", 5.0, body=SDP_B)
    assert call.events(ReinviteReceived) == []
    ok = last_response(call, "INVITE")
    assert ok.status == 200 and ok.body == SDP_A


def test_update_with_sdp_goes_up_and_without_is_answered() -> None:
    call = inbound_call()
    call.request("UPDATE", 5.0)
    assert last_response(call, "UPDATE").status == 200
    assert call.events(ReinviteReceived) == []
    call.request("UPDATE", 6.0, body=SDP_HOLD)
    received = call.events(ReinviteReceived)
    assert len(received) == 1 and received[0].method == "UPDATE"
    call.ua.answer_reinvite(call.leg, SDP_A, 6.1)
    call.wire.flush()
    assert last_response(call, "UPDATE").body == SDP_A


def test_lower_cseq_gets_500() -> None:
    call = inbound_call()
    call.request("INFO", 5.0, cseq=10)
    call.request("INFO", 5.1, cseq=5)
    statuses = [r.status for r in call.wire.responses() if r.cseq.method == "INFO"]
    assert statuses == [200, 500]
    assert len(call.events(InfoReceived)) == 1


def test_info_is_answered_and_reported() -> None:
    call = outbound_call()
    call.request("INFO", 5.0, body=b"Signal=1\r\n")
    assert last_response(call, "INFO").status == 200
    info = call.events(InfoReceived)
    assert len(info) == 1 and info[0].body == b"Signal=1\r\n"


@pytest.mark.parametrize(("method", "status"), [("REFER", 400), ("NOTIFY", 481),
                                                ("MESSAGE", 501), ("PRACK", 501)])
def test_other_in_dialog_methods(method: str, status: int) -> None:
    call = inbound_call()
    call.request(method, 5.0)
    assert last_response(call, method).status == status
    assert call.leg.state is CallState.CONFIRMED


def test_unknown_method_in_dialog_gets_501() -> None:
    call = inbound_call()
    call.request("FROBNICATE", 5.0)
    assert last_response(call, "FROBNICATE").status == 501


def test_remote_bye_ends_the_inbound_call() -> None:
    call = inbound_call()
    call.request("BYE", 5.0)
    assert last_response(call, "BYE").status == 200
    ended = call.events(CallEnded)
    assert len(ended) == 1 and ended[0].by_remote
    call.request("BYE", 5.5)  # after the end: no dialog any more
    assert last_response(call, "BYE").status == 481


def test_route_set_of_uac_is_reversed_record_route() -> None:
    rr = [("Record-Route", "<sip:p2.example.com;lr>"), ("Record-Route", "<sip:p1.example.com;lr>")]
    call = outbound_call(ok_headers=rr)
    ack = last_request(call.wire, "ACK")
    assert ack.headers.get_all("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    call.ua.hangup(call.leg, 5.0)
    call.wire.flush()
    bye = last_request(call.wire, "BYE")
    assert bye.headers.get_all("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert bye.uri == "sip:1002@127.0.0.1:5999"
    assert call.wire.sent[-1][1] == ("p1.example.com", 5060)


def test_strict_router_goes_into_the_request_uri() -> None:
    call = outbound_call(ok_headers=[("Record-Route", "<sip:strict.example.com>")])
    call.ua.hangup(call.leg, 5.0)
    call.wire.flush()
    bye = last_request(call.wire, "BYE")
    assert bye.uri == "sip:strict.example.com"
    assert bye.headers.get_all("Route") == ["<sip:1002@127.0.0.1:5999>"]


def test_peer_reinvite_refreshes_target_for_outbound_call() -> None:
    call = outbound_call()
    call.request("INVITE", 5.0, body=SDP_HOLD, contact="<sip:1002@10.0.0.7:5062>")
    call.ua.answer_reinvite(call.leg, SDP_A, 5.1)
    call.request("ACK", 5.2, cseq=call.peer_cseq, branch="z9hG4bKackx")
    call.ua.hangup(call.leg, 6.0)
    call.wire.flush()
    assert last_request(call.wire, "BYE").uri == "sip:1002@10.0.0.7:5062"


def test_reinvite_in_wrong_state_reports_failure_without_sending() -> None:
    ua, wire = call_ua()
    leg = ua.invite("1002", SDP_A, 1.0)
    wire.flush()
    ua.reinvite(leg, SDP_HOLD, 1.1)
    wire.flush()
    assert len(wire.requests("INVITE")) == 1
    results = [e for e in wire.events if isinstance(e, ReinviteResult)]
    assert len(results) == 1 and not results[0].ok


def test_challenged_bye_is_resent_with_credentials() -> None:
    call = outbound_call()
    call.ua.hangup(call.leg, 5.0)
    call.wire.flush()
    bye = last_request(call.wire, "BYE")
    challenge = ("Proxy-Authenticate", 'Digest realm="127.0.0.1", nonce="xyz", qop="auth"')
    call.ua.receive_data(peer_reply(bye, 407, headers=[challenge], to_tag=None), PEER, 5.1)
    call.wire.flush()
    byes = call.wire.requests("BYE")
    assert len(byes) == 2 and byes[1].cseq.number == bye.cseq.number + 1
    assert (byes[1].headers.get("Proxy-Authorization") or "").startswith("Digest")
    call.reply_last("BYE", 200, 5.2, contact=None)
    assert call.leg.state is CallState.TERMINATED
