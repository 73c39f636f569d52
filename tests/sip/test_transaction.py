"""Client transactions (RFC 3261 §17.1, RFC 6026) and timer values, on a fake clock.

Time never passes by itself here: the tests jump the clock to each
``next_deadline()`` and call ``on_timer`` there, so every schedule is checked exactly.
The non-INVITE client is in ``test_transaction_nict.py``.
"""

from __future__ import annotations

import pytest

from agentconsole.sip.errors import LocalProtocolError
from agentconsole.sip.message import Request, Response
from agentconsole.sip.timers import TimerConfig, TimerSet
from agentconsole.sip.transaction import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    PassToTU,
    SendMessage,
    TransactionKey,
    TransactionTerminated,
    TransactionTimeout,
    TransportErrorEffect,
    TxState,
    create_client_transaction,
)

from .client_tx import BRANCH, ict, make_request, nict, passed, reply, sends


# ----- timers ----------------------------------------------------------------------------------
def test_timer_defaults_follow_rfc3261_table_4() -> None:
    t = TimerConfig()
    assert (t.t1, t.t2, t.t4) == (0.5, 4.0, 5.0)
    assert t.timer_a == t.timer_e == t.timer_g == 0.5
    assert t.timer_b == t.timer_f == t.timer_h == t.timer_j == 32.0
    assert t.timer_l == t.timer_m == 32.0
    assert t.timer_i == t.timer_k == 5.0
    assert t.timer_d == 32.0
    assert t.trying_delay == pytest.approx(0.2)


def test_timer_config_from_ms_scales() -> None:
    t = TimerConfig.from_ms(50, 400, 500)
    assert t.t1 == pytest.approx(0.05)
    assert t.t2 == pytest.approx(0.4)
    assert t.t4 == pytest.approx(0.5)
    assert t.timer_b == pytest.approx(3.2)
    assert t.timer_d == 32.0  # Timer D is absolute (§17.1.1.2), not derived from T1
    assert TimerConfig.from_ms(500, 4000, 5000, timer_d_ms=0).timer_d == 0


@pytest.mark.parametrize("kwargs", [{"t1": 0}, {"t1": -1}, {"t2": 0.1}, {"t4": 0}, {"timer_d": -1}])
def test_timer_config_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TimerConfig(**kwargs)


def test_timer_set_pops_earliest_and_breaks_ties_by_arming_order() -> None:
    ts = TimerSet()
    ts.arm("B", 2.0)
    ts.arm("A", 1.0)
    ts.arm("C", 1.0)
    assert ts.next_deadline() == 1.0
    assert "A" in ts and ts.deadline("B") == 2.0 and ts.deadline("Z") is None
    assert ts.pop_due(0.5) is None
    assert ts.pop_due(5.0) == ("A", 1.0)
    assert ts.pop_due(5.0) == ("C", 1.0)
    ts.cancel("B", "missing")
    assert ts.pop_due(5.0) is None
    assert len(ts) == 0 and ts.next_deadline() is None


# ----- INVITE client ---------------------------------------------------------------------------
def test_ict_udp_no_answer_sends_seven_times_then_timer_b() -> None:
    r = ict()
    r.start(0.0)
    assert r.tx.state is TxState.CALLING
    r.run_until(1000)
    assert r.send_times() == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert all(isinstance(e, SendMessage) and e.message is r.tx.request for t, e in r.log[:7])
    assert r.times_of(TransactionTimeout) == [32.0]
    assert r.times_of(TransactionTerminated) == [32.0]
    assert r.tx.terminated and r.tx.next_deadline() is None


def test_ict_schedule_scales_with_t1() -> None:
    r = ict(timers=TimerConfig.from_ms(50, 400, 500))
    r.start(10.0)
    r.run_until(1000)
    expected = [10 + x / 10 for x in (0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5)]
    assert r.send_times() == pytest.approx(expected)
    assert r.times_of(TransactionTimeout) == pytest.approx([13.2])


def test_ict_reliable_never_retransmits_but_timer_b_fires() -> None:
    r = ict(reliable=True, transport="TCP")
    r.start(0.0)
    r.run_until(1000)
    assert r.send_times() == [0]
    assert r.times_of(TransactionTimeout) == [32.0]


def test_ict_first_provisional_stops_retransmission_and_timer_b() -> None:
    r = ict()
    r.start(0.0)
    r.run_until(1.0)
    assert r.send_times() == [0, 0.5]
    effects = r.tx.receive_response(reply(r.tx.request, 180), 1.0)
    assert passed(effects)[0].status == 180  # type: ignore[union-attr]
    assert sends(effects) == []
    assert r.tx.state is TxState.PROCEEDING
    assert r.tx.next_deadline() is None  # no Timer A, and Timer B only runs in Calling
    r.run_until(1000)
    assert r.send_times() == [0, 0.5]
    assert r.times_of(TransactionTimeout) == []
    again = r.tx.receive_response(reply(r.tx.request, 183), 50.0)
    assert [m.status for m in passed(again)] == [183]  # type: ignore[union-attr]


def test_ict_non_2xx_final_builds_the_ack() -> None:
    routes = ("<sip:proxy1.example.com;lr>", "<sip:proxy2.example.com;lr>")
    r = ict(routes=routes)
    r.start(0.0)
    response = reply(r.tx.request, 486, to_tag="totag9")
    effects = r.tx.receive_response(response, 0.7)
    assert r.tx.state is TxState.COMPLETED
    assert isinstance(effects[0], SendMessage) and isinstance(effects[1], PassToTU)
    assert effects[1].message is response
    ack = effects[0].message
    assert isinstance(ack, Request)
    assert ack is r.tx.ack
    invite = r.tx.request
    assert ack.method == "ACK" and ack.uri == invite.uri
    assert ack.headers.get_raw_all("Via") == invite.headers.get_raw_all("Via")
    assert ack.top_via.branch == BRANCH
    assert ack.to.params.get("tag") == "totag9"
    assert ack.headers.get("From") == invite.headers.get("From")
    assert ack.call_id == invite.call_id
    assert (ack.cseq.number, ack.cseq.method) == (1, "ACK")
    assert ack.headers.get_all("Route") == list(routes)
    assert ack.headers.get("Max-Forwards") == "70"
    assert "Contact" not in ack.headers and ack.body == b""
    assert b"Content-Length: 0" in ack.to_bytes()


def test_ict_ack_without_route_has_no_route() -> None:
    r = ict()
    r.start(0.0)
    r.tx.receive_response(reply(r.tx.request, 404), 0.1)
    assert r.tx.ack is not None and "Route" not in r.tx.ack.headers


def test_ict_completed_reacks_every_retransmitted_final_and_timer_d_ends_it() -> None:
    r = ict()
    r.start(0.0)
    first = r.tx.receive_response(reply(r.tx.request, 603), 1.0)
    ack = sends(first)[0]
    assert r.tx.next_deadline() == 33.0  # Timer D = 32 s on UDP
    for t in (1.5, 2.5, 4.5):
        again = r.tx.receive_response(reply(r.tx.request, 603), t)
        assert sends(again) == [ack] and passed(again) == []
    assert r.tx.receive_response(reply(r.tx.request, 180), 5.0) == []
    assert r.tx.receive_response(reply(r.tx.request, 200), 5.0) == []
    assert r.tx.on_timer(32.9) == []
    assert r.tx.on_timer(33.0) == [TransactionTerminated()]
    assert r.tx.receive_response(reply(r.tx.request, 603), 34.0) == []
    assert r.tx.on_timer(100) == []  # no Timer A/B left over from Calling


def test_ict_final_after_provisional() -> None:
    r = ict()
    r.start(0.0)
    r.tx.receive_response(reply(r.tx.request, 100, to_tag=None), 0.1)
    effects = r.tx.receive_response(reply(r.tx.request, 487), 9.0)
    assert r.tx.state is TxState.COMPLETED
    assert [type(e) for e in effects] == [SendMessage, PassToTU]


def test_ict_reliable_final_acks_and_terminates_at_once() -> None:
    r = ict(reliable=True, transport="TLS")
    r.start(0.0)
    effects = r.tx.receive_response(reply(r.tx.request, 500), 1.0)
    assert [type(e) for e in effects] == [SendMessage, PassToTU, TransactionTerminated]
    assert r.tx.terminated and r.tx.next_deadline() is None


@pytest.mark.parametrize("provisional_first", [False, True])
def test_ict_2xx_goes_to_accepted_and_every_2xx_reaches_the_tu(provisional_first: bool) -> None:
    r = ict()
    r.start(0.0)
    if provisional_first:
        r.tx.receive_response(reply(r.tx.request, 180), 0.2)
    r.run_until(1.0)
    ok = reply(r.tx.request, 200)
    effects = r.tx.receive_response(ok, 1.0)
    assert effects == [PassToTU(ok)]  # no ACK: the TU ACKs a 2xx (§13.2.2.4)
    assert r.tx.state is TxState.ACCEPTED
    assert r.tx.next_deadline() == 33.0  # Timer M = 64*T1 (RFC 6026 §8.4)
    for t in (1.5, 2.5, 4.5):
        assert passed(r.tx.receive_response(reply(r.tx.request, 200), t))[0].status == 200  # type: ignore[union-attr]
    fork = reply(r.tx.request, 200, to_tag="other-fork")
    assert passed(r.tx.receive_response(fork, 5.0)) == [fork]
    assert r.tx.receive_response(reply(r.tx.request, 180), 6.0) == []
    assert r.tx.receive_response(reply(r.tx.request, 486), 6.0) == []
    r.run_until(1000)
    assert r.send_times() == [0, 0.5] if not provisional_first else [0]
    assert r.times_of(TransactionTerminated) == [33.0]
    assert r.times_of(TransactionTimeout) == []
    assert r.tx.receive_response(reply(r.tx.request, 200), 40.0) == []


def test_ict_transport_error_terminates_once() -> None:
    r = ict()
    r.start(0.0)
    assert r.tx.transport_error(0.0) == [TransportErrorEffect(), TransactionTerminated()]
    assert r.tx.transport_error(0.1) == []
    assert r.tx.next_deadline() is None
    assert r.tx.on_timer(100.0) == []


def test_terminate_abandons_a_client_transaction() -> None:
    r = ict()
    r.start(0.0)
    r.tx.receive_response(reply(r.tx.request, 180), 0.2)
    assert r.tx.terminate(40.0) == [TransactionTerminated()]
    assert r.tx.terminate(41.0) == []
    assert r.tx.receive_response(reply(r.tx.request, 200), 42.0) == []


def test_on_timer_is_idempotent_and_late_wakeups_do_not_burst() -> None:
    r = ict()
    r.start(0.0)
    assert r.tx.on_timer(0.3) == []
    assert len(r.tx.on_timer(0.5)) == 1
    assert r.tx.on_timer(0.5) == []
    late = r.tx.on_timer(10.0)  # A was due at 1.5; the caller slept until 10
    assert len(sends(late)) == 1
    deadline = r.tx.next_deadline()
    assert deadline is not None and deadline > 10.0


def test_client_ignores_responses_before_start() -> None:
    r = ict()
    assert r.tx.receive_response(reply(r.tx.request, 200), 0.0) == []
    assert r.tx.state is TxState.CALLING


def test_start_twice_is_a_local_error() -> None:
    r = nict()
    r.start(0.0)
    with pytest.raises(LocalProtocolError):
        r.tx.start(1.0)


def _strip(response: Response, name: str) -> Response:
    response.headers.remove(name)
    return response


@pytest.mark.parametrize(
    "mangle",
    [
        lambda resp: _strip(resp, "Via"),
        lambda resp: _strip(resp, "CSeq"),
        lambda resp: resp.headers.set("CSeq", "one INVITE"),
        lambda resp: resp.headers.set("CSeq", "1 CANCEL"),
        lambda resp: resp.headers.set("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKother"),
        lambda resp: resp.headers.set("Via", "SIP/2.0/UDP 127.0.0.1:5070"),
        lambda resp: resp.headers.set("Via", "garbage;;;"),
        lambda resp: setattr(resp, "status", 99),
        lambda resp: setattr(resp, "status", 700),
    ],
)
def test_client_ignores_malformed_or_foreign_responses(mangle: object) -> None:
    r = ict()
    r.start(0.0)
    response = reply(r.tx.request, 486)
    mangle(response)  # type: ignore[operator]
    assert r.tx.receive_response(response, 0.1) == []
    assert r.tx.state is TxState.CALLING


def test_response_without_to_still_gets_an_ack() -> None:
    # Only reachable when a caller skips validation; the ACK falls back to the INVITE's To.
    r = ict()
    r.start(0.0)
    response = _strip(reply(r.tx.request, 486), "To")
    effects = r.tx.receive_response(response, 0.1)
    assert [type(e) for e in effects] == [SendMessage, PassToTU]
    assert r.tx.ack is not None
    assert r.tx.ack.headers.get("To") == r.tx.request.headers.get("To")


def test_branch_case_does_not_matter_for_responses() -> None:
    r = ict()
    r.start(0.0)
    response = reply(r.tx.request, 180)
    response.headers.set("Via", f"SIP/2.0/UDP 127.0.0.1:5070;branch={BRANCH.upper()}")
    assert passed(r.tx.receive_response(response, 0.1)) == [response]


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("ACK", {}),
        ("INVITE", {"branch": ""}),
        ("INVITE", {"branch": "rfc2543-branch"}),
        ("INVITE", {"branch": "z9hG4bK"}),
        ("INVITE", {"cseq_method": "BYE"}),
    ],
)
def test_client_constructor_rejects_unsendable_requests(
    method: str, kwargs: dict[str, str]
) -> None:
    request = make_request(method, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        create_client_transaction(request, reliable=False)


def test_client_constructor_rejects_wrong_class_and_missing_headers() -> None:
    with pytest.raises(LocalProtocolError):
        ClientInviteTransaction(make_request("OPTIONS"), reliable=False)
    with pytest.raises(LocalProtocolError):
        ClientNonInviteTransaction(make_request("INVITE"), reliable=False)
    no_call_id = make_request("BYE")
    no_call_id.headers.remove("Call-ID")
    with pytest.raises(LocalProtocolError):
        ClientNonInviteTransaction(no_call_id, reliable=False)


def test_client_key_and_factory() -> None:
    tx = create_client_transaction(make_request("INVITE"), reliable=False, destination=("h", 1))
    assert isinstance(tx, ClientInviteTransaction)
    assert tx.key == TransactionKey(BRANCH.lower(), "INVITE")
    assert tx.destination == ("h", 1)
    effects = tx.start(0.0)
    assert effects == [SendMessage(tx.request, ("h", 1))]
    other = create_client_transaction(make_request("REGISTER"), reliable=True)
    assert isinstance(other, ClientNonInviteTransaction)
    assert other.key.method == "REGISTER" and other.reliable


def test_effect_reprs_never_show_header_values() -> None:
    request = make_request("REGISTER")
    request.headers.add("Authorization", 'Digest username="a", response="s3cr3t"')
    text = repr(SendMessage(request)) + repr(PassToTU(reply(request, 401)))
    assert "s3cr3t" not in text and "REGISTER" in text and "401" in text
    assert "s3cr3t" not in repr(create_client_transaction(request, reliable=False))
