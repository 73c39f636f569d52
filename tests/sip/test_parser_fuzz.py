"""Property tests: no input makes the parser raise anything but ParseError.

Seeds are the torture fixtures; mutations follow what the trusted stacks' fuzzers
do (bit flips, inserted/deleted octets, truncation, duplicated header lines).
"""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentconsole.sip.errors import ParseError
from agentconsole.sip.message import Headers, Request, Response
from agentconsole.sip.parser import (
    MessageParseError,
    is_answerable,
    lenient_top_via,
    parse_message,
    validate_request,
    validate_response,
)
from agentconsole.sip.uri import parse_name_addr, parse_uri

from .torture import CASES, IPV6_CASES, load_fixture

SEEDS = [load_fixture(name) for name in sorted({**CASES, **IPV6_CASES})]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _exercise(msg: Request | Response) -> None:
    """Touch every typed view; each may raise ParseError and nothing else."""
    for view in ("vias", "from_", "to", "cseq", "call_id", "contacts", "top_via"):
        with contextlib.suppress(ParseError):
            getattr(msg, view)
    try:
        if isinstance(msg, Request):
            validate_request(msg)
        else:
            validate_response(msg)
    except ParseError:
        pass
    lenient_top_via(msg)
    if isinstance(msg, Request):
        assert isinstance(is_answerable(msg), bool)


def _check(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except MessageParseError as exc:
        if exc.partial is not None:
            _exercise(exc.partial)
        return
    except ParseError:
        return
    _exercise(msg)
    # Whatever was accepted re-serializes into something that parses the same way.
    again = parse_message(msg.to_bytes())
    assert again.start_line() == msg.start_line()
    assert again.body == msg.body


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup", "special"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[pos:]
        elif op == "special":
            data[pos:pos] = draw(
                st.sampled_from(
                    [
                        b"\\",
                        b'"',
                        b"%",
                        b"<",
                        b">",
                        b";",
                        b",",
                        b"\r\n ",
                        b"\n",
                        b"\x00",
                        b"[",
                        b"]",
                        b":",
                        b"\xff",
                        b"99999999999",
                    ]
                )
            )
        else:
            lines = bytes(data).split(b"\r\n")
            if len(lines) > 2:
                i = draw(st.integers(1, len(lines) - 1))
                lines.insert(i, lines[i])
                data = bytearray(b"\r\n".join(lines))
    return bytes(data)


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_only_raise_parse_error(data: bytes) -> None:
    _check(data)


@FUZZ
@given(
    st.sampled_from([b"INVITE sip:a@b SIP/2.0\r\n", b"SIP/2.0 200 OK\r\n"]),
    st.binary(max_size=300),
)
def test_random_after_start_line(start: bytes, rest: bytes) -> None:
    _check(start + rest)
    _check(start + rest + b"\r\n\r\n")


@FUZZ
@given(mutated())
def test_mutated_torture_messages(data: bytes) -> None:
    _check(data)


@FUZZ
@given(st.text(max_size=80))
def test_uri_and_name_addr_only_raise_parse_error(text: str) -> None:
    for parse in (parse_uri, parse_name_addr):
        with contextlib.suppress(ParseError):
            parse(text)


# ----- round trip of well-formed messages ----------------------------------------

_TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~",
    min_size=1,
    max_size=12,
)
_HOST = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True)
_VALUE = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
    max_size=40,
).map(lambda s: s.strip(" \t"))


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method = draw(_TOKEN)
    host = draw(_HOST)
    user = draw(st.from_regex(r"[a-z0-9_.!~*'()&=+$,;?/-]{1,12}", fullmatch=True))
    headers = Headers(
        [
            ("Via", f"SIP/2.0/UDP {draw(_HOST)};branch=z9hG4bK{draw(_TOKEN)}"),
            ("Max-Forwards", str(draw(st.integers(0, 255)))),
            ("From", f"<sip:{draw(_HOST)}@{host}>;tag={draw(_TOKEN)}"),
            ("To", f"<sip:{user}@{host}>"),
            ("Call-ID", draw(_TOKEN)),
            ("CSeq", f"{draw(st.integers(0, 2**32 - 1))} {method}"),
        ]
    )
    for name, value in draw(st.lists(st.tuples(_TOKEN, _VALUE), max_size=5)):
        headers.add(f"X-{name}", value)
    return Request(method, f"sip:{user}@{host}", headers, draw(st.binary(max_size=64)))


@FUZZ
@given(requests())
def test_round_trip_generated_requests(req: Request) -> None:
    parsed = parse_message(req.to_bytes())
    assert isinstance(parsed, Request)
    validate_request(parsed)
    assert (parsed.method, parsed.uri, parsed.version) == (req.method, req.uri, req.version)
    assert [(n, v) for n, v in parsed.headers if n != "Content-Length"] == list(req.headers)
    assert parsed.body == req.body
    assert parsed.to_bytes() == req.to_bytes()


_REASON = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40).map(
    lambda s: s.strip(" \t")
)


@FUZZ
@given(st.integers(100, 699), _REASON, st.binary(max_size=32))
def test_round_trip_status_lines(code: int, reason: str, body: bytes) -> None:
    resp = Response(code, reason, [("Call-ID", "x")], body)
    parsed = parse_message(resp.to_bytes())
    assert isinstance(parsed, Response)
    assert (parsed.status, parsed.reason, parsed.body) == (code, reason, body)
