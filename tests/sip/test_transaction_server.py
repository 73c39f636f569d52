"""Server transactions (RFC 3261 §17.2 figures 7 and 8, RFC 6026 §8.7) on a fake clock."""

from __future__ import annotations

import pytest

from agentconsole.sip.errors import LocalProtocolError
from agentconsole.sip.message import Request, Response
from agentconsole.sip.timers import TimerConfig
from agentconsole.sip.transaction import (
    Effect,
    PassToTU,
    SendMessage,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    TransactionTerminated,
    TransactionTimeout,
    TransportErrorEffect,
    TxState,
    create_server_transaction,
)

from .test_transaction import make_request, reply, sends

SOURCE = ("192.0.2.7", 5070)


class ServerRunner:
    def __init__(self, tx: ServerTransaction) -> None:
        self.tx = tx
        self.log: list[tuple[float, Effect]] = []

    def do(self, now: float, effects: list[Effect]) -> list[Effect]:
        self.log += [(now, e) for e in effects]
        return effects

    def run_until(self, end: float) -> None:
        while True:
            deadline = self.tx.next_deadline()
            if deadline is None or deadline > end:
                return
            self.do(deadline, self.tx.on_timer(deadline))

    def sent(self) -> list[tuple[float, int]]:
        out = []
        for t, e in self.log:
            if isinstance(e, SendMessage):
                assert isinstance(e.message, Response)
                out.append((t, e.message.status))
        return out

    def times_of(self, kind: type) -> list[float]:
        return [t for t, e in self.log if isinstance(e, kind)]


def ist(reliable: bool = False, start: float = 0.0, **kw: object) -> ServerRunner:
    request = make_request("INVITE", **kw)  # type: ignore[arg-type]
    r = ServerRunner(ServerInviteTransaction(request, reliable=reliable, source=SOURCE))
    assert r.tx.start(start) == []
    return r


def nist(reliable: bool = False, method: str = "OPTIONS") -> ServerRunner:
    request = make_request(method)
    r = ServerRunner(ServerNonInviteTransaction(request, reliable=reliable, source=SOURCE))
    assert r.tx.start(0.0) == []
    return r


def ack_for(invite: Request, *, cseq: int = 1, branch: str | None = None) -> Request:
    ack = make_request("ACK", cseq=cseq, branch=branch or "z9hG4bKcli1")
    ack.headers.set("To", "Bob <sip:bob@example.com>;tag=b1")
    ack.uri = invite.uri
    return ack


# ----- INVITE server ---------------------------------------------------------------------------
def test_ist_sends_100_trying_after_200ms_when_the_tu_is_silent() -> None:
    r = ist(start=5.0)
    assert r.tx.state is TxState.PROCEEDING
    assert r.tx.next_deadline() == pytest.approx(5.2)
    r.run_until(100)
    [(when, status)] = r.sent()
    assert when == pytest.approx(5.2) and status == 100
    trying = r.tx.last_response
    assert trying is not None and trying.status == 100
    assert "tag=" not in (trying.headers.get("To") or "")
    assert trying.call_id == r.tx.request.call_id
    assert isinstance(r.log[0][1], SendMessage) and r.log[0][1].destination == SOURCE
    assert r.times_of(TransactionTimeout) == []  # Proceeding has no timeout of its own


def test_ist_no_auto_100_when_the_tu_answered_within_200ms() -> None:
    r = ist()
    effects = r.do(0.1, r.tx.respond(reply(r.tx.request, 180), 0.1))
    assert sends(effects)[0].status == 180  # type: ignore[union-attr]
    assert r.tx.next_deadline() is None
    r.run_until(100)
    assert r.sent() == [(0.1, 180)]


def test_ist_retransmitted_invite_resends_the_latest_provisional() -> None:
    r = ist()
    assert r.tx.receive_request(make_request("INVITE"), 0.1) == []  # nothing sent yet
    r.run_until(0.2)  # the automatic 100
    assert [m.status for m in sends(r.tx.receive_request(make_request("INVITE"), 0.5))] == [100]  # type: ignore[union-attr]
    ringing = reply(r.tx.request, 180)
    r.tx.respond(ringing, 0.6)
    assert sends(r.tx.receive_request(make_request("INVITE"), 1.5)) == [ringing]


def test_ist_non_2xx_final_timer_g_then_timer_h() -> None:
    r = ist()
    busy = reply(r.tx.request, 486)
    r.do(1.0, r.tx.respond(busy, 1.0))
    assert r.tx.state is TxState.COMPLETED
    r.run_until(1000)
    times = [t for t, _ in r.sent()]
    assert times == [1.0, 1.5, 2.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5, 32.5]
    assert all(status == 486 for _, status in r.sent())
    assert r.times_of(TransactionTimeout) == [33.0]  # Timer H = 64*T1
    assert r.times_of(TransactionTerminated) == [33.0]


def test_ist_completed_resends_final_on_retransmitted_invite() -> None:
    r = ist()
    busy = reply(r.tx.request, 486)
    r.tx.respond(busy, 0.1)
    assert sends(r.tx.receive_request(make_request("INVITE"), 0.3)) == [busy]


def test_ist_ack_confirms_and_timer_i_ends_it() -> None:
    r = ist()
    r.do(0.1, r.tx.respond(reply(r.tx.request, 404), 0.1))
    r.run_until(1.0)  # G at 0.6
    assert r.tx.receive_request(ack_for(r.tx.request), 1.0) == []
    assert r.tx.state is TxState.CONFIRMED
    assert r.tx.next_deadline() == 6.0  # Timer I = T4
    assert r.tx.receive_request(ack_for(r.tx.request), 2.0) == []  # absorbed
    assert r.tx.receive_request(make_request("INVITE"), 2.0) == []  # absorbed
    r.run_until(1000)
    assert [t for t, _ in r.sent()] == [0.1, 0.6]  # G stopped by the ACK
    assert r.times_of(TransactionTimeout) == []
    assert r.times_of(TransactionTerminated) == [6.0]


def test_ist_ack_with_another_cseq_is_ignored() -> None:
    r = ist()
    r.tx.respond(reply(r.tx.request, 404), 0.1)
    assert r.tx.receive_request(ack_for(r.tx.request, cseq=7), 0.2) == []
    assert r.tx.state is TxState.COMPLETED


def test_ist_reliable_no_timer_g_but_timer_h_and_immediate_i() -> None:
    r = ist(reliable=True, transport="TCP")
    r.do(0.0, r.tx.respond(reply(r.tx.request, 486), 0.0))
    r.run_until(1000)
    assert r.sent() == [(0.0, 486)]
    assert r.times_of(TransactionTimeout) == [32.0]

    acked = ist(reliable=True, transport="TCP")
    acked.tx.respond(reply(acked.tx.request, 486), 0.0)
    assert acked.tx.receive_request(ack_for(acked.tx.request), 0.5) == [TransactionTerminated()]
    assert acked.tx.terminated


def test_ist_2xx_goes_to_accepted_per_rfc6026() -> None:
    r = ist()
    ok = reply(r.tx.request, 200)
    assert r.tx.respond(ok, 1.0) == [SendMessage(ok, SOURCE)]
    assert r.tx.state is TxState.ACCEPTED
    assert r.tx.next_deadline() == 33.0  # Timer L = 64*T1
    # The transaction does not retransmit the 2xx itself (§13.3.1.4 is the core's job) ...
    assert r.tx.receive_request(make_request("INVITE"), 1.5) == []
    # ... but the core's retransmissions go through it.
    assert r.tx.respond(ok, 1.5) == [SendMessage(ok, SOURCE)]
    # An ACK that matches (a peer reusing the INVITE's branch) goes to the TU.
    ack = ack_for(r.tx.request)
    assert r.tx.receive_request(ack, 2.0) == [PassToTU(ack)]
    with pytest.raises(LocalProtocolError):
        r.tx.respond(reply(r.tx.request, 486), 2.0)
    r.run_until(1000)
    assert r.times_of(TransactionTerminated) == [33.0]
    assert r.times_of(SendMessage) == []


def test_ist_2xx_after_provisional() -> None:
    r = ist()
    r.tx.respond(reply(r.tx.request, 183), 0.05)
    r.tx.respond(reply(r.tx.request, 180), 0.3)
    r.tx.respond(reply(r.tx.request, 200), 4.0)
    assert r.tx.state is TxState.ACCEPTED


@pytest.mark.parametrize("final", [486, 200])
def test_ist_respond_after_final_is_a_local_error(final: int) -> None:
    r = ist()
    r.tx.respond(reply(r.tx.request, final), 0.1)
    with pytest.raises(LocalProtocolError):
        r.tx.respond(reply(r.tx.request, 180), 0.2)
    if final == 486:
        with pytest.raises(LocalProtocolError):
            r.tx.respond(reply(r.tx.request, 200), 0.2)


def test_respond_rejects_bad_status_and_terminated_transactions() -> None:
    r = ist()
    bad = reply(r.tx.request, 180)
    bad.status = 99
    with pytest.raises(LocalProtocolError):
        r.tx.respond(bad, 0.0)
    assert r.tx.transport_error(0.1) == [TransportErrorEffect(), TransactionTerminated()]
    with pytest.raises(LocalProtocolError):
        r.tx.respond(reply(r.tx.request, 200), 0.2)
    assert r.tx.receive_request(make_request("INVITE"), 0.3) == []


def test_ist_early_ack_and_cancel_are_not_its_business() -> None:
    r = ist()
    assert r.tx.receive_request(ack_for(r.tx.request), 0.1) == []
    assert r.tx.receive_request(make_request("CANCEL"), 0.1) == []
    assert r.tx.state is TxState.PROCEEDING


def test_ist_auto_100_skipped_after_final() -> None:
    r = ist()
    r.tx.respond(reply(r.tx.request, 603), 0.05)
    r.run_until(0.3)
    assert r.sent() == []  # only the G retransmission is armed, due at 0.55


def test_server_transaction_terminate() -> None:
    r = ist()
    assert r.tx.terminate(1.0) == [TransactionTerminated()]
    assert r.tx.next_deadline() is None


def test_server_constructor_checks() -> None:
    with pytest.raises(LocalProtocolError):
        ServerNonInviteTransaction(make_request("ACK"), reliable=False)
    with pytest.raises(LocalProtocolError):
        ServerInviteTransaction(make_request("OPTIONS"), reliable=False)
    with pytest.raises(LocalProtocolError):
        ServerNonInviteTransaction(make_request("INVITE"), reliable=False)
    assert isinstance(
        create_server_transaction(make_request("INVITE"), reliable=False), ServerInviteTransaction
    )
    assert isinstance(
        create_server_transaction(make_request("BYE"), reliable=False), ServerNonInviteTransaction
    )


def test_server_constructor_tolerates_broken_requests() -> None:
    broken = make_request("OPTIONS")
    for name in ("Via", "CSeq", "From", "Call-ID"):
        broken.headers.remove(name)
    tx = ServerNonInviteTransaction(broken, reliable=False, timers=TimerConfig())
    other = ServerNonInviteTransaction(broken, reliable=False)
    assert tx.key != other.key  # never matches anything, not even its twin
    assert tx.receive_request(broken, 0.0) == []
    assert sends(tx.respond(reply(broken, 400), 0.0))[0].status == 400  # type: ignore[union-attr]


# ----- non-INVITE server -----------------------------------------------------------------------
def test_nist_full_path_with_timer_j() -> None:
    r = nist()
    assert r.tx.state is TxState.TRYING
    assert r.tx.receive_request(make_request("OPTIONS"), 0.1) == []  # Trying absorbs
    trying = reply(r.tx.request, 100, to_tag=None)
    assert r.tx.respond(trying, 0.2) == [SendMessage(trying, SOURCE)]
    assert r.tx.state.value == "Proceeding"
    assert sends(r.tx.receive_request(make_request("OPTIONS"), 0.5)) == [trying]
    ok = reply(r.tx.request, 200)
    r.do(1.0, r.tx.respond(ok, 1.0))
    assert r.tx.state.value == "Completed"
    assert r.tx.next_deadline() == 33.0  # Timer J = 64*T1 on UDP
    assert sends(r.tx.receive_request(make_request("OPTIONS"), 2.0)) == [ok]
    with pytest.raises(LocalProtocolError):
        r.tx.respond(reply(r.tx.request, 500), 2.0)
    r.run_until(1000)
    assert r.times_of(TransactionTerminated) == [33.0]
    assert r.tx.receive_request(make_request("OPTIONS"), 40.0) == []


def test_nist_final_straight_from_trying_and_provisionals_repeat() -> None:
    r = nist(method="BYE")
    r.tx.respond(reply(r.tx.request, 100, to_tag=None), 0.0)
    r.tx.respond(reply(r.tx.request, 100, to_tag=None), 0.1)
    assert r.tx.state is TxState.PROCEEDING
    direct = nist(method="REGISTER")
    direct.tx.respond(reply(direct.tx.request, 401), 0.0)
    assert direct.tx.state is TxState.COMPLETED


def test_nist_reliable_terminates_on_final() -> None:
    r = nist(reliable=True)
    ok = reply(r.tx.request, 200)
    assert r.tx.respond(ok, 0.0) == [SendMessage(ok, SOURCE), TransactionTerminated()]
    assert r.tx.next_deadline() is None


def test_nist_ignores_ack_and_other_methods() -> None:
    r = nist(method="BYE")
    r.tx.respond(reply(r.tx.request, 200), 0.0)
    assert r.tx.receive_request(make_request("ACK", cseq_method="ACK"), 0.1) == []
    assert r.tx.receive_request(make_request("OPTIONS"), 0.1) == []
