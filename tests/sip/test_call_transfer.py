"""REFER / NOTIFY / Replaces in the sans-IO call layer (RFC 3515, 3891, 4488, 6665),
driven with the Wire harness and a fake clock."""

from __future__ import annotations

import pytest

from agentconsole.sip.events import (
    CallEnded,
    CallIncoming,
    ReferAccepted,
    ReferFailed,
    ReferReceived,
    TransferProgress,
)
from agentconsole.sip.invite import CallState
from agentconsole.sip.message import Request, Response
from agentconsole.sip.refer import Replaces, parse_refer_to, parse_sipfrag

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


def last_response(call: Call, method: str) -> Response:
    found = [r for r in call.wire.responses() if r.cseq.method == method]
    assert found, f"no response to {method}"
    return found[-1]


def notify(call: Call, now: float, body: bytes, state: str, *, event: str = "refer",
           cseq: int | None = None) -> Response:
    """The peer sends a NOTIFY with a sipfrag body; returns our answer."""
    if cseq is None:
        call.peer_cseq += 1
        cseq = call.peer_cseq
    extra = [("Event", event), ("Subscription-State", state)]
    data = peer_request("NOTIFY", call_id=call.call_id, cseq=cseq, from_tag=call.remote_tag,
                        to_tag=call.local_tag, body=body, branch=f"z9hG4bKn{cseq}",
                        extra=extra)
    data = data.replace(b"Content-Type: application/sdp", b"Content-Type: message/sipfrag")
    call.ua.receive_data(data, PEER, now)
    call.wire.flush()
    return last_response(call, "NOTIFY")


def send_refer(call: Call, now: float = 5.0, **kwargs: object) -> Request:
    assert call.ua.refer(call.leg, "1003", now, **kwargs)  # type: ignore[arg-type]
    call.wire.flush()
    return last_request(call.wire, "REFER")


# ----- referrer -----------------------------------------------------------------------------
def test_blind_refer_request_and_successful_progress() -> None:
    call = outbound_call()
    refer = send_refer(call)
    assert refer.headers.get("Refer-To") == "<sip:1003@127.0.0.1>"
    assert refer.headers.get("Referred-By") == "<sip:1001@127.0.0.1>"
    assert refer.to.tag == "srv1" and refer.from_.tag == call.local_tag
    assert refer.uri == "sip:1002@127.0.0.1:5999" and refer.cseq.method == "REFER"
    call.reply_last("REFER", 202, 5.1, contact=None)
    assert call.events(ReferAccepted) == [ReferAccepted(call.leg, 202, True)]
    assert notify(call, 5.2, b"SIP/2.0 100 Trying\r\n", "active;expires=60").status == 200
    assert notify(call, 6.0, b"SIP/2.0 180 Ringing\r\n", "active;expires=60").status == 200
    ok = notify(call, 7.0, b"SIP/2.0 200 OK\r\n", "terminated;reason=noresource")
    assert ok.status == 200 and ok.to.tag == call.local_tag
    progress = call.events(TransferProgress)
    assert [(p.status, p.final) for p in progress] == [(100, False), (180, False), (200, True)]
    # the subscription is over: a late NOTIFY matches nothing (RFC 6665 §4.1.3)
    assert notify(call, 8.0, b"SIP/2.0 200 OK\r\n", "terminated").status == 481
    assert call.leg.state is CallState.CONFIRMED  # ending the call is the app's decision


def test_refer_with_replaces_escapes_the_dialog_ids() -> None:
    call = outbound_call()
    refer = send_refer(call, replaces=("abc@host", "totag", "fromtag"))
    value = refer.headers.get("Refer-To") or ""
    assert value.startswith("<sip:1003@127.0.0.1?Replaces=abc%40host%3Bto-tag%3Dtotag")
    assert parse_refer_to(value).replaces == Replaces("abc@host", "totag", "fromtag")


def test_final_notify_before_the_202_and_failure_sipfrag() -> None:
    call = outbound_call()
    refer = send_refer(call)
    notify(call, 5.05, b"SIP/2.0 486 Busy Here\r\n", "terminated;reason=noresource")
    call.ua.receive_data(peer_reply(refer, 202, contact=None), PEER, 5.1)
    call.wire.flush()
    assert [(p.status, p.final) for p in call.events(TransferProgress)] == [(486, True)]
    assert call.events(ReferAccepted) == [ReferAccepted(call.leg, 202, True)]
    assert call.ua.calls.deadline_of(call.leg, "refer") is None  # nothing more to wait for


@pytest.mark.parametrize(("status", "ended"), [(603, False), (403, False), (405, False),
                                               (481, True)])
def test_refused_refer_keeps_the_call_unless_the_dialog_is_gone(status: int,
                                                                 ended: bool) -> None:
    call = outbound_call()
    send_refer(call)
    call.reply_last("REFER", status, 5.1, contact=None)
    assert [e.status for e in call.events(ReferFailed)] == [status]
    assert (call.leg.state is CallState.TERMINATED) == ended
    if ended:
        assert call.events(CallEnded)[0].cause == "Dialog Error"
    # no subscription (and maybe no dialog): NOTIFYs are refused
    assert notify(call, 6.0, b"SIP/2.0 100 Trying\r\n", "active").status == 481


def test_refer_without_any_answer_fails_the_transfer_and_ends_the_call() -> None:
    """RFC 5057 §5.1: a request that gets no answer at all (Timer F) means the peer is
    gone, for every usage of the dialog: the transfer fails and the call ends, a BYE
    still tried, as with a re-INVITE or INFO that nobody answers."""
    call = outbound_call()
    send_refer(call)
    call.wire.run_until(40.0, 5.0)  # Timer F = 64·T1 = 32 s
    assert [e.status for e in call.events(ReferFailed)] == [408]
    assert [(e.cause, e.status) for e in call.events(CallEnded)] == \
        [("Request Timeout (REFER, no answer)", 408)]
    assert call.leg.state is CallState.TERMINATED and call.wire.requests("BYE")


def test_notify_without_any_answer_ends_the_call() -> None:
    """The referee's NOTIFY (RFC 3515 §2.4.4) unanswered: the referrer is gone (RFC 5057
    §5.1). A NOTIFY answered 481 ends only the subscription."""
    call = inbound_call()
    refer_from_peer(call, 5.0)
    assert call.ua.accept_refer(call.leg, 5.5)
    call.wire.flush()
    assert last_request(call.wire, "NOTIFY")
    call.wire.run_until(5.5 + 33.0, 5.5)
    assert [(e.cause, e.status) for e in call.events(CallEnded)] == \
        [("Request Timeout (NOTIFY, no answer)", 408)]
    assert call.leg.state is CallState.TERMINATED and call.wire.requests("BYE")


def test_no_notify_after_the_202_fails_the_transfer() -> None:
    call = outbound_call()
    send_refer(call)
    call.reply_last("REFER", 202, 5.1, contact=None)
    assert call.ua.calls.deadline_of(call.leg, "refer") == pytest.approx(5.1 + 32.0)
    call.wire.run_until(37.0, 5.1)
    assert call.events(TransferProgress) == []
    call.wire.run_until(37.2, 37.0)
    assert [(p.status, p.final) for p in call.events(TransferProgress)] == [(408, True)]
    assert call.leg.state is CallState.CONFIRMED


def test_notify_expires_rearms_the_subscription_guard() -> None:
    call = outbound_call()
    send_refer(call)
    call.reply_last("REFER", 202, 5.1, contact=None)
    notify(call, 6.0, b"SIP/2.0 180 Ringing\r\n", "active;expires=100")
    assert call.ua.calls.deadline_of(call.leg, "refer") == pytest.approx(6.0 + 132.0)


def test_second_refer_while_one_runs_is_refused_locally() -> None:
    call = outbound_call()
    send_refer(call)
    assert not call.ua.refer(call.leg, "1004", 5.5)
    call.wire.flush()
    assert [e.status for e in call.events(ReferFailed)] == [491]
    assert len(call.wire.requests("REFER")) == 1


def test_refer_sub_false_in_the_2xx_means_no_subscription() -> None:
    call = outbound_call()
    refer = send_refer(call, refer_sub=False)
    assert refer.headers.get("Refer-Sub") == "false"
    call.reply_last("REFER", 202, 5.1, contact=None, headers=[("Refer-Sub", "false")])
    assert call.events(ReferAccepted) == [ReferAccepted(call.leg, 202, False)]
    assert call.ua.calls.deadline_of(call.leg, "refer") is None


@pytest.mark.parametrize(("event", "body", "state", "status"), [
    ("refer", b"SIP/2.0 100 Trying\r\n", "active", 481),  # no REFER sent
    ("presence", b"SIP/2.0 100 Trying\r\n", "active", 481),
    ("check-sync", b"", "active", 481),
])
def test_unsolicited_notify_gets_481(event: str, body: bytes, state: str, status: int) -> None:
    call = inbound_call()
    assert notify(call, 5.0, body, state, event=event).status == status
    assert call.events(TransferProgress) == []
    assert call.leg.state is CallState.CONFIRMED


def test_notify_matching_rules_with_a_subscription() -> None:
    call = outbound_call()
    refer = send_refer(call)
    call.reply_last("REFER", 202, 5.1, contact=None)
    assert notify(call, 5.2, b"SIP/2.0 100 Trying\r\n", "active", event="refer;id=999").status \
        == 481
    good_id = f"refer;id={refer.cseq.number}"
    assert notify(call, 5.3, b"garbage", "active", event=good_id).status == 400
    assert notify(call, 5.4, b"SIP/2.0 100 Trying\r\n", "active", event=good_id).status == 200
    assert notify(call, 5.5, b"", "terminated;reason=timeout").status == 200
    assert [(p.status, p.final) for p in call.events(TransferProgress)] == [(100, False),
                                                                           (0, True)]


def test_out_of_dialog_notify_and_refer_get_481() -> None:
    ua, wire = call_ua()
    for method in ("NOTIFY", "REFER"):
        ua.receive_data(peer_request(method, to_tag="nosuch", branch=f"z9hG4bKo{method}",
                                     extra=[("Refer-To", "<sip:x@y>")]), PEER, 1.0)
        wire.flush()
    assert [r.status for r in wire.responses()] == [481, 481]


# ----- referee ------------------------------------------------------------------------------
def refer_from_peer(call: Call, now: float, *, refer_to: list[str] | None = None,
                    extra: list[tuple[str, str]] | None = None) -> None:
    headers = [("Refer-To", v) for v in (refer_to if refer_to is not None
                                         else ["<sip:1003@127.0.0.1>"])]
    headers.append(("Referred-By", "<sip:1002@127.0.0.1>"))
    call.request("REFER", now, extra=headers + (extra or []))


def test_incoming_refer_accept_and_progress_notifies() -> None:
    call = inbound_call()
    refer_from_peer(call, 5.0)
    received = call.events(ReferReceived)
    assert len(received) == 1
    event = received[0]
    assert event.target == "sip:1003@127.0.0.1" and event.replaces is None
    assert event.referred_by == "<sip:1002@127.0.0.1>" and event.source == PEER
    assert [r for r in call.wire.responses() if r.cseq.method == "REFER"] == []  # waits
    assert call.ua.accept_refer(call.leg, 5.5)
    call.wire.flush()
    assert last_response(call, "REFER").status == 202
    first = last_request(call.wire, "NOTIFY")
    assert first.headers.get("Event") == "refer"
    assert (first.headers.get("Subscription-State") or "").startswith("active")
    assert (first.headers.get("Content-Type") or "").startswith("message/sipfrag")
    assert parse_sipfrag(first.body) == (100, "Trying")
    assert first.to.tag == "peer" and first.from_.tag == call.local_tag
    call.reply_last("NOTIFY", 200, 5.6, contact=None)
    assert call.ua.notify_refer_progress(call.leg, 180, "Ringing", 6.0)
    assert call.ua.notify_refer_progress(call.leg, 200, "OK", 7.0)
    call.wire.flush()
    notifies = call.wire.requests("NOTIFY")
    assert [parse_sipfrag(n.body) for n in notifies] == [(100, "Trying"), (180, "Ringing"),
                                                         (200, "OK")]
    assert (notifies[-1].headers.get("Subscription-State") or "").startswith("terminated")
    assert [n.cseq.number for n in notifies] == sorted({n.cseq.number for n in notifies})
    assert not call.ua.notify_refer_progress(call.leg, 200, "OK", 8.0)
    assert not call.ua.accept_refer(call.leg, 8.0)


def test_incoming_refer_with_replaces_is_unescaped() -> None:
    call = inbound_call()
    refer_from_peer(call, 5.0, refer_to=[
        "<sip:1003@127.0.0.1?Replaces=x%40h%3Bto-tag%3Da%3Bfrom-tag%3Db>"])
    event = call.events(ReferReceived)[0]
    assert event.replaces == "x@h;to-tag=a;from-tag=b"
    assert event.target == "sip:1003@127.0.0.1"


@pytest.mark.parametrize("refer_to", [[], ["<sip:a@b>", "<sip:c@d>"], ["<sip:a@b>, <sip:c@d>"],
                                      ["<http://evil>"], ["not a uri<"]])
def test_incoming_refer_needs_exactly_one_good_refer_to(refer_to: list[str]) -> None:
    call = inbound_call()
    refer_from_peer(call, 5.0, refer_to=refer_to)
    assert last_response(call, "REFER").status == 400
    assert call.events(ReferReceived) == []


def test_incoming_refer_reject_and_decision_timeout() -> None:
    call = inbound_call()
    refer_from_peer(call, 5.0)
    assert call.ua.reject_refer(call.leg, 603, 5.5)
    call.wire.flush()
    assert last_response(call, "REFER").status == 603
    assert not call.ua.accept_refer(call.leg, 5.6)
    refer_from_peer(call, 6.0)
    assert call.ua.calls.deadline_of(call.leg, "refer-in") == pytest.approx(6.0 + 15.0)
    call.wire.run_until(21.5, 6.0)
    assert last_response(call, "REFER").status == 603
    assert call.wire.requests("NOTIFY") == []
    assert call.leg.state is CallState.CONFIRMED


def test_second_refer_while_undecided_gets_491_and_ids_follow() -> None:
    call = inbound_call()
    refer_from_peer(call, 5.0)
    refer_from_peer(call, 5.1)
    assert last_response(call, "REFER").status == 491
    assert call.ua.accept_refer(call.leg, 5.2)
    call.ua.notify_refer_progress(call.leg, 503, "Service Unavailable", 5.3)
    refer_from_peer(call, 6.0)
    assert call.ua.accept_refer(call.leg, 6.1)
    call.wire.flush()
    last = last_request(call.wire, "NOTIFY")
    assert last.headers.get("Event") == f"refer;id={call.peer_cseq}"  # RFC 3515 §2.4.6


def test_incoming_refer_sub_false_gets_no_notify() -> None:
    call = inbound_call()
    refer_from_peer(call, 5.0, extra=[("Refer-Sub", "false")])
    assert call.ua.accept_refer(call.leg, 5.1)
    call.wire.flush()
    response = last_response(call, "REFER")
    assert response.status == 202 and response.headers.get("Refer-Sub") == "false"
    assert call.wire.requests("NOTIFY") == []
    assert not call.ua.notify_refer_progress(call.leg, 200, "OK", 6.0)


def test_refer_before_the_call_is_established_is_403() -> None:
    ua, wire = call_ua()
    ua.receive_data(peer_request("INVITE", call_id="early@x", body=SDP_B), PEER, 1.0)
    wire.flush()
    leg = [e for e in wire.events if isinstance(e, CallIncoming)][0].leg
    ua.ring(leg, 1.1)
    assert leg.dialog is not None
    ua.receive_data(peer_request("REFER", call_id="early@x", cseq=2, to_tag=leg.dialog.local_tag,
                                 branch="z9hG4bKr2", extra=[("Refer-To", "<sip:a@b>")]),
                    PEER, 1.2)
    wire.flush()
    assert [r.status for r in wire.responses() if r.cseq.method == "REFER"] == [403]


def test_notify_481_ends_the_subscription_not_the_call() -> None:
    call = inbound_call()
    refer_from_peer(call, 5.0)
    call.ua.accept_refer(call.leg, 5.1)
    call.wire.flush()
    call.reply_last("NOTIFY", 481, 5.2, contact=None)
    assert call.leg.state is CallState.CONFIRMED
    assert not call.ua.notify_refer_progress(call.leg, 180, "Ringing", 6.0)


# ----- Replaces -----------------------------------------------------------------------------
def invite_with(call: Call, replaces: list[str], *, now: float = 5.0,
                call_id: str = "new@127.0.0.1") -> tuple[int | None, CallIncoming | None]:
    before = len(call.wire.events)
    data = peer_request("INVITE", call_id=call_id, from_tag="newpeer", branch="z9hG4bKrep",
                        body=SDP_B, extra=[("Replaces", v) for v in replaces])
    call.ua.receive_data(data, PEER, now)
    call.wire.flush()
    incoming = [e for e in call.wire.events[before:] if isinstance(e, CallIncoming)]
    finals = [r.status for r in call.wire.responses()
              if r.cseq.method == "INVITE" and r.call_id == call_id and r.status >= 200]
    return (finals[-1] if finals else None), (incoming[0] if incoming else None)


def ids_for(call: Call, **flags: str) -> str:
    value = f"{call.call_id};to-tag={call.local_tag};from-tag={call.remote_tag}"
    return value + "".join(f";{k}" if not v else f";{k}={v}" for k, v in flags.items())


@pytest.mark.parametrize("make", [outbound_call, inbound_call])
def test_replaces_matching_a_confirmed_call(make: object) -> None:
    call = make()  # type: ignore[operator]
    status, incoming = invite_with(call, [ids_for(call)])
    assert status is None and incoming is not None
    assert incoming.leg.replaces is call.leg
    call.ua.answer(incoming.leg, SDP_A, 5.1)  # the app answers, then hangs up the old leg
    call.ua.hangup(call.leg, 5.2)
    call.wire.flush()
    assert last_request(call.wire, "BYE").call_id == call.call_id


def test_replaces_with_swapped_tags_does_not_match() -> None:
    call = outbound_call()
    swapped = f"{call.call_id};to-tag={call.remote_tag};from-tag={call.local_tag}"
    assert invite_with(call, [swapped]) == (481, None)


@pytest.mark.parametrize(("values", "expected"), [
    (["nosuch@x;to-tag=a;from-tag=b"], 481),
    (["garbage"], 400),
])
def test_replaces_refusals(values: list[str], expected: int) -> None:
    call = outbound_call()
    assert invite_with(call, values) == (expected, None)


def test_two_replaces_headers_get_400() -> None:
    call = outbound_call()
    assert invite_with(call, [ids_for(call), ids_for(call)]) == (400, None)


def test_early_only_on_a_confirmed_call_gets_486() -> None:
    call = outbound_call()
    assert invite_with(call, [ids_for(call, **{"early-only": ""})]) == (486, None)


def test_replaces_for_an_ended_call_gets_603() -> None:
    call = inbound_call()
    call.request("BYE", 5.0)
    assert call.leg.state is CallState.TERMINATED
    assert invite_with(call, [ids_for(call)], now=6.0) == (603, None)


def test_replaces_for_a_terminating_call_gets_603() -> None:
    call = outbound_call()
    call.ua.hangup(call.leg, 5.0)
    assert invite_with(call, [ids_for(call)], now=5.1) == (603, None)


def test_replaces_of_an_early_dialog() -> None:
    # We are ringing (inbound early dialog): RFC 3891 §3 says 481.
    ua, wire = call_ua()
    ua.receive_data(peer_request("INVITE", call_id="ring@x", body=SDP_B), PEER, 1.0)
    wire.flush()
    leg = [e for e in wire.events if isinstance(e, CallIncoming)][0].leg
    ua.ring(leg, 1.1)
    assert leg.dialog is not None
    ringing = Call(ua, wire, leg, "ring@x", leg.dialog.local_tag, "peer")
    assert invite_with(ringing, [ids_for(ringing)])[0] == 481
    # We called and the callee rings (outbound early dialog): may be replaced.
    ua2, wire2 = call_ua()
    out = ua2.invite("1002", SDP_A, 1.0)
    wire2.flush()
    ua2.receive_data(peer_reply(last_request(wire2, "INVITE"), 180), PEER, 1.1)
    wire2.flush()
    assert out.state is CallState.EARLY and out.dialog is not None
    early = Call(ua2, wire2, out, out.call_id, out.dialog.local_tag, "srv1")
    status, incoming = invite_with(early, [ids_for(early)])
    assert status is None and incoming is not None and incoming.leg.replaces is out
