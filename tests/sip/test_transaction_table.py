"""Transaction matching (RFC 3261 §17.1.3, §17.2.3, §9) and the table's timer loop."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentconsole.sip.errors import LocalProtocolError
from agentconsole.sip.message import Request, Response
from agentconsole.sip.timers import TimerConfig
from agentconsole.sip.transaction import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    PassToTU,
    SendMessage,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    TransactionTable,
    TransactionTerminated,
    TransactionTimeout,
    TransportErrorEffect,
    client_key_for_response,
    server_key_for_request,
)

from .test_transaction import make_request, reply


def client_pair() -> tuple[TransactionTable, ClientInviteTransaction, ClientNonInviteTransaction]:
    table = TransactionTable()
    invite = ClientInviteTransaction(make_request("INVITE"), reliable=False)
    cancel = ClientNonInviteTransaction(make_request("CANCEL"), reliable=False)
    table.add(invite)
    table.add(cancel)
    invite.start(0.0)
    cancel.start(1.0)
    return table, invite, cancel


# ----- responses -------------------------------------------------------------------------------
def test_response_matches_by_branch_and_cseq_method() -> None:
    table, invite, cancel = client_pair()
    assert table.match_response(reply(invite.request, 180)) is invite
    assert table.match_response(reply(cancel.request, 200)) is cancel  # not the INVITE's
    assert table.match_response(reply(invite.request, 487)) is invite
    other = make_request("INVITE", branch="z9hG4bKelse")
    assert table.match_response(reply(other, 200)) is None


def test_response_branch_match_is_case_insensitive() -> None:
    table, invite, _ = client_pair()
    response = reply(invite.request, 180)
    response.headers.set("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=Z9HG4BKCLI1")
    assert table.match_response(response) is invite


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Via", None),
        ("CSeq", None),
        ("Via", "SIP/2.0/UDP 127.0.0.1:5070"),
        ("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=1234"),
        ("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK"),
        ("Via", "SIP/2.0/UDP ;;;"),
        ("Via", '"unterminated'),
        ("CSeq", "x INVITE"),
        ("CSeq", "1"),
    ],
)
def test_odd_responses_match_nothing_and_never_raise(name: str, value: str | None) -> None:
    table, invite, _ = client_pair()
    response = reply(invite.request, 200)
    if value is None:
        response.headers.remove(name)
    else:
        response.headers.set(name, value)
    assert table.match_response(response) is None
    assert client_key_for_response(response) is None


def test_only_the_top_via_matters_for_responses() -> None:
    table, invite, _ = client_pair()
    response = reply(invite.request, 180)
    response.headers.add("Via", "complete garbage")
    assert table.match_response(response) is invite


# ----- requests --------------------------------------------------------------------------------
def server_table() -> tuple[TransactionTable, ServerInviteTransaction]:
    table = TransactionTable()
    tx = ServerInviteTransaction(make_request("INVITE"), reliable=False)
    table.add(tx)
    tx.start(0.0)
    return table, tx


def test_retransmitted_invite_and_its_ack_match_the_server_transaction() -> None:
    table, tx = server_table()
    assert table.match_request(make_request("INVITE")) is tx
    tx.respond(reply(tx.request, 486), 0.1)
    ack = make_request("ACK")
    assert table.match_request(ack) is tx
    assert tx.receive_request(ack, 0.2) == []
    assert tx.state.value == "Confirmed"


def test_requests_with_other_branch_sent_by_or_method_do_not_match() -> None:
    table, _ = server_table()
    assert table.match_request(make_request("INVITE", branch="z9hG4bKnew")) is None
    assert table.match_request(make_request("INVITE", sent_by="127.0.0.2:5070")) is None
    assert table.match_request(make_request("INVITE", sent_by="127.0.0.1:5071")) is None
    assert table.match_request(make_request("BYE")) is None
    assert table.match_request(make_request("ACK", branch="z9hG4bK2xxack")) is None


def test_sent_by_default_port_is_normalized() -> None:
    table = TransactionTable()
    tx = ServerNonInviteTransaction(
        make_request("OPTIONS", sent_by="Host.Example.com"), reliable=False
    )
    table.add(tx)
    assert table.match_request(make_request("OPTIONS", sent_by="host.example.com:5060")) is tx
    tls = ServerNonInviteTransaction(
        make_request("MESSAGE", transport="TLS", sent_by="h.example.com"), reliable=True
    )
    table.add(tls)
    retrans = make_request("MESSAGE", transport="TLS", sent_by="h.example.com:5061")
    assert table.match_request(retrans) is tls


def test_cancel_has_its_own_transaction_but_finds_its_invite() -> None:
    table, invite_tx = server_table()
    cancel = make_request("CANCEL")
    assert table.match_request(cancel) is None  # a new CANCEL: new server transaction
    assert table.find_invite_for_cancel(cancel) is invite_tx
    cancel_tx = ServerNonInviteTransaction(cancel, reliable=False)
    table.add(cancel_tx)
    assert table.match_request(make_request("CANCEL")) is cancel_tx  # its retransmission
    assert table.find_invite_for_cancel(make_request("CANCEL", branch="z9hG4bKx")) is None
    assert table.find_invite_for_cancel(make_request("INVITE")) is None
    assert table.find_invite_for_cancel(make_request("CANCEL", sent_by="10.0.0.1")) is None


def test_cancel_finds_nothing_for_a_non_invite() -> None:
    table = TransactionTable()
    table.add(ServerNonInviteTransaction(make_request("OPTIONS"), reliable=False))
    assert table.find_invite_for_cancel(make_request("CANCEL")) is None


def test_rfc2543_requests_match_by_the_old_rules() -> None:
    table = TransactionTable()
    invite = make_request("INVITE", branch="")
    tx = ServerInviteTransaction(invite, reliable=False)
    table.add(tx)
    assert table.match_request(make_request("INVITE", branch="")) is tx
    ack = make_request("ACK", branch="")
    ack.headers.set("To", "Bob <sip:bob@example.com>;tag=b1")
    assert table.match_request(ack) is tx
    assert table.find_invite_for_cancel(make_request("CANCEL", branch="")) is tx
    assert table.match_request(make_request("INVITE", branch="", call_id="other")) is None
    assert table.match_request(make_request("INVITE", branch="", cseq=2)) is None
    assert table.match_request(make_request("INVITE", branch="", from_tag="zz")) is None
    assert table.match_request(make_request("INVITE", branch="", uri="sip:c@x")) is None
    # a non-cookie branch is part of the old-style key too
    assert table.match_request(make_request("INVITE", branch="oldbranch")) is None


@pytest.mark.parametrize("drop", ["Via", "CSeq", "From", "Call-ID"])
def test_odd_requests_never_raise(drop: str) -> None:
    table, tx = server_table()
    request = make_request("INVITE")
    request.headers.remove(drop)
    # with an RFC 3261 branch only the top Via takes part in matching
    assert table.match_request(request) is (None if drop == "Via" else tx)

    old = TransactionTable()
    old.add(ServerInviteTransaction(make_request("INVITE", branch=""), reliable=False))
    retrans = make_request("INVITE", branch="")
    retrans.headers.remove(drop)
    assert old.match_request(retrans) is None
    cancel = make_request("CANCEL", branch="")
    cancel.headers.remove(drop)
    assert old.find_invite_for_cancel(cancel) is None


def test_garbage_via_in_request_never_raises() -> None:
    table, _ = server_table()
    for value in ("", "SIP/2.0/UDP", "garbage", 'SIP/2.0/UDP h;branch="x'):
        request = make_request("INVITE")
        request.headers.set("Via", value)
        assert table.match_request(request) is None
        assert server_key_for_request(request) is None


# ----- bookkeeping -----------------------------------------------------------------------------
def test_add_rejects_a_second_live_transaction_with_the_same_key() -> None:
    table, tx = server_table()
    table.add(tx)  # the same object again is fine
    assert len(table) == 1
    with pytest.raises(LocalProtocolError):
        table.add(ServerInviteTransaction(make_request("INVITE"), reliable=False))
    tx.terminate(0.0)
    replacement = ServerInviteTransaction(make_request("INVITE"), reliable=False)
    table.add(replacement)  # the terminated one is swept first
    assert table.match_request(make_request("INVITE")) is replacement
    assert len(table) == 1


def test_terminated_transactions_are_never_matched() -> None:
    table, invite, cancel = client_pair()
    invite.transport_error(1.0)
    assert table.match_response(reply(invite.request, 200)) is None
    assert len(table) == 1 and cancel in table and invite not in table


def test_remove() -> None:
    table, invite, cancel = client_pair()
    table.remove(invite)
    table.remove(invite)
    assert list(table) == [cancel]
    server, stx = server_table()
    server.remove(stx)
    assert len(server) == 0


def test_table_on_timer_fires_every_due_transaction_and_sweeps() -> None:
    table = TransactionTable()
    client = ClientNonInviteTransaction(make_request("OPTIONS", branch="z9hG4bKa"), reliable=False)
    server = ServerInviteTransaction(make_request("INVITE", branch="z9hG4bKb"), reliable=False)
    for tx in (client, server):
        table.add(tx)
    client.start(0.0)
    server.start(0.0)
    assert table.next_deadline() == pytest.approx(0.2)
    fired = table.on_timer(0.2)
    assert [(tx, type(e)) for tx, e in fired] == [(server, SendMessage)]
    assert table.on_timer(0.2) == []
    assert table.next_deadline() == 0.5
    now = 0.5
    timeline: list[tuple[float, object, type]] = []
    while (deadline := table.next_deadline()) is not None:
        now = deadline
        timeline += [(now, tx, type(e)) for tx, e in table.on_timer(now)]
    assert (32.0, client, TransactionTimeout) in timeline
    assert (32.0, client, TransactionTerminated) in timeline
    assert len(table) == 1  # the INVITE server waits for its TU forever (no timer)
    assert table.next_deadline() is None


def test_table_next_deadline_empty() -> None:
    table = TransactionTable()
    assert table.next_deadline() is None
    assert table.on_timer(100.0) == []
    assert len(table) == 0


def test_fail_all_reports_transport_errors_and_empties_the_table() -> None:
    table, invite, cancel = client_pair()
    srv = ServerNonInviteTransaction(make_request("BYE"), reliable=True)
    table.add(srv)
    results = table.fail_all(5.0)
    errored = [tx for tx, e in results if isinstance(e, TransportErrorEffect)]
    assert errored == [invite, cancel, srv]
    assert len(table) == 0 and table.next_deadline() is None


# ----- robustness ------------------------------------------------------------------------------
HEADER_NAMES = st.sampled_from(["Via", "CSeq", "From", "To", "Call-ID", "v", "Route"])
JUNK = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    status=st.integers(min_value=0, max_value=999),
    edits=st.lists(st.tuples(HEADER_NAMES, JUNK), max_size=4),
)
def test_fuzzed_responses_never_raise(status: int, edits: list[tuple[str, str]]) -> None:
    table, invite, cancel = client_pair()
    response = Response(status, "X", reply(invite.request, 200).headers)
    for name, value in edits:
        response.headers.set(name, value)
    tx = table.match_response(response)
    for target in (invite, cancel):
        target.receive_response(response, 2.0)  # must not raise, matched or not
    assert tx is None or tx in (invite, cancel)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "x"]),
    edits=st.lists(st.tuples(HEADER_NAMES, JUNK), max_size=4),
    uri=JUNK,
)
def test_fuzzed_requests_never_raise(method: str, edits: list[tuple[str, str]], uri: str) -> None:
    table, tx = server_table()
    request = make_request(method, cseq_method=method)
    request.uri = uri
    for name, value in edits:
        request.headers.set(name, value)
    matched = table.match_request(request)
    table.find_invite_for_cancel(request)
    tx.receive_request(request, 0.5)
    assert matched is None or matched is tx
    if method != "ACK":
        cls = ServerInviteTransaction if method == "INVITE" else ServerNonInviteTransaction
        cls(request, reliable=False)  # peer input never makes the constructor raise


EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.floats(min_value=0.0, max_value=20.0)),
        st.tuples(st.just("response"), st.sampled_from([100, 180, 200, 404, 486, 603])),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(events=EVENTS, reliable=st.booleans(), invite=st.booleans())
def test_random_client_histories_respect_the_state_machine(
    events: list[tuple[str, float]], reliable: bool, invite: bool
) -> None:
    method = "INVITE" if invite else "OPTIONS"
    cls = ClientInviteTransaction if invite else ClientNonInviteTransaction
    tx = cls(make_request(method), reliable=reliable, timers=TimerConfig())
    now = 0.0
    sent = len(tx.start(now))
    finals_to_tu = 0
    terminated_effects = 0
    for kind, value in events:
        if kind == "advance":
            now += value
            effects = tx.on_timer(now)
        else:
            effects = tx.receive_response(reply(tx.request, int(value)), now)
        for effect in effects:
            if isinstance(effect, SendMessage):
                sent += 1
            if isinstance(effect, TransactionTerminated):
                terminated_effects += 1
            if isinstance(effect, PassToTU) and isinstance(effect.message, Response):
                finals_to_tu += not invite and effect.message.status >= 200
        deadline = tx.next_deadline()
        assert deadline is None or deadline > now
    assert terminated_effects <= 1
    assert finals_to_tu <= 1  # a non-INVITE final reaches the TU once
    if reliable and not invite:
        assert sent == 1
    assert tx.terminated == (terminated_effects == 1)
    assert isinstance(tx.request, Request)
