"""``is_registered`` tells the truth on UDP: bounded refresh and no-answer detection,
sans-IO with a fake registrar and a fake clock.

Nothing reports a UDP registrar that died or restarted with in-memory bindings, so the
UA re-REGISTERs at least every ``udp_refresh_s`` (a restarted registrar has the binding
back within that bound) and reports a REGISTER left unanswered ``answer_timeout_s`` at
once, while its retransmissions go on probing.
"""

from __future__ import annotations

from agentconsole.sip.events import RegistrationStateChanged
from agentconsole.sip.message import Request
from agentconsole.sip.registration import NO_ANSWER

from .uahelpers import REGISTRAR, Wire, challenge, make_ua, reply

REFRESH_S = 30.0
ANSWER_TIMEOUT_S = 8.0
T2 = 4.0


def liveness_ua(transport: str = "udp") -> Wire:
    ua = make_ua(transport, udp_refresh_s=REFRESH_S,
                 register_answer_timeout_s=ANSWER_TIMEOUT_S)
    wire = Wire(ua)
    ua.transport_up("127.0.0.1", 5070, 0.0)
    wire.flush()
    return wire


def states(wire: Wire) -> list[RegistrationStateChanged]:
    return [e for e in wire.events if isinstance(e, RegistrationStateChanged)]


def registers(wire: Wire) -> list[Request]:
    return wire.requests("REGISTER")


def answer_last(wire: Wire, now: float, status: int = 200) -> None:
    request = registers(wire)[-1]
    headers = [("Contact", "<sip:1001@127.0.0.1:5070>;expires=600")] if status == 200 else []
    wire.ua.receive_data(reply(request, status, headers=headers), REGISTRAR, now)
    wire.flush()


def test_udp_binding_is_refreshed_every_30_s_whatever_the_expiry() -> None:
    wire = liveness_ua()
    answer_last(wire, 0.1)
    assert states(wire)[-1].registered and states(wire)[-1].expires == 600
    times = []
    now = 0.1
    for _ in range(4):
        before = len(registers(wire))
        now = wire.run_until(now + REFRESH_S + 0.01, now)
        assert len(registers(wire)) == before + 1
        times.append(now)
        answer_last(wire, now)
    refreshes = {r.cseq.number for r in registers(wire)}
    assert len(refreshes) == 5  # the first REGISTER and four refreshes in two minutes
    assert all(r.headers.get("Expires") == "600" for r in registers(wire))


def test_stream_transports_keep_the_granted_expiry() -> None:
    wire = liveness_ua("tcp")
    answer_last(wire, 0.1)
    wire.run_until(300.0, 0.1)
    assert len(registers(wire)) == 1  # a reset tells a stream flow at once


def test_silent_registrar_is_reported_within_the_answer_timeout() -> None:
    wire = liveness_ua()
    answer_last(wire, 0.1)
    refresh_at = 0.1 + REFRESH_S
    now = wire.run_until(refresh_at + ANSWER_TIMEOUT_S - 0.1, 0.1)
    assert states(wire)[-1].registered  # not yet: retransmissions are still out
    now = wire.run_until(refresh_at + ANSWER_TIMEOUT_S + 0.1, now)
    last = states(wire)[-1]
    assert (last.registered, last.status, last.reason) == (False, 408, NO_ANSWER)
    # the same REGISTER keeps probing at least every T2 until Timer F
    now = wire.run_until(refresh_at + 31.0, now)
    pending = registers(wire)[-1]
    resends = [r for r in registers(wire) if r.top_via.branch == pending.top_via.branch]
    assert len(resends) >= 9
    assert len([s for s in states(wire) if s.reason == NO_ANSWER]) == 1  # said once


def test_registrar_back_after_a_restart_gets_the_binding_within_t2() -> None:
    """The registrar comes back while a refresh is unanswered: the next retransmission
    meets it (401 from its new nonce secret), and the binding is restored."""
    wire = liveness_ua()
    answer_last(wire, 0.1)
    now = wire.run_until(0.1 + REFRESH_S + 12.0, 0.1)  # 12 s of silence
    assert not states(wire)[-1].registered
    count = len(registers(wire))
    now = wire.run_until(now + T2 + 0.01, now)
    assert len(registers(wire)) == count + 1  # a retransmission within T2
    wire.ua.receive_data(reply(registers(wire)[-1], 401, headers=[challenge("fresh")]),
                         REGISTRAR, now)
    wire.flush()
    answer_last(wire, now + 0.01)
    assert states(wire)[-1].registered


def test_timer_f_retries_probe_every_4_s_in_the_first_minute_then_back_off() -> None:
    wire = liveness_ua()
    now = 0.0
    gaps = []
    for _ in range(8):
        now = _until_failure(wire, now)
        event = states(wire)[-1]
        assert event.status == 408 and event.retry_in is not None
        gaps.append(event.retry_in)
        now = wire.run_until(now + event.retry_in + 0.001, now)
    # every attempt lasts Timer F (32 s): the first two retries fall in the first minute
    assert all(1.0 <= g <= 4.0 for g in gaps[:2]), gaps
    assert max(gaps[2:]) > 4.0 and all(g <= 30.0 for g in gaps), gaps


def _until_failure(wire: Wire, now: float) -> float:
    """Run until a RegistrationStateChanged with a retry delay arrives."""
    seen = len([s for s in states(wire) if s.retry_in is not None])
    while len([s for s in states(wire) if s.retry_in is not None]) == seen:
        deadline = wire.ua.next_deadline()
        assert deadline is not None
        now = wire.run_until(deadline, now)
    return now
