"""Outbound calls through the sans-IO UA: INVITE, progress, answer, ACK, CANCEL, failures."""

from __future__ import annotations

from agentconsole.sip.events import CallAnswered, CallEnded, CallFailed, CallProgress
from agentconsole.sip.invite import CallState
from agentconsole.sip.message import Request

from .uahelpers import (
    PEER,
    REGISTRAR,
    SDP_A,
    SDP_B,
    call_ua,
    last_request,
    peer_reply,
    peer_request,
)


def events_of(wire, kind):  # type: ignore[no-untyped-def]
    return [e for e in wire.events if isinstance(e, kind)]


def dial(**kwargs):  # type: ignore[no-untyped-def]
    ua, wire = call_ua(**kwargs)
    leg = ua.invite("1002", SDP_A, 1.0)
    wire.flush()
    return ua, wire, leg, last_request(wire, "INVITE")


def test_invite_is_well_formed() -> None:
    ua, wire, leg, invite = dial()
    assert invite.uri == "sip:1002@127.0.0.1"
    assert invite.body == SDP_A and invite.content_type == "application/sdp"
    assert invite.contacts and "5070" in str(invite.contacts[0].uri)
    assert "timer" in (invite.headers.get("Supported") or "")
    assert invite.headers.get("Session-Expires") == "1800"
    assert "UPDATE" in (invite.headers.get("Allow") or "")
    assert invite.from_.tag and invite.to.tag is None
    assert invite.cseq.number == 1 and invite.top_via.branch.startswith("z9hG4bK")
    assert wire.sent[-1][1] == REGISTRAR
    assert leg.direction == "outbound" and leg.state is CallState.CALLING
    assert leg.call_id == invite.call_id and leg.local_sdp == SDP_A


def test_target_forms() -> None:
    ua, _ = call_ua()
    assert ua.calls.target_uri("sip:bob@example.com") == "sip:bob@example.com"
    assert ua.calls.target_uri("tel:+4930123") == "tel:+4930123"
    assert ua.calls.target_uri("bob@example.com") == "sip:bob@example.com"


def test_progress_answer_ack_and_retransmitted_2xx() -> None:
    ua, wire, leg, invite = dial()
    ua.receive_data(peer_reply(invite, 100), PEER, 1.1)
    wire.flush()
    assert leg.state is CallState.PROCEEDING
    ua.receive_data(peer_reply(invite, 180), PEER, 1.2)
    wire.flush()
    assert leg.state is CallState.EARLY and leg.dialog is not None and leg.dialog.early
    progress = events_of(wire, CallProgress)
    assert [p.status for p in progress] == [100, 180]
    ua.receive_data(peer_reply(invite, 200, body=SDP_B), PEER, 2.0)
    wire.flush()
    acks = wire.requests("ACK")
    assert len(acks) == 1
    ack = acks[0]
    assert ack.cseq.number == invite.cseq.number and ack.cseq.method == "ACK"
    assert ack.top_via.branch != invite.top_via.branch  # a 2xx ACK is its own transaction
    assert ack.uri == "sip:1002@127.0.0.1:5999" and ack.to.tag == "srv1"
    answered = events_of(wire, CallAnswered)
    assert len(answered) == 1 and answered[0].sdp == SDP_B
    assert leg.state is CallState.CONFIRMED and leg.remote_sdp == SDP_B and leg.established
    ua.receive_data(peer_reply(invite, 200, body=SDP_B), PEER, 2.5)  # retransmitted
    wire.flush()
    assert len(wire.requests("ACK")) == 2
    assert wire.requests("ACK")[1].top_via.branch == ack.top_via.branch
    assert len(events_of(wire, CallAnswered)) == 1


def test_local_bye_after_answer() -> None:
    ua, wire, leg, invite = dial()
    ua.receive_data(peer_reply(invite, 200, body=SDP_B), PEER, 2.0)
    wire.flush()
    ua.hangup(leg, 3.0)
    wire.flush()
    bye = last_request(wire, "BYE")
    assert bye.uri == "sip:1002@127.0.0.1:5999" and bye.cseq.number == 2
    assert bye.to.tag == "srv1" and bye.from_.tag == invite.from_.tag
    assert leg.state is CallState.TERMINATING
    ua.receive_data(peer_reply(bye, 200), PEER, 3.1)
    wire.flush()
    assert leg.state is CallState.TERMINATED
    ended = events_of(wire, CallEnded)
    assert len(ended) == 1 and ended[0].cause == "Terminated" and not ended[0].by_remote
    ua.hangup(leg, 4.0)  # nothing left to do: no raise, nothing sent
    assert wire.flush() == []


def test_remote_bye_after_answer() -> None:
    ua, wire, leg, invite = dial()
    ua.receive_data(peer_reply(invite, 200, body=SDP_B), PEER, 2.0)
    wire.flush()
    ua.receive_data(peer_request("BYE", call_id=invite.call_id, from_tag="srv1",
                                 to_tag=invite.from_.tag, cseq=1), PEER, 3.0)
    sent = wire.flush()
    assert [m.status for m, _ in sent] == [200]  # type: ignore[union-attr]
    ended = events_of(wire, CallEnded)
    assert len(ended) == 1 and ended[0].by_remote and ended[0].cause == "Terminated"
    assert leg.state is CallState.TERMINATED


def test_407_answered_once_with_proxy_authorization() -> None:
    ua, wire, leg, invite = dial()
    challenge = ("Proxy-Authenticate", 'Digest realm="127.0.0.1", nonce="abc", qop="auth"')
    ua.receive_data(peer_reply(invite, 407, headers=[challenge]), PEER, 1.1)
    wire.flush()
    assert len(wire.requests("ACK")) == 1  # the transaction ACKs the 407
    invites = wire.requests("INVITE")
    assert len(invites) == 2
    second = invites[1]
    assert second.headers.get("Proxy-Authorization", "").startswith("Digest")
    assert second.cseq.number == 2 and second.top_via.branch != invite.top_via.branch
    assert second.call_id == invite.call_id and second.from_.tag == invite.from_.tag
    ua.receive_data(peer_reply(second, 407, headers=[challenge]), PEER, 1.2)
    wire.flush()
    assert len(wire.requests("INVITE")) == 2  # no loop
    failed = events_of(wire, CallFailed)
    assert len(failed) == 1 and failed[0].cause == "Authentication Error"
    assert failed[0].status == 407


def test_486_busy_is_acked_by_the_transaction() -> None:
    ua, wire, leg, invite = dial()
    ua.receive_data(peer_reply(invite, 486), PEER, 1.5)
    wire.flush()
    ack = last_request(wire, "ACK")
    assert ack.top_via.branch == invite.top_via.branch  # non-2xx ACK: same transaction
    failed = events_of(wire, CallFailed)
    assert len(failed) == 1 and failed[0].cause == "Busy" and failed[0].status == 486
    assert leg.state is CallState.TERMINATED


def test_failure_causes_follow_the_mapping() -> None:
    for status, cause in [(603, "Rejected"), (404, "Not Found"), (480, "Unavailable"),
                          (484, "Address Incomplete"), (488, "Incompatible SDP"),
                          (302, "Redirected"), (500, "SIP Failure Code")]:
        ua, wire, leg, invite = dial()
        ua.receive_data(peer_reply(invite, status), PEER, 1.5)
        wire.flush()
        assert [e.cause for e in events_of(wire, CallFailed)] == [cause]


def test_cancel_before_provisional_waits_for_it() -> None:
    ua, wire, leg, invite = dial()
    ua.cancel(leg, 1.1)
    wire.flush()
    assert wire.requests("CANCEL") == []
    ua.receive_data(peer_reply(invite, 100), PEER, 1.3)
    wire.flush()
    cancel = last_request(wire, "CANCEL")
    assert cancel.top_via.branch == invite.top_via.branch
    assert cancel.cseq.number == invite.cseq.number and cancel.cseq.method == "CANCEL"
    assert cancel.uri == invite.uri and cancel.to.tag is None
    assert cancel.call_id == invite.call_id and cancel.from_.tag == invite.from_.tag


def test_cancel_200_and_487_fail_with_canceled() -> None:
    ua, wire, leg, invite = dial()
    ua.receive_data(peer_reply(invite, 180), PEER, 1.2)
    ua.hangup(leg, 1.5)  # hangup before the answer is a CANCEL
    wire.flush()
    cancel = last_request(wire, "CANCEL")
    ua.receive_data(peer_reply(cancel, 200), PEER, 1.6)
    assert events_of(wire, CallFailed) == []
    ua.receive_data(peer_reply(invite, 487), PEER, 1.7)
    wire.flush()
    assert last_request(wire, "ACK").top_via.branch == invite.top_via.branch
    failed = events_of(wire, CallFailed)
    assert len(failed) == 1 and failed[0].cause == "Canceled" and failed[0].status == 487
    assert leg.state is CallState.TERMINATED


def test_cancel_and_2xx_race_acks_then_byes() -> None:
    ua, wire, leg, invite = dial()
    ua.receive_data(peer_reply(invite, 180), PEER, 1.2)
    ua.cancel(leg, 1.5)
    ua.receive_data(peer_reply(invite, 200, body=SDP_B), PEER, 1.6)
    wire.flush()
    methods = [m.method for m, _ in wire.sent if isinstance(m, Request)]
    assert methods[-2:] == ["ACK", "BYE"]
    assert events_of(wire, CallAnswered) == []
    bye = last_request(wire, "BYE")
    ua.receive_data(peer_reply(bye, 200), PEER, 1.7)
    wire.flush()
    failed = events_of(wire, CallFailed)
    assert len(failed) == 1 and failed[0].cause == "Canceled"
    assert leg.state is CallState.TERMINATED


def test_cancel_without_final_gives_up_after_64_t1() -> None:
    ua, wire, leg, invite = dial()
    ua.receive_data(peer_reply(invite, 180), PEER, 1.2)
    ua.cancel(leg, 2.0)
    wire.flush()
    wire.run_until(2.0 + 31.9, 2.0)
    assert events_of(wire, CallFailed) == []
    wire.run_until(2.0 + 32.1, 33.9)
    failed = events_of(wire, CallFailed)
    assert len(failed) == 1 and failed[0].cause == "Canceled" and failed[0].status == 408
    assert leg.state is CallState.TERMINATED


def test_timer_b_fails_with_request_timeout() -> None:
    ua, wire, leg, invite = dial()
    wire.run_until(1.0 + 31.9, 1.0)
    assert events_of(wire, CallFailed) == []
    assert len(wire.requests("INVITE")) == 7  # 0, .5, 1.5, 3.5, 7.5, 15.5, 31.5
    wire.run_until(1.0 + 32.0, 32.9)
    failed = events_of(wire, CallFailed)
    assert len(failed) == 1 and failed[0].cause == "Request Timeout" and failed[0].status == 408


def test_forked_second_2xx_is_acked_and_byed() -> None:
    ua, wire, leg, invite = dial()
    ua.receive_data(peer_reply(invite, 200, body=SDP_B, to_tag="forkA"), PEER, 2.0)
    ua.receive_data(peer_reply(invite, 200, body=SDP_B, to_tag="forkB",
                               contact="<sip:1002@127.0.0.1:6000>"), PEER, 2.1)
    wire.flush()
    acks = wire.requests("ACK")
    assert [a.to.tag for a in acks] == ["forkA", "forkB"]
    bye = last_request(wire, "BYE")
    assert bye.to.tag == "forkB" and bye.uri == "sip:1002@127.0.0.1:6000"
    assert leg.dialog is not None and leg.dialog.remote_tag == "forkA"
    assert leg.state is CallState.CONFIRMED and len(events_of(wire, CallAnswered)) == 1


def test_early_media_sdp_is_reported() -> None:
    ua, wire, leg, invite = dial()
    ua.receive_data(peer_reply(invite, 183, body=SDP_B), PEER, 1.2)
    wire.flush()
    progress = events_of(wire, CallProgress)
    assert progress[-1].status == 183 and progress[-1].sdp == SDP_B
    assert leg.remote_sdp == SDP_B


def test_422_retries_once_with_min_se() -> None:
    ua, wire, leg, invite = dial()
    ua.receive_data(peer_reply(invite, 422, headers=[("Min-SE", "3600")]), PEER, 1.2)
    wire.flush()
    invites = wire.requests("INVITE")
    assert len(invites) == 2
    assert invites[1].headers.get("Session-Expires") == "3600"
    assert invites[1].headers.get("Min-SE") == "3600"
    assert invites[1].cseq.number == 2
    ua.receive_data(peer_reply(invites[1], 422, headers=[("Min-SE", "7200")]), PEER, 1.3)
    wire.flush()
    assert len(wire.requests("INVITE")) == 2
    assert [e.status for e in events_of(wire, CallFailed)] == [422]


def test_transport_down_fails_calls_in_progress() -> None:
    ua, wire = call_ua(transport="tcp")
    leg = ua.invite("1002", SDP_A, 1.0)
    wire.flush()
    ua.transport_down("reset", 1.5)
    wire.flush()
    failed = events_of(wire, CallFailed)
    assert len(failed) == 1 and failed[0].cause == "Connection Error"
    assert leg.state is CallState.TERMINATED


def test_extra_headers_and_replaces_go_on_the_invite() -> None:
    ua, wire = call_ua()
    ua.invite("1002", SDP_A, 1.0, extra_headers=[("X-Queue", "sales")],
              call_id="fixed-call", replaces="abc;to-tag=1;from-tag=2")
    wire.flush()
    invite = last_request(wire, "INVITE")
    assert invite.call_id == "fixed-call"
    assert invite.headers.get("X-Queue") == "sales"
    assert invite.headers.get("Replaces") == "abc;to-tag=1;from-tag=2"


def test_invite_challenged_with_the_registers_nonce_is_still_answered() -> None:
    ua, wire = call_ua(register=True)
    register = last_request(wire, "REGISTER")
    nonce = 'Digest realm="127.0.0.1", nonce="same", qop="auth"'
    ua.receive_data(peer_reply(register, 401, headers=[("WWW-Authenticate", nonce)]),
                    REGISTRAR, 0.1)
    wire.flush()
    ua.receive_data(peer_reply(last_request(wire, "REGISTER"), 200), REGISTRAR, 0.2)
    ua.invite("1002", SDP_A, 1.0)
    wire.flush()
    invite = last_request(wire, "INVITE")
    ua.receive_data(peer_reply(invite, 407, headers=[("Proxy-Authenticate", nonce)]),
                    REGISTRAR, 1.1)
    wire.flush()
    retried = last_request(wire, "INVITE")
    assert retried.cseq.number == 2
    assert 'nonce="same"' in (retried.headers.get("Proxy-Authorization") or "")
