"""The non-INVITE client transaction (RFC 3261 §17.1.2), on a fake clock."""

from __future__ import annotations

import pytest

from agentconsole.sip.timers import TimerConfig
from agentconsole.sip.transaction import (
    ClientNonInviteTransaction,
    PassToTU,
    TransactionTerminated,
    TransactionTimeout,
    TxState,
)

from .client_tx import Runner, ict, make_request, nict, passed, reply


# ----- non-INVITE client -----------------------------------------------------------------------
def test_nict_udp_timer_e_doubles_up_to_t2_until_timer_f() -> None:
    r = nict()
    r.start(0.0)
    r.run_until(1000)
    assert r.send_times() == [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert r.times_of(TransactionTimeout) == [32.0]
    assert r.times_of(TransactionTerminated) == [32.0]


def test_nict_custom_t2_cap() -> None:
    r = nict(timers=TimerConfig(t1=0.5, t2=1.0))
    r.start(0.0)
    r.run_until(5.0)
    assert r.send_times() == [0, 0.5, 1.5, 2.5, 3.5, 4.5]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # 1xx before the first retransmission: E still fires at .5, then every T2
        (0.2, [0, 0.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5]),
        # 1xx after two sends: the pending E at 1.5 fires, then every T2
        (1.0, [0, 0.5, 1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5]),
    ],
)
def test_nict_timer_e_stays_t2_in_proceeding(at: float, expected: list[float]) -> None:
    r = nict()
    r.start(0.0)
    r.run_until(at)
    effects = r.tx.receive_response(reply(r.tx.request, 100, to_tag=None), at)
    assert [m.status for m in passed(effects)] == [100]  # type: ignore[union-attr]
    assert r.tx.state is TxState.PROCEEDING
    r.run_until(1000)
    assert r.send_times() == expected
    assert r.times_of(TransactionTimeout) == [32.0]  # Timer F also runs in Proceeding


def test_nict_final_completes_and_timer_k_absorbs_retransmissions() -> None:
    r = nict()
    r.start(0.0)
    r.tx.receive_response(reply(r.tx.request, 100, to_tag=None), 0.1)
    assert passed(r.tx.receive_response(reply(r.tx.request, 180), 0.2))[0].status == 180  # type: ignore[union-attr]
    r.run_until(2.0)
    ok = reply(r.tx.request, 200)
    assert r.tx.receive_response(ok, 2.0) == [PassToTU(ok)]
    assert r.tx.state is TxState.COMPLETED
    assert r.tx.next_deadline() == 7.0  # Timer K = T4 on UDP
    assert r.tx.receive_response(reply(r.tx.request, 200), 3.0) == []
    assert r.tx.receive_response(reply(r.tx.request, 100, to_tag=None), 3.0) == []
    r.run_until(1000)
    assert r.times_of(TransactionTerminated) == [7.0]
    assert r.send_times() == [0, 0.5]  # Proceeding from 0.1: E next due at 4.5, stopped


def test_nict_final_straight_from_trying() -> None:
    r = nict()
    r.start(0.0)
    effects = r.tx.receive_response(reply(r.tx.request, 404), 0.3)
    assert passed(effects)[0].status == 404  # type: ignore[union-attr]
    assert r.tx.state is TxState.COMPLETED


def test_nict_reliable_never_retransmits_and_terminates_on_final() -> None:
    r = nict(reliable=True, transport="TCP")
    r.start(0.0)
    r.run_until(10.0)
    assert r.send_times() == [0]
    effects = r.tx.receive_response(reply(r.tx.request, 200), 10.0)
    assert [type(e) for e in effects] == [PassToTU, TransactionTerminated]

    silent = nict(reliable=True, transport="TCP")
    silent.start(0.0)
    silent.run_until(1000)
    assert silent.send_times() == [0]
    assert silent.times_of(TransactionTimeout) == [32.0]


def test_nict_200_to_cancel_and_invite_do_not_cross() -> None:
    # The CANCEL reuses the INVITE's branch (§9.1): only the CSeq method tells them apart.
    invite_tx = ict()
    invite_tx.start(0.0)
    cancel_tx = Runner(ClientNonInviteTransaction(make_request("CANCEL"), reliable=False))
    cancel_tx.start(1.0)
    ok_cancel = reply(cancel_tx.tx.request, 200)
    assert invite_tx.tx.receive_response(ok_cancel, 1.1) == []
    assert cancel_tx.tx.receive_response(ok_cancel, 1.1) == [PassToTU(ok_cancel)]
