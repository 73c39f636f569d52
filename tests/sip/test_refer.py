"""Refer-To / Replaces / sipfrag / Event values (RFC 3515, RFC 3891, RFC 3420, RFC 6665)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentconsole.sip.dialog import Dialog
from agentconsole.sip.errors import ParseError
from agentconsole.sip.message import Headers
from agentconsole.sip.refer import (
    Replaces,
    build_refer_to,
    escape_hvalue,
    parse_event,
    parse_refer_to,
    parse_replaces,
    parse_sipfrag,
    parse_subscription_state,
    refer_sub_false,
    refer_to_values,
    replaces_values,
    sipfrag,
    uri_host_of,
)


def test_refer_to_with_replaces_matches_rfc_3891_example() -> None:
    rep = Replaces("12345@192.168.118.3", to_tag="12345", from_tag="5FFE-3994")
    value = build_refer_to("sips:bob@bobster.example.org", rep)
    assert value == ("<sips:bob@bobster.example.org?Replaces=12345%40192.168.118.3"
                     "%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>")
    parsed = parse_refer_to(value)
    assert parsed.uri == "sips:bob@bobster.example.org"
    assert parsed.replaces == rep


def test_blind_refer_to_is_in_angle_brackets() -> None:
    assert build_refer_to("sip:1003@pbx.example.com") == "<sip:1003@pbx.example.com>"
    assert build_refer_to("<sip:1003@pbx>") == "<sip:1003@pbx>"
    parsed = parse_refer_to("<sip:1003@pbx.example.com;user=phone>")
    assert parsed.replaces is None and parsed.uri == "sip:1003@pbx.example.com;user=phone"


def test_escape_leaves_hnv_unreserved_and_escapes_the_rest() -> None:
    assert escape_hvalue("a;b=c@d%e f") == "a%3Bb%3Dc%40d%25e%20f"
    assert escape_hvalue("[]/?:+$-_.!~*'()") == "[]/?:+$-_.!~*'()"


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~()<>:\\\"/[]?{}@",
                min_size=1, max_size=30)
_tag = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~", min_size=1,
               max_size=20)


@given(_word, _tag, _tag, st.booleans())
def test_replaces_round_trip_through_refer_to(call_id: str, to_tag: str, from_tag: str,
                                              early: bool) -> None:
    rep = Replaces(call_id, to_tag, from_tag, early)
    parsed = parse_refer_to(build_refer_to("sip:target@example.com:5070", rep))
    assert parsed.replaces == rep
    assert parse_replaces(str(rep)) == rep


def _dialogs() -> tuple[Dialog, Dialog]:
    """An outbound and an inbound dialog with distinct tags."""
    out = Dialog("c-out", local_tag="mine1", remote_tag="theirs1", local_uri="sip:a@x",
                 remote_uri="sip:c@x", remote_target="sip:c@x")
    inn = Dialog("c-in", local_tag="mine2", remote_tag="theirs2", local_uri="sip:a@x",
                 remote_uri="sip:b@x", remote_target="sip:b@x")
    return out, inn


def test_tags_come_from_the_right_side_whatever_the_direction() -> None:
    # The target compares to-tag with its own tag, i.e. our remote tag (RFC 3891 §3).
    out, inn = _dialogs()
    for dialog in (out, inn):
        rep = Replaces.for_dialog(dialog.call_id, dialog.local_tag, dialog.remote_tag)
        assert rep.to_tag == dialog.remote_tag and rep.from_tag == dialog.local_tag
    # What the target sees: its local tag is our remote, its remote is our local.
    target_key = (out.call_id, out.remote_tag, out.local_tag)
    rep = Replaces.for_dialog(out.call_id, out.local_tag, out.remote_tag)
    assert (rep.call_id, rep.to_tag, rep.from_tag) == target_key


@pytest.mark.parametrize("value", [
    "abc", "abc;to-tag=1", "abc;from-tag=2", ";to-tag=1;from-tag=2", "a b;to-tag=1;from-tag=2",
    "abc;to-tag=;from-tag=2",
])
def test_bad_replaces_values(value: str) -> None:
    with pytest.raises(ParseError):
        parse_replaces(value)


def test_replaces_early_only_and_generic_params() -> None:
    rep = parse_replaces("x@y ; to-tag=a ;from-tag=b;early-only;foo=bar")
    assert rep == Replaces("x@y", "a", "b", True)


@pytest.mark.parametrize("value", [
    "<http://example.com/>", "<sip:a@b?Replaces=abc>", "<sip:a@b?Replaces=%ZZ>",
    "<sip:a@b?Replaces=x%3Bto-tag%3D1%3Bfrom-tag%3D2&Replaces=y%3Bto-tag%3D1%3Bfrom-tag%3D2>",
    "garbage<", "",
])
def test_bad_refer_to(value: str) -> None:
    with pytest.raises(ParseError):
        parse_refer_to(value)


def test_refer_to_tel_and_other_embedded_headers_are_dropped() -> None:
    assert parse_refer_to("<tel:+4930123>").uri == "tel:+4930123"
    parsed = parse_refer_to("<sip:a@b?Call-Info=%3Chttp://x%3E%3Banswer-after%3D0>")
    assert parsed.uri == "sip:a@b" and parsed.replaces is None


def test_counting_refer_to_and_replaces() -> None:
    headers = Headers([("r", "<sip:a@b>, <sip:c@d>")])
    assert len(refer_to_values(headers)) == 2
    headers = Headers([("Refer-To", "<sip:a@b?x=1,2>")])
    assert len(refer_to_values(headers)) == 1
    headers = Headers([("Replaces", "a;to-tag=1;from-tag=2"),
                       ("Replaces", "b;to-tag=1;from-tag=2")])
    assert len(replaces_values(headers)) == 2


@pytest.mark.parametrize(("body", "expected"), [
    (b"SIP/2.0 100 Trying\r\n", (100, "Trying")),
    (b"SIP/2.0 200 OK\r\n", (200, "OK")),
    (b"SIP/2.0 180 Ringing", (180, "Ringing")),
    (b"\r\nSIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n\r\n", (486, "Busy Here")),
    (b"sip/2.0 503", (503, "")),
    (b"SIP/2.0 99 Low\r\n", None),
    (b"SIP/2.0 700 High\r\n", None),
    (b"SIP/3.0 200 OK\r\n", None),
    (b"INVITE sip:a@b SIP/2.0\r\n", None),
    (b"\xff\xfe garbage", None),
    (b"", None),
])
def test_parse_sipfrag(body: bytes, expected: tuple[int, str] | None) -> None:
    assert parse_sipfrag(body) == expected


def test_sipfrag_builds_a_status_line() -> None:
    assert sipfrag(180, "Ringing") == b"SIP/2.0 180 Ringing\r\n"
    assert parse_sipfrag(sipfrag(603, "De\x00cline\r\nX: y")) == (603, "DeclineX: y")


def test_event_and_subscription_state() -> None:
    assert parse_event("refer") == ("refer", None)
    assert parse_event("Refer;id=93809824") == ("refer", "93809824")
    assert parse_event(None) is None and parse_event(" ") is None
    assert parse_event("refer;;") is None
    assert parse_subscription_state("terminated;reason=noresource") == (
        "terminated", {"reason": "noresource"})
    assert parse_subscription_state("Active ;expires=60")[0] == "active"
    assert parse_subscription_state(None) == ("", {})
    assert parse_subscription_state("active;;")[0] == "active"


def test_refer_sub_and_hosts() -> None:
    assert refer_sub_false(Headers([("Refer-Sub", " FALSE ")]))
    assert not refer_sub_false(Headers([("Refer-Sub", "true")]))
    assert not refer_sub_false(Headers())
    assert uri_host_of("<sip:1001@PBX.example.com>;tag=1") == "pbx.example.com"
    assert uri_host_of("sip:pbx.example.com:5060") == "pbx.example.com"
    assert uri_host_of("<tel:+1>") is None and uri_host_of("<<") is None
