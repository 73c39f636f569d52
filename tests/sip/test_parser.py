"""RFC 4475 / RFC 5118 torture corpus through the parser, plus parser mechanics."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentconsole.sip.errors import ParseError
from agentconsole.sip.headers import parse_cseq
from agentconsole.sip.message import Message, Request, Response
from agentconsole.sip.parser import (
    MessageParseError,
    is_answerable,
    lenient_top_via,
    parse_message,
    validate_request,
    validate_response,
)
from agentconsole.sip.uri import AbsoluteUri, SipUri, parse_uri

from .torture import CASES, IPV6_CASES, Verdict, load_fixture

ALL_CASES = {**CASES, **IPV6_CASES}


def _parse_and_validate(data: bytes) -> Request | Response:
    msg = parse_message(data)
    if isinstance(msg, Request):
        validate_request(msg)
    else:
        validate_response(msg)
    return msg


def _req(name: str) -> Request:
    msg = parse_message(load_fixture(name))
    assert isinstance(msg, Request)
    return msg


def _without_cl(msg: Message) -> list[tuple[str, str]]:
    return [(n, v) for n, v in msg.headers if n != "Content-Length"]


# ----- the verdict table ------------------------------------------------------------


def test_table_is_complete() -> None:
    assert len(CASES) == 49
    assert len(IPV6_CASES) == 12
    for name in ALL_CASES:
        assert load_fixture(name).count(b"\r\n") > 3


@pytest.mark.parametrize("name", sorted(ALL_CASES))
def test_verdict(name: str) -> None:
    verdict: Verdict = ALL_CASES[name]
    data = load_fixture(name)
    if verdict.kind in ("accept", "semantic"):
        _parse_and_validate(data)
    elif verdict.kind == "reject":
        with pytest.raises(ParseError) as info:
            _parse_and_validate(data)
        assert info.value.status == verdict.status
    elif verdict.kind == "drop":
        assert data.startswith(b"SIP/2.0 ")
        with pytest.raises(ParseError):
            _parse_and_validate(data)
    else:
        try:
            _parse_and_validate(data)
        except ParseError as exc:
            assert exc.status == verdict.status


@pytest.mark.parametrize("name", sorted(ALL_CASES))
def test_round_trip(name: str) -> None:
    try:
        msg = parse_message(load_fixture(name))
    except ParseError:
        assert ALL_CASES[name].kind in ("reject", "liberal", "drop")
        return
    again = parse_message(msg.to_bytes())
    assert type(again) is type(msg)
    assert again.start_line() == msg.start_line()
    assert _without_cl(again) == _without_cl(msg)
    assert again.body == msg.body
    if isinstance(msg, Request):
        assert isinstance(again, Request)
        assert again.uri == msg.uri
        assert again.method == msg.method


@pytest.mark.parametrize(
    "name",
    [
        "badinv01",
        "clerr",
        "ncl",
        "scalar02",
        "quotbal",
        "lwsruri",
        "ltgtruri",
        "baddn",
        "badvers",
        "mismatch01",
        "mismatch02",
        "multi01",
        "mcl01",
        "inv2543",
        "ipv6-bad",
    ],
)
def test_rejected_requests_can_be_answered(name: str) -> None:
    try:
        msg: Request | Response | None = parse_message(load_fixture(name))
    except MessageParseError as exc:
        msg = exc.partial
    assert isinstance(msg, Request)
    assert is_answerable(msg)


def test_insuf_cannot_be_answered() -> None:
    assert not is_answerable(_req("insuf"))


def test_badinv01_top_via_is_still_routable() -> None:
    via = lenient_top_via(_req("badinv01"))
    assert via is not None
    assert (via.transport, via.host, via.port) == ("UDP", "192.0.2.15", None)


# ----- what the valid messages contain ---------------------------------------------


def test_wsinv_contents() -> None:
    req = _req("wsinv")
    assert req.method == "INVITE"
    assert req.headers.get("Max-Forwards") == "0068"
    assert req.cseq.number == 9 and req.cseq.method == "INVITE"
    vias = req.vias
    assert [(v.transport, v.host) for v in vias] == [
        ("UDP", "192.0.2.2"),
        ("TCP", "spindle.example.com"),
        ("UDP", "192.168.255.111"),
    ]
    assert vias[0].params == {"rport": None, "branch": "390skdjuw"}
    assert vias[2].branch == "z9hG4bK30239"
    assert req.from_.display_name == 'J Rosenberg \\"'
    assert req.from_.tag == "98asjd8"
    assert req.to.tag == "1918181833n"
    assert req.headers.get("Subject") == ""
    assert req.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert req.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (contact,) = req.contacts
    assert contact.display_name == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert len(req.body) == 150


def test_intmeth_contents() -> None:
    req = _req("intmeth")
    assert req.method == "!interesting-Method0123456789_*+`.%indeed'~"
    uri = parse_uri(req.uri)
    assert isinstance(uri, SipUri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert req.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert req.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert req.from_.params["fromparam''~+*_!.-%"] == '"работающий"'
    assert req.from_.tag == "_token~1'+`*%!-."
    assert req.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert req.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"


def test_escapes_are_kept_and_unescaped_on_demand() -> None:
    req = _req("esc01")
    uri = parse_uri(req.uri)
    assert isinstance(uri, SipUri)
    assert uri.user_unescaped == "sips:user@example.com"
    to_uri = req.to.uri
    assert isinstance(to_uri, SipUri) and to_uri.user_unescaped == "user"
    (contact,) = req.contacts
    assert isinstance(contact.uri, SipUri)
    assert contact.uri.params["n%61me"] == "v%61lue%25%34%31"


def test_escnull_two_distinct_contacts() -> None:
    users = []
    for contact in _req("escnull").contacts:
        assert isinstance(contact.uri, SipUri)
        users.append(contact.uri.user_unescaped)
    assert users == ["\x00", "\x00\x00"]


def test_esc02_method_and_header_are_not_unescaped() -> None:
    req = _req("esc02")
    assert req.method == "RE%47IST%45R"
    assert [str(c.uri) for c in req.contacts] == [
        "sip:alias1@host1.example.com",
        "sip:alias3@host3.example.com",
    ]
    assert req.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert req.to.display_name == "%Z%45"


def test_small_valid_cases() -> None:
    assert _req("lwsdisp").from_.display_name == "caller"
    assert len(_req("longreq").vias) == 34
    dbl = _req("dblreq")
    assert dbl.method == "REGISTER" and dbl.body == b""
    assert dbl.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    semi = parse_uri(_req("semiuri").uri)
    assert isinstance(semi, SipUri)
    assert semi.user_unescaped == "user;par=u@example.net" and semi.host == "example.com"
    transports = [v.transport for v in _req("transports").vias]
    assert transports == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    mpart = _req("mpart01")
    assert b"\x00" in mpart.body
    assert len(mpart.body) == int(mpart.headers.get("Content-Length") or "-1")


def test_reason_phrases() -> None:
    unreason = parse_message(load_fixture("unreason"))
    assert isinstance(unreason, Response)
    assert unreason.status == 200
    assert unreason.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    noreason = parse_message(load_fixture("noreason"))
    assert isinstance(noreason, Response)
    assert (noreason.status, noreason.reason) == (100, "")
    assert noreason.to_bytes().startswith(b"SIP/2.0 100 \r\n")


def test_unknown_schemes_are_values() -> None:
    assert isinstance(parse_uri(_req("unkscm").uri), AbsoluteUri)
    novel = parse_uri(_req("novelsc").uri)
    assert isinstance(novel, AbsoluteUri) and novel.scheme == "soap.beep"
    unksm2 = _req("unksm2")
    assert isinstance(unksm2.to.uri, AbsoluteUri) and unksm2.to.uri.scheme == "isbn"
    assert isinstance(unksm2.contacts[0].uri, AbsoluteUri)


def test_rfc5118_contents() -> None:
    good = parse_uri(_req("ipv6-good").uri)
    assert isinstance(good, SipUri) and (good.host, good.port) == ("2001:db8::10", None)
    amb = parse_uri(_req("port-ambiguous").uri)
    assert isinstance(amb, SipUri) and (amb.host, amb.port) == ("2001:db8::10:5070", None)
    unamb = parse_uri(_req("port-unambiguous").uri)
    assert isinstance(unamb, SipUri) and (unamb.host, unamb.port) == ("2001:db8::10", 5070)
    assert _req("via-received-brackets").top_via.received == "2001:db8::9:255"
    assert _req("via-received-plain").top_via.received == "2001:db8::9:255"
    mixed = _req("mixed-v4-v6-via").vias
    assert (mixed[0].host, mixed[0].port) == ("2001:db8::9:1", 6050)
    assert mixed[2].received == "192.0.2.200"
    mapped = _req("ipv4-mapped")
    assert (mapped.top_via.host, mapped.top_via.port) == ("::ffff:192.0.2.10", 19823)
    assert b"c=IN IP6 ::ffff:192.0.2.2" in mapped.body


# ----- mechanics ---------------------------------------------------------------------

BASIC = (
    b"OPTIONS sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:alice@example.com>;tag=1\r\n"
    b"To: <sip:bob@example.com>\r\n"
    b"Call-ID: abc@192.0.2.1\r\n"
    b"CSeq: 1 OPTIONS\r\n"
)


def test_bare_lf_and_leading_crlf() -> None:
    data = b"\r\n\r\n" + BASIC.replace(b"\r\n", b"\n") + b"Content-Length: 3\n\nabcXYZ"
    msg = parse_message(data)
    assert isinstance(msg, Request)
    validate_request(msg)
    assert msg.body == b"abc"


def test_body_without_content_length_is_the_rest() -> None:
    msg = parse_message(BASIC + b"\r\nhello\x00world")
    assert msg.body == b"hello\x00world"


def test_non_utf8_header_value_round_trips() -> None:
    data = BASIC + b"X-Odd: caf\xe9 \xff\xfe\r\nContent-Length: 0\r\n\r\n"
    msg = parse_message(data)
    assert msg.to_bytes() == data


@pytest.mark.parametrize(
    ("data", "kwargs", "status"),
    [
        (BASIC + b"\r\n" + b"x" * 100, {"max_size": 100}, 513),
        (BASIC + b"X: " + b"y" * 200 + b"\r\n\r\n", {"max_line": 100}, 513),
        (BASIC + b"X: 1\r\n" * 10 + b"\r\n", {"max_headers": 12}, 513),
        (BASIC + b"Content-Length: 70000\r\n\r\n", {}, 413),
        (BASIC + b"Content-Length: 1" + b"0" * 5000 + b"\r\n\r\n", {}, 413),
        (BASIC + b"Content-Length: five\r\n\r\n", {}, 400),
        (BASIC + b"Content-Length: \xd9\xa3\r\n\r\n", {}, 400),
        (BASIC, {}, 400),
        (b" folded\r\n" + BASIC + b"\r\n", {}, 400),
        (BASIC + b"NoColonHere\r\n\r\n", {}, 400),
        (BASIC + b"Bad Name: x\r\n\r\n", {}, 400),
        (BASIC + b"X: a\rb\r\n\r\n", {}, 400),
        (b"\r\n\r\n", {}, 400),
        (b"SIP/2.0 99 Too Low\r\n\r\n", {}, 400),
        (b"SIP/2.0 700 Too High\r\n\r\n", {}, 400),
        (b"SIP/2.0 2000 OK\r\n\r\n", {}, 400),
        (b"SIP/2.0 200 O\x01K\r\n\r\n", {}, 400),
        (b"INVITE sip:a@b HTTP/1.1\r\n\r\n", {}, 400),
    ],
)
def test_parse_errors(data: bytes, kwargs: dict[str, int], status: int) -> None:
    with pytest.raises(ParseError) as info:
        parse_message(data, **kwargs)
    assert info.value.status == status


def test_status_line_without_reason_is_accepted() -> None:
    msg = parse_message(b"SIP/2.0 180\r\n\r\n")
    assert isinstance(msg, Response) and (msg.status, msg.reason) == (180, "")


def _request(extra: bytes = b"", *, base: bytes = BASIC) -> Request:
    msg = parse_message(base + extra + b"\r\n")
    assert isinstance(msg, Request)
    return msg


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda b: b.replace(b"Max-Forwards: 70", b"Max-Forwards: 256"), 400),
        (lambda b: b.replace(b"Max-Forwards: 70", b"Max-Forwards: x"), 400),
        (lambda b: b.replace(b"CSeq: 1 OPTIONS", b"CSeq: 4294967296 OPTIONS"), 400),
        (lambda b: b.replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE"), 400),
        (lambda b: b.replace(b"SIP/2.0/UDP", b"SIP/3.0/UDP"), 505),
        (lambda b: b.replace(b" SIP/2.0\r\n", b" SIP/2.1\r\n", 1), 505),
        (lambda b: b.replace(b"Call-ID: abc@192.0.2.1", b"Call-ID: a b"), 400),
        (lambda b: b + b"Contact: <sip:x@y>;;\r\n", 400),
        (lambda b: b + b"Contact: *\r\n", None),
        (lambda b: b + b"To: <sip:carol@example.com>\r\n", 400),
        (lambda b: b.replace(b"Via: ", b"X-Via: "), 400),
    ],
)
def test_validate_request(mutate: Callable[[bytes], bytes], status: int | None) -> None:
    req = _request(base=mutate(BASIC))
    if status is None:
        validate_request(req)
        return
    with pytest.raises(ParseError) as info:
        validate_request(req)
    assert info.value.status == status


def test_validate_request_conflicting_content_length() -> None:
    req = Request("OPTIONS", "sip:bob@example.com", list(_request().headers))
    validate_request(req)
    req.headers.add("Content-Length", "0")
    validate_request(req)
    req.headers.add("l", "5")
    with pytest.raises(ParseError):
        validate_request(req)


def test_validate_response() -> None:
    data = BASIC.replace(b"OPTIONS sip:bob@example.com SIP/2.0", b"SIP/2.0 200 OK")
    resp = parse_message(data + b"\r\n")
    assert isinstance(resp, Response)
    validate_response(resp)
    resp.headers.add("Via", "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKx")
    with pytest.raises(ParseError):
        validate_response(resp)
    bad = parse_message(data.replace(b"SIP/2.0 200", b"SIP/3.0 200") + b"\r\n")
    assert isinstance(bad, Response)
    with pytest.raises(ParseError) as info:
        validate_response(bad)
    assert info.value.status == 505


def test_cseq_helper_limits() -> None:
    assert parse_cseq("0000000000004294967295 ACK").number == 2**32 - 1
    with pytest.raises(ParseError):
        parse_cseq("4294967296 ACK")
