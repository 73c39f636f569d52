"""Edge cases of URIs, name-addr values, Via, CSeq and parameters."""

from __future__ import annotations

import pytest

from agentconsole.sip.errors import ParseError
from agentconsole.sip.headers import (
    Via,
    parse_cseq,
    parse_host_port,
    parse_max_forwards,
    parse_params,
    parse_via,
    parse_via_list,
    split_header_list,
)
from agentconsole.sip.uri import AbsoluteUri, SipUri, parse_name_addr, parse_uri, uri_equal

# ----- RFC 3261 §19.1.4 -------------------------------------------------------------

EQUAL = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    (
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    ),
    (
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    ),
    ("sip:a@[2001:db8:0::1]", "sip:a@[2001:DB8::1]"),
    ("tel:+1-201-555-0123", "TEL:+1-201-555-0123"),
]

DIFFERENT = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
    ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
    ("sip:alice:pw@atlanta.com", "sip:alice@atlanta.com"),
    ("sip:alice@atlanta.com", "tel:+1234"),
]


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_uri_equal(a: str, b: str) -> None:
    assert uri_equal(a, b)
    assert uri_equal(parse_uri(b), parse_uri(a))


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_uri_not_equal(a: str, b: str) -> None:
    assert not uri_equal(a, b)
    assert not uri_equal(b, a)


# ----- URIs --------------------------------------------------------------------------


def test_semiuri_user_part_keeps_semicolon() -> None:
    uri = parse_uri("sip:user;par=u%40example.net@example.com")
    assert isinstance(uri, SipUri)
    assert uri.user == "user;par=u%40example.net"
    assert uri.user_unescaped == "user;par=u@example.net"
    assert uri.params == {}
    assert str(uri) == "sip:user;par=u%40example.net@example.com"


@pytest.mark.parametrize(
    "text",
    [
        "nobodyKnowsThisScheme:totallyopaquecontent",
        "soap.beep://192.0.2.103:3002",
        "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        "tel:+1234;phone-context=x",
    ],
)
def test_other_schemes_are_absolute_uris(text: str) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, AbsoluteUri)
    assert str(uri) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/",
        "</",
        "sip:",
        ":x",
        "1sip:a@b",
        "sip:@host",
        "sip:a%4@b",
        "sip:a%@b",
        "sip:a%zz@b",
        "sip:a@b;p=%4",
        "sip:a b@c",
        "sip:a@b?",
        "sip:a\x00@b",
        "sip:a@<b>",
        "sip:2001:db8::10",
        "sip:[2001:db8::10",
        "sip:[zz::1]",
        "sip:[::1]x",
        "sip:a@b:0",
        "sip:a@b:65536",
        "sip:a@b:５０６０",
        "sip:a@b;;",
        "sip:a@b;x=",
        "sip:é@b",
        "sip:a@b\\c",
    ],
)
def test_bad_uris(text: str) -> None:
    with pytest.raises(ParseError):
        parse_uri(text)


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("sip:[2001:db8::10]:5070", "2001:db8::10", 5070),
        ("sip:[2001:db8::10:5070]", "2001:db8::10:5070", None),
        ("sip:ted@[::ffff:192.0.2.2]", "::ffff:192.0.2.2", None),
        ("sip:user@[2001:db8:::192.0.2.1]", "2001:db8:::192.0.2.1", None),
        ("sips:EXAMPLE.com:5061;transport=TLS", "example.com", 5061),
    ],
)
def test_hosts(text: str, host: str, port: int | None) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    assert (uri.host, uri.port) == (host, port)


def test_uri_headers_stay_escaped() -> None:
    uri = parse_uri("sip:user@example.com?Route=%3Csip:example.com%3E")
    assert isinstance(uri, SipUri)
    assert uri.headers == "Route=%3Csip:example.com%3E"
    assert uri.host == "example.com"


# ----- name-addr ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        '"abc\\',
        '"abc\\" <sip:a@b>',
        '"abc',
        '"x" sip:a@b',
        "</",
        "<>",
        "<sip:a@b",
        "Bell, Alexander <sip:a@b>",
        "a@b <sip:a@b>",
        "<sip:a@b> junk",
        "<sip:a@b>;;",
        "<sip:a@b>;tag=",
        '"x" y <sip:a@b>',
        "",
    ],
)
def test_bad_name_addrs(value: str) -> None:
    with pytest.raises(ParseError):
        parse_name_addr(value)


def test_quoted_display_names() -> None:
    na = parse_name_addr('"BEL:\\\x07 NUL:\\\x00 \\"q\\" \\\\" <sip:a@b>;tag=1')
    assert na.display_name == 'BEL:\x07 NUL:\x00 "q" \\'
    assert na.tag == "1"
    again = parse_name_addr(str(na))
    assert again.display_name == na.display_name


def test_token_display_name_touching_angle() -> None:
    na = parse_name_addr("caller<sip:caller@example.com>;tag=323")
    assert na.display_name == "caller"
    multi = parse_name_addr("A.  Bell <sip:a@b>")
    assert multi.display_name == "A. Bell"


def test_addr_spec_params_belong_to_header() -> None:
    na = parse_name_addr("sip:+19725552222@gw1.example.net;unknownparam;tag=x")
    assert isinstance(na.uri, SipUri)
    assert na.uri.params == {}
    assert na.params == {"unknownparam": None, "tag": "x"}
    inside = parse_name_addr("<sip:+19725552222@gw1.example.net;unknownparam>")
    assert isinstance(inside.uri, SipUri)
    assert inside.uri.params == {"unknownparam": None}


def test_absolute_uri_in_name_addr() -> None:
    na = parse_name_addr("<http://www.example.com>;tag=3234233")
    assert isinstance(na.uri, AbsoluteUri) and na.uri.scheme == "http"


# ----- Via ---------------------------------------------------------------------------


def test_via_with_lws_around_slashes() -> None:
    via = parse_via("SIP  /   2.0 /UDP    192.0.2.2;rport;branch=390skdjuw")
    assert (via.protocol, via.transport, via.host) == ("SIP/2.0", "UDP", "192.0.2.2")
    assert via.rport is None and via.branch == "390skdjuw"
    spaced = parse_via("SIP/2.0/TCP host : 5060 ; branch = z9hG4bK1")
    assert (spaced.host, spaced.port, spaced.branch) == ("host", 5060, "z9hG4bK1")


def test_via_list_rejects_empty_elements() -> None:
    with pytest.raises(ParseError):
        parse_via_list("SIP/2.0/UDP 192.0.2.15;;,;,,")
    with pytest.raises(ParseError):
        parse_via_list("SIP/2.0/UDP a.example.com,,SIP/2.0/UDP b.example.com")
    assert len(parse_via_list("SIP/2.0/UDP a, SIP/2.0/TCP b")) == 2


@pytest.mark.parametrize("transport", ["SCTP", "TLS-SCTP", "WSS", "UNKNOWN", "udp"])
def test_any_transport_token(transport: str) -> None:
    assert parse_via(f"SIP/2.0/{transport} h.example.com").transport == transport.upper()


def test_via_keeps_other_versions_and_serializes() -> None:
    via = parse_via("SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw")
    assert via.protocol == "SIP/7.0"
    assert str(via) == "SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw"
    v6 = Via("UDP", "2001:db8::1", 5060, {"received": "[2001:db8::2]"})
    assert str(v6) == "SIP/2.0/UDP [2001:db8::1]:5060;received=[2001:db8::2]"
    assert parse_via(str(v6)).received == "2001:db8::2"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "SIP/2.0/UDP",
        "SIP/2.0 UDP host",
        "HTTP/1.1/TCP host",
        "SIP/2.0/UDP a b",
        "SIP/2.0/U;DP host",
        "SIP/2.0/UDP host;branch=",
        "SIP/2.0/UDP 2001:db8::1",
        "SIP/x/UDP host",
    ],
)
def test_bad_vias(value: str) -> None:
    with pytest.raises(ParseError):
        parse_via(value)


def test_rport_values() -> None:
    assert parse_via("SIP/2.0/UDP h;rport=5060").rport == 5060
    assert parse_via("SIP/2.0/UDP h;rport=99999").rport is None
    assert parse_via("SIP/2.0/UDP h;rport=５").rport is None


# ----- scalars and parameters --------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "4294967296 INVITE",
        "1 2 INVITE",
        "-1 INVITE",
        "² INVITE",
        "1 INV ITE",
        "1",
        "99999999999999999999 REGISTER",
    ],
)
def test_bad_cseq(value: str) -> None:
    with pytest.raises(ParseError):
        parse_cseq(value)


def test_max_forwards() -> None:
    assert parse_max_forwards("0068") == 68
    assert parse_max_forwards("255") == 255
    for bad in ("256", "300", "-1", "", "1e3", "７"):
        with pytest.raises(ParseError):
            parse_max_forwards(bad)


def test_params() -> None:
    assert parse_params(';tag=1;lr;x="a;b\\"c"') == {"tag": "1", "lr": None, "x": '"a;b\\"c"'}
    assert parse_params(";received=[2001:db8::9:255]")["received"] == "[2001:db8::9:255]"
    for bad in (";;", ";x=", ';x="open', ';x="a"b', ";x=a b", ";é=1", ";x=<y>"):
        with pytest.raises(ParseError):
            parse_params(bad)


def test_split_header_list() -> None:
    assert split_header_list('"a, b" <sip:x>, <sip:y;p=1,2>') == ['"a, b" <sip:x>', "<sip:y;p=1,2>"]
    assert split_header_list("a,,b") == ["a", "b"]
    with pytest.raises(ParseError):
        split_header_list("a,,b", strict=True)
    with pytest.raises(ParseError):
        split_header_list('"unterminated\\"')


def test_host_port() -> None:
    assert parse_host_port("Example.COM:5060") == ("example.com", 5060)
    assert parse_host_port("[::1]") == ("::1", None)
    for bad in ("", "a:b:c", "[::1", "host:", "ho st", "[::1]:", "[1::2::3]"):
        with pytest.raises(ParseError):
            parse_host_port(bad)
