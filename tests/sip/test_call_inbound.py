"""Inbound calls: INVITE → CallIncoming → ring → answer (2xx retransmitted until ACK)."""

from __future__ import annotations

from agentconsole.sip.events import (
    CallConfirmed,
    CallEnded,
    CallFailed,
    CallIncoming,
    IncomingRequest,
)
from agentconsole.sip.invite import CallLeg, CallState
from agentconsole.sip.message import Response
from agentconsole.sip.ua import UserAgent

from .uahelpers import (
    PEER,
    SDP_A,
    SDP_B,
    Wire,
    call_ua,
    last_request,
    peer_reply,
    peer_request,
    responses_to,
)

CALL = "in-1@127.0.0.1"


def incoming(**kwargs: object) -> tuple[UserAgent, Wire, CallLeg]:
    ua, wire = call_ua(**kwargs)
    ua.receive_data(peer_request("INVITE", call_id=CALL, body=SDP_B,
                                 extra=[("Supported", "timer"),
                                        ("P-Asserted-Identity", "<sip:+4930@pbx>")]),
                    PEER, 1.0)
    wire.flush()
    calls = [e for e in wire.events if isinstance(e, CallIncoming)]
    assert len(calls) == 1
    return ua, wire, calls[0].leg


def ack_for(leg: CallLeg, cseq: int = 1, body: bytes = b"",
            branch: str = "z9hG4bKack1") -> bytes:
    assert leg.dialog is not None
    return peer_request("ACK", call_id=CALL, cseq=cseq, to_tag=leg.dialog.local_tag,
                        branch=branch, body=body)


def finals(wire: Wire) -> list[Response]:
    return [r for r in responses_to(wire, "INVITE") if r.status >= 200]


def test_incoming_call_event_and_leg() -> None:
    ua, wire, leg = incoming()
    event = [e for e in wire.events if isinstance(e, CallIncoming)][0]
    assert isinstance(event, IncomingRequest)  # old consumers still see the INVITE
    assert leg.direction == "inbound" and leg.state is CallState.INCOMING
    assert leg.remote_sdp == SDP_B and leg.call_id == CALL
    assert str(leg.remote_identity.uri) == "sip:1002@127.0.0.1"
    assert leg.request_headers.get("P-Asserted-Identity") == "<sip:+4930@pbx>"
    wire.run_until(1.3, 1.0)  # the IST sends 100 Trying for a silent TU
    assert [r.status for r in responses_to(wire, "INVITE")] == [100]


def test_ring_answer_ack_confirms() -> None:
    ua, wire, leg = incoming()
    ua.ring(leg, 1.1)
    wire.flush()
    ringing = responses_to(wire, "INVITE")[-1]
    assert ringing.status == 180 and ringing.to.tag and ringing.contacts
    assert leg.state is CallState.EARLY
    ua.answer(leg, SDP_A, 2.0)
    wire.flush()
    ok = finals(wire)[-1]
    assert ok.status == 200 and ok.body == SDP_A and ok.to.tag == ringing.to.tag
    assert ok.headers.get("Require") == "timer"
    assert (ok.headers.get("Session-Expires") or "").startswith("1800;refresher=")
    assert leg.state is CallState.CONFIRMING
    ua.receive_data(ack_for(leg), PEER, 2.2)
    wire.flush()
    confirmed = [e for e in wire.events if isinstance(e, CallConfirmed)]
    assert len(confirmed) == 1 and confirmed[0].sdp is None
    assert leg.state is CallState.CONFIRMED
    wire.run_until(40.0, 2.2)
    assert len(finals(wire)) == 1  # no more retransmissions after the ACK
    assert wire.requests("BYE") == []


def test_2xx_retransmitted_t1_doubling_to_t2_then_bye_no_ack() -> None:
    ua, wire, leg = incoming()
    ua.answer(leg, SDP_A, 2.0)
    wire.flush()
    times: list[float] = []
    now = 2.0
    while now < 2.0 + 33.0:
        deadline = ua.next_deadline()
        assert deadline is not None
        now = deadline
        ua.handle_timer(now)
        for message, _ in wire.flush():
            if isinstance(message, Response) and message.status == 200:
                times.append(round(now - 2.0, 3))
        if wire.requests("BYE"):
            break
    assert times[:7] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5]
    bye = last_request(wire, "BYE")
    assert round(now - 2.0, 3) == 32.0
    assert bye.to.tag == "peer" and bye.uri == "sip:1002@127.0.0.1:5999"
    ended = [e for e in wire.events if isinstance(e, CallEnded)]
    assert len(ended) == 1 and ended[0].cause == "No ACK"


def test_reject_sends_final_and_fails() -> None:
    ua, wire, leg = incoming()
    ua.reject(leg, 486, 1.5)
    wire.flush()
    assert finals(wire)[-1].status == 486
    failed = [e for e in wire.events if isinstance(e, CallFailed)]
    assert len(failed) == 1 and failed[0].status == 486
    assert leg.state is CallState.TERMINATED
    ua.answer(leg, SDP_A, 1.6)  # too late: ignored, never raises
    assert len(finals(wire)) == 1


def test_reject_with_warning() -> None:
    ua, wire, leg = incoming()
    ua.reject(leg, 488, 1.5, warning='399 agentconsole "no codec"')
    wire.flush()
    assert finals(wire)[-1].headers.get("Warning") == '399 agentconsole "no codec"'


def test_caller_cancel_gets_200_and_487() -> None:
    ua, wire, leg = incoming()
    ua.ring(leg, 1.1)
    ua.receive_data(peer_request("CANCEL", call_id=CALL, contact=None), PEER, 1.5)
    wire.flush()
    assert [r.status for r in responses_to(wire, "CANCEL")] == [200]
    assert finals(wire)[-1].status == 487
    failed = [e for e in wire.events if isinstance(e, CallFailed)]
    assert len(failed) == 1 and failed[0].cause == "Canceled"
    assert leg.state is CallState.TERMINATED
    ua.receive_data(ack_for(leg, branch="z9hG4bKpeer1"), PEER, 1.6)  # ACK for the 487
    assert wire.flush() == []


def test_retransmitted_invite_gets_the_same_provisional() -> None:
    ua, wire, leg = incoming()
    ua.ring(leg, 1.1)
    wire.flush()
    ua.receive_data(peer_request("INVITE", call_id=CALL, body=SDP_B), PEER, 1.5)
    wire.flush()
    provisional = [r for r in responses_to(wire, "INVITE") if r.status == 180]
    assert len(provisional) == 2 and provisional[0].to.tag == provisional[1].to.tag
    assert len([e for e in wire.events if isinstance(e, CallIncoming)]) == 1


def test_hangup_while_waiting_for_ack_byes_after_ack() -> None:
    ua, wire, leg = incoming()
    ua.answer(leg, SDP_A, 2.0)
    ua.hangup(leg, 2.1)
    wire.flush()
    assert wire.requests("BYE") == [] and leg.state is CallState.TERMINATING
    ua.receive_data(ack_for(leg), PEER, 2.3)
    wire.flush()
    bye = last_request(wire, "BYE")
    assert bye.cseq.method == "BYE"
    ua.receive_data(peer_reply(bye, 200, to_tag=None), PEER, 2.4)
    wire.flush()
    ended = [e for e in wire.events if isinstance(e, CallEnded)]
    assert len(ended) == 1 and ended[0].cause == "Terminated"
    assert [e for e in wire.events if isinstance(e, CallConfirmed)] == []


def test_hangup_of_unanswered_incoming_call_is_486() -> None:
    ua, wire, leg = incoming()
    ua.hangup(leg, 1.2)
    wire.flush()
    assert finals(wire)[-1].status == 486


def test_offerless_invite_gets_answer_in_ack() -> None:
    ua, wire = call_ua()
    ua.receive_data(peer_request("INVITE", call_id=CALL), PEER, 1.0)
    wire.flush()
    leg = [e for e in wire.events if isinstance(e, CallIncoming)][0].leg
    assert leg.remote_sdp is None
    ua.answer(leg, SDP_A, 1.5)  # our offer
    ua.receive_data(ack_for(leg, body=SDP_B), PEER, 1.7)
    wire.flush()
    confirmed = [e for e in wire.events if isinstance(e, CallConfirmed)]
    assert confirmed[0].sdp == SDP_B and leg.remote_sdp == SDP_B


def test_two_calls_at_once() -> None:
    ua, wire, leg = incoming()
    ua.receive_data(peer_request("INVITE", call_id="second@x", branch="z9hG4bKsecond",
                                 body=SDP_B), PEER, 1.2)
    wire.flush()
    legs = [e.leg for e in wire.events if isinstance(e, CallIncoming)]
    assert len(legs) == 2 and legs[0].id != legs[1].id
    ua.reject(legs[1], 486, 1.3)
    ua.answer(legs[0], SDP_A, 1.4)
    wire.flush()
    assert legs[0].state is CallState.CONFIRMING and legs[1].state is CallState.TERMINATED


def test_session_expires_below_min_se_gets_422() -> None:
    ua, wire = call_ua()
    ua.receive_data(peer_request("INVITE", call_id=CALL, body=SDP_B,
                                 extra=[("Session-Expires", "60"), ("Supported", "timer")]),
                    PEER, 1.0)
    wire.flush()
    response = finals(wire)[-1]
    assert response.status == 422 and response.headers.get("Min-SE") == "90"
    assert [e for e in wire.events if isinstance(e, CallIncoming)] == []


def test_record_route_is_copied_into_dialog_responses() -> None:
    ua, wire = call_ua()
    ua.receive_data(peer_request("INVITE", call_id=CALL, body=SDP_B,
                                 extra=[("Record-Route", "<sip:p1.example.com;lr>"),
                                        ("Record-Route", "<sip:p2.example.com;lr>")]),
                    PEER, 1.0)
    wire.flush()
    leg = [e for e in wire.events if isinstance(e, CallIncoming)][0].leg
    ua.ring(leg, 1.1)
    ua.answer(leg, SDP_A, 1.2)
    wire.flush()
    for response in responses_to(wire, "INVITE"):
        assert response.headers.get_all("Record-Route") == [
            "<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    ua.receive_data(ack_for(leg), PEER, 1.3)
    ua.hangup(leg, 2.0)
    wire.flush()
    bye = last_request(wire, "BYE")
    assert bye.headers.get_all("Route") == ["<sip:p1.example.com;lr>",
                                            "<sip:p2.example.com;lr>"]
    assert bye.uri == "sip:1002@127.0.0.1:5999"
    assert wire.sent[-1][1] == ("p1.example.com", 5060)
