"""Dialog state and request construction (RFC 3261 §12), session-timer arithmetic
(RFC 4028) and the failure-cause mapping."""

from __future__ import annotations

import pytest

from agentconsole.sip.dialog import Dialog
from agentconsole.sip.invite import failure_cause
from agentconsole.sip.message import Request, Response
from agentconsole.sip.parser import parse_message
from agentconsole.sip.session_timer import (
    SessionTimer,
    from_uac_response,
    negotiate_uas,
    parse_session_expires,
)


def parsed(text: str) -> Request | Response:
    return parse_message(text.replace("\n", "\r\n").encode())


INVITE = parsed("""INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1
Max-Forwards: 70
From: "Alice" <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>
Call-ID: c1
CSeq: 7 INVITE
Contact: <sip:alice@10.0.0.1:5060>
Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>
Content-Length: 0

""")

OK = parsed("""SIP/2.0 200 OK
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1
From: "Alice" <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>;tag=b1
Call-ID: c1
CSeq: 7 INVITE
Contact: <sip:bob@10.0.0.2:5080>
Record-Route: <sip:p1.example.com;lr>
Record-Route: <sip:p2.example.com;lr>
Content-Length: 0

""")


def test_uac_dialog_from_2xx() -> None:
    assert isinstance(INVITE, Request) and isinstance(OK, Response)
    dialog = Dialog.from_uac(INVITE, OK)
    assert dialog.id == ("c1", "a1", "b1")
    assert dialog.remote_target == "sip:bob@10.0.0.2:5080"
    assert dialog.route_set == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    assert dialog.local_cseq == 7 and dialog.remote_cseq is None and not dialog.early
    bye = dialog.create_request("BYE")
    assert bye.uri == "sip:bob@10.0.0.2:5080" and bye.cseq.number == 8
    assert bye.headers.get_all("Route") == dialog.route_set
    assert bye.from_.tag == "a1" and bye.to.tag == "b1" and bye.call_id == "c1"
    assert "Contact" not in bye.headers
    ack = dialog.create_request("ACK", 7)
    assert ack.cseq.number == 7 and dialog.local_cseq == 8  # ACK takes no new number


def test_uas_dialog_from_invite() -> None:
    assert isinstance(INVITE, Request)
    dialog = Dialog.from_uas(INVITE, "b9", "<sip:bob@10.0.0.2>")
    assert dialog.id == ("c1", "b9", "a1")
    assert dialog.route_set == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert dialog.remote_target == "sip:alice@10.0.0.1:5060" and dialog.remote_cseq == 7
    reinvite = dialog.create_request("INVITE")
    assert reinvite.cseq.number == 1 and reinvite.headers.get("Contact") == "<sip:bob@10.0.0.2>"
    assert reinvite.to.tag == "a1" and reinvite.from_.tag == "b9"


def test_remote_cseq_order() -> None:
    dialog = Dialog("c", "l", "r", "sip:a@x", "sip:b@y", "sip:b@y", remote_cseq=5)
    assert dialog.accept_remote_cseq(6)
    assert not dialog.accept_remote_cseq(4)
    assert dialog.remote_cseq == 6


def test_strict_route_rewrites_request_uri() -> None:
    dialog = Dialog("c", "l", "r", "sip:a@x", "sip:b@y", "sip:b@10.0.0.2",
                    route_set=["<sip:strict.example.com>", "<sip:p2.example.com;lr>"])
    request = dialog.create_request("INFO")
    assert request.uri == "sip:strict.example.com"
    assert request.headers.get_all("Route") == ["<sip:p2.example.com;lr>", "<sip:b@10.0.0.2>"]
    assert dialog.next_hop() == ("strict.example.com", None)


def test_ack_without_cseq_is_a_local_error() -> None:
    dialog = Dialog("c", "l", "r", "sip:a@x", "sip:b@y", "sip:b@y")
    with pytest.raises(ValueError):
        dialog.create_request("ACK")


def test_target_refresh_ignores_unreadable_contact() -> None:
    dialog = Dialog("c", "l", "r", "sip:a@x", "sip:b@y", "sip:b@y")
    bad = Request("INVITE", "sip:a@x", [("Contact", "<<<nonsense")])
    dialog.refresh_target(bad)
    assert dialog.remote_target == "sip:b@y"


@pytest.mark.parametrize(("value", "expected"), [
    ("1800", (1800, None)), ("90;refresher=uas", (90, "uas")),
    ("600 ; refresher = UAC", (600, "uac")), ("abc", None), (None, None),
    ("120;refresher=nobody", (120, None)),
])
def test_parse_session_expires(value: str | None, expected: object) -> None:
    assert parse_session_expires(value) == expected


def test_timer_deadlines() -> None:
    assert SessionTimer(1800, True).refresh_at(10.0) == 910.0
    assert SessionTimer(1800, False).expire_at(10.0) == 10.0 + 1800 - 32
    assert SessionTimer(90, False).expire_at(0.0) == 60.0  # SE/3 < 32


def test_uas_negotiation() -> None:
    low = Request("INVITE", "sip:a@x", [("Session-Expires", "60")])
    assert negotiate_uas(low, 1800, 90).reject_min_se == 90
    long = Request("INVITE", "sip:a@x", [("Session-Expires", "7200"), ("Supported", "timer")])
    decision = negotiate_uas(long, 1800, 90)
    assert decision.timer is not None and decision.timer.interval == 1800
    assert not decision.timer.we_refresh
    assert ("Require", "timer") in decision.headers


def test_uac_response_timer() -> None:
    response = Response(200, "OK", [("Session-Expires", "300;refresher=uas")])
    timer = from_uac_response(response)
    assert timer is not None and timer.interval == 300 and not timer.we_refresh
    assert from_uac_response(Response(200, "OK")) is None


@pytest.mark.parametrize(("status", "cause"), [
    (486, "Busy"), (600, "Busy"), (403, "Rejected"), (603, "Rejected"), (404, "Not Found"),
    (604, "Not Found"), (480, "Unavailable"), (410, "Unavailable"), (408, "Unavailable"),
    (430, "Unavailable"), (484, "Address Incomplete"), (424, "Address Incomplete"),
    (488, "Incompatible SDP"), (606, "Incompatible SDP"), (401, "Authentication Error"),
    (407, "Authentication Error"), (301, "Redirected"), (302, "Redirected"),
    (500, "SIP Failure Code"), (503, "SIP Failure Code"),
])
def test_failure_cause_mapping(status: int, cause: str) -> None:
    assert failure_cause(status) == cause
