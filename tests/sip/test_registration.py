"""Registration through the sans-IO UA with a fake registrar and a fake clock."""

from __future__ import annotations

from agentconsole.sip.events import RegistrationStateChanged
from agentconsole.sip.message import Request

from .uahelpers import REGISTRAR, Wire, challenge, make_ua, reply


def registered_events(wire: Wire) -> list[RegistrationStateChanged]:
    return [e for e in wire.events if isinstance(e, RegistrationStateChanged)]


def start(transport: str = "udp", **kw: object) -> tuple[Wire, Request]:
    ua = make_ua(transport, **kw)  # type: ignore[arg-type]
    wire = Wire(ua)
    ua.transport_up("127.0.0.1", 5070, 0.0)
    sent = wire.flush()
    assert len(sent) == 1
    request, dest = sent[0]
    assert isinstance(request, Request) and request.method == "REGISTER"
    assert dest == (REGISTRAR if transport == "udp" else None)
    return wire, request


def test_register_builds_a_proper_request() -> None:
    _, request = start()
    assert request.uri == "sip:127.0.0.1"
    assert request.from_.tag and request.to.tag is None
    assert str(request.from_.uri) == str(request.to.uri) == "sip:1001@127.0.0.1"
    via = request.top_via
    assert via.transport == "UDP" and via.branch and via.branch.startswith("z9hG4bK")
    assert "rport" in via.params
    contact = request.headers.get("Contact") or ""
    assert "sip:1001@127.0.0.1:5070" in contact and "+sip.instance" in contact
    assert request.headers.get("Expires") == "600"


def test_digest_challenge_answered_once_then_registered_and_refreshed() -> None:
    wire, first = start()
    wire.ua.receive_data(reply(first, 401, headers=[challenge()]), REGISTRAR, 0.1)
    sent = wire.flush()
    second = sent[0][0]
    assert isinstance(second, Request)
    auth = second.headers.get("Authorization") or ""
    assert auth.startswith("Digest ") and 'username="1001"' in auth and "pass1001" not in auth
    assert second.cseq.number == first.cseq.number + 1
    assert second.call_id == first.call_id
    assert second.top_via.branch != first.top_via.branch
    wire.ua.receive_data(
        reply(second, 200, headers=[("Contact", "<sip:1001@127.0.0.1:5070>;expires=120")]),
        REGISTRAR, 0.2)
    wire.flush()
    events = registered_events(wire)
    assert events[-1].registered and events[-1].expires == 120
    # refresh before expiry: not at 100 s, but by 120 s (UDP resends share one CSeq)
    wire.run_until(100.0, 0.2)
    assert len({r.cseq.number for r in wire.requests("REGISTER")}) == 2
    wire.run_until(119.0, 100.0)
    refreshes = wire.requests("REGISTER")
    assert len({r.cseq.number for r in refreshes}) == 3
    assert refreshes[-1].cseq.number > second.cseq.number
    # the refresh carries credentials for the nonce we already know
    assert 'nonce="n1"' in (refreshes[-1].headers.get("Authorization") or "")


def test_wrong_password_stops_after_one_answer() -> None:
    wire, first = start()
    wire.ua.receive_data(reply(first, 401, headers=[challenge("n1")]), REGISTRAR, 0.1)
    second = wire.flush()[0][0]
    assert isinstance(second, Request)
    # a registrar that gives a fresh nonce with every 401 (Kamailio does)
    wire.ua.receive_data(reply(second, 401, headers=[challenge("n2")]), REGISTRAR, 0.2)
    assert wire.flush() == []
    event = registered_events(wire)[-1]
    assert not event.registered and event.status == 401
    assert event.retry_in is not None and 15.0 <= event.retry_in <= 30.0
    assert len(wire.requests("REGISTER")) == 2


def test_stale_nonce_is_followed_without_counting_as_failure() -> None:
    wire, first = start()
    wire.ua.receive_data(reply(first, 401, headers=[challenge("n1")]), REGISTRAR, 0.1)
    second = wire.flush()[0][0]
    assert isinstance(second, Request)
    wire.ua.receive_data(reply(second, 401, headers=[challenge("n2", stale=True)]),
                         REGISTRAR, 0.2)
    third = wire.flush()[0][0]
    assert isinstance(third, Request)
    assert 'nonce="n2"' in (third.headers.get("Authorization") or "")


def test_interval_too_brief_retries_with_min_expires() -> None:
    wire, first = start()
    wire.ua.receive_data(reply(first, 423, headers=[("Min-Expires", "1800")]), REGISTRAR, 0.1)
    retry = wire.flush()[0][0]
    assert isinstance(retry, Request)
    assert retry.headers.get("Expires") == "1800"


def test_failures_back_off_exponentially_with_jitter() -> None:
    wire, first = start()
    now = 0.0
    request = first
    delays = []
    for _ in range(5):
        wire.ua.receive_data(reply(request, 503), REGISTRAR, now)
        wire.flush()
        event = registered_events(wire)[-1]
        assert not event.registered and event.retry_in is not None
        delays.append(event.retry_in)
        before = len(wire.requests("REGISTER"))
        now = wire.run_until(now + event.retry_in + 0.001, now)
        assert len(wire.requests("REGISTER")) == before + 1
        request = wire.requests("REGISTER")[-1]
    bases = [30, 60, 120, 240, 300]
    for delay, base in zip(delays, bases, strict=True):
        assert base * 0.5 <= delay <= base


def test_retry_after_is_honoured() -> None:
    wire, first = start()
    wire.ua.receive_data(reply(first, 503, headers=[("Retry-After", "120")]), REGISTRAR, 0.0)
    wire.flush()
    assert registered_events(wire)[-1].retry_in == 120.0


def test_timeout_over_udp_reports_408() -> None:
    wire, first = start()
    wire.run_until(40.0, 0.0)
    sends = [r for r in wire.requests("REGISTER") if r.top_via.branch == first.top_via.branch]
    assert len(sends) == 11  # Timer E: 0, .5, 1.5, 3.5, 7.5, 11.5 ... until F at 32 s
    event = registered_events(wire)[-1]
    assert event.status == 408 and not event.registered


def test_unregister_sends_expires_zero() -> None:
    wire, first = start()
    wire.ua.receive_data(reply(first, 200, headers=[("Expires", "600")]), REGISTRAR, 0.1)
    wire.flush()
    assert wire.ua.unregister(1.0)
    request = wire.flush()[0][0]
    assert isinstance(request, Request) and request.headers.get("Expires") == "0"
    wire.ua.receive_data(reply(request, 200), REGISTRAR, 1.1)
    wire.flush()
    assert registered_events(wire)[-1].final
    assert wire.ua.next_deadline() is None or wire.ua.registration.next_deadline() is None


def test_connection_loss_and_reconnect_re_registers() -> None:
    wire, first = start("tcp")
    wire.ua.receive_data(reply(first, 200, headers=[("Expires", "600")]), REGISTRAR, 0.1)
    wire.flush()
    wire.ua.transport_down("connection reset", 5.0)
    wire.flush()
    assert not registered_events(wire)[-1].registered
    assert not wire.ua.registration.is_registered
    wire.ua.transport_up("127.0.0.1", 40001, 7.0)
    again = wire.flush()[0][0]
    assert isinstance(again, Request) and again.method == "REGISTER"
    assert "127.0.0.1:40001;transport=tcp" in (again.headers.get("Contact") or "")
