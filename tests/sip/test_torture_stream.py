"""The RFC 4475/5118 torture messages through the stream framer (TCP/TLS/WS path).

Each fixture is fed to :class:`StreamFramer` whole and one byte at a time; both must
frame the same bytes, and the framed message must get the same verdict as the datagram
parser gives it. Fixtures whose Content-Length is the subject of the test behave as a
stream must: a too-large length waits for more bytes, a negative or duplicated one is a
framing error (the connection is closed).
"""

from __future__ import annotations

import pytest

from agentconsole.sip.errors import ParseError
from agentconsole.sip.framing import FramedMessage, StreamFramer
from agentconsole.sip.parser import parse_message

from .torture import CASES, IPV6_CASES, load_fixture

ALL = {**CASES, **IPV6_CASES}
#: Content-Length is what these cases are about (RFC 4475 §3.1.2.2, §3.1.2.3, §3.3.9).
WAITS_FOR_MORE = {"clerr"}
FRAMING_ERRORS = {"ncl", "mcl01"}
#: RFC 2543 messages may lack Content-Length: required on streams (RFC 3261 §18.3).
NO_LENGTH = {"inv2543"}
#: A datagram holding two messages (RFC 4475 §3.1.1.8): on a stream both are framed.
TWO_MESSAGES = {"dblreq"}


def frame(data: bytes, *, bytewise: bool) -> list[bytes]:
    framer = StreamFramer()
    out: list[bytes] = []
    chunks = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    for chunk in chunks:
        out.extend(e.data for e in framer.feed(chunk) if isinstance(e, FramedMessage))
    return out


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
def test_torture_case_through_the_framer(name: str, bytewise: bool) -> None:
    data = load_fixture(name)
    if name in FRAMING_ERRORS or name in NO_LENGTH:
        with pytest.raises(ParseError):
            frame(data, bytewise=bytewise)
        return
    framed = frame(data, bytewise=bytewise)
    if name in WAITS_FOR_MORE:
        assert framed == []  # 9999 body bytes announced: keep waiting, never guess
        return
    if name in TWO_MESSAGES:
        assert len(framed) >= 1
    else:
        assert len(framed) == 1, name
    assert framed == frame(data, bytewise=not bytewise)
    # the framed message gets the same parse result as the datagram parser gives
    try:
        expected = parse_message(data)
    except ParseError as exc:
        with pytest.raises(ParseError) as info:
            parse_message(framed[0])
        assert info.value.status == exc.status
    else:
        got = parse_message(framed[0])
        assert got.start_line() == expected.start_line()
        assert list(got.headers) == list(expected.headers)
        assert got.body == expected.body
