"""Verdicts for the RFC 4475 torture messages and the RFC 5118 IPv6 messages.

One entry per ``.dat`` fixture under ``fixtures/rfc4475`` and ``fixtures/rfc5118``.
The kinds follow ``shared/reference/reliability.md`` §2:

* ``accept``   - well formed; parses, validates, and is processed normally.
* ``reject``   - parse or validation fails with ``status`` (400 unless noted).
* ``liberal``  - rejecting (with ``status``) or accepting are both fine; the parser
  must not break and must never re-emit the bad syntax.
* ``semantic`` - syntactically valid; the UA answers ``status`` for application
  reasons (unknown scheme, unsupported extension, ...).
* ``drop``     - a response the UA discards without answering.

``status`` is the code a UA sends back on the wire; ``alternatives`` lists other
codes the RFC text also allows. The table is shared with the on-the-wire replay test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

FIXTURES = Path(__file__).parent / "fixtures"

Kind = Literal["accept", "reject", "liberal", "semantic", "drop"]


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    status: int | None = None
    transport_note: str = ""
    alternatives: tuple[int, ...] = ()


_A = Verdict("accept")
_UA_REGISTER = "a UA is not a registrar: REGISTER gets 405 (Allow) or 501"

#: RFC 4475 §3, in the order of the RFC.
CASES: dict[str, Verdict] = {
    # 3.1.1 valid messages
    "wsinv": _A,
    "intmeth": Verdict("semantic", 501, "unknown method: 501 from a UA", (405,)),
    "esc01": _A,
    "escnull": Verdict("accept", None, _UA_REGISTER),
    "esc02": Verdict("semantic", 501, "RE%47IST%45R is not REGISTER", (405,)),
    "lwsdisp": _A,
    "longreq": _A,
    "dblreq": Verdict("accept", None, "UDP: trailing INVITE octets are ignored; " + _UA_REGISTER),
    "semiuri": _A,
    "transports": _A,
    "mpart01": _A,
    "unreason": _A,
    "noreason": _A,
    # 3.1.2 invalid messages
    "badinv01": Verdict("reject", 400),
    "clerr": Verdict("reject", 400, "UDP: 400; on TCP wait for more bytes, then close"),
    "ncl": Verdict("reject", 400, "UDP: drop the datagram rest; TCP: close the connection"),
    "scalar02": Verdict("reject", 400, "CSeq above 2**32-1"),
    "scalarlg": Verdict("drop", None, "response: discard"),
    "quotbal": Verdict("reject", 400),
    "ltgtruri": Verdict("liberal", 400),
    "lwsruri": Verdict("reject", 400),
    "lwsstart": Verdict("liberal", 400, "accepted: runs of SP in the start line are tolerated"),
    "trws": Verdict("liberal", 400, "accepted: trailing SP after SIP/2.0 is tolerated"),
    "escruri": Verdict("liberal", 400, "accepted; escaped headers never become real headers"),
    "baddate": Verdict("liberal", 400, "accepted; a UA ignores Date"),
    "regbadct": Verdict("liberal", 400, _UA_REGISTER + " when accepted"),
    "badaspec": Verdict("liberal", 400, "accepted: the spaces inside <> are ignored"),
    "baddn": Verdict("reject", 400),
    "badvers": Verdict("reject", 505),
    "mismatch01": Verdict("reject", 400),
    "mismatch02": Verdict("reject", 400, "400, not 501", (501,)),
    "bigcode": Verdict("drop", None, "response: discard"),
    # 3.2 transaction layer
    "badbranch": Verdict("liberal", 400, "accepted: RFC 2543-style matching"),
    # 3.3 application layer
    "insuf": Verdict("reject", 400, "no Call-ID/From/To: is_answerable() is false, a UA drops it"),
    "unkscm": Verdict("semantic", 416),
    "novelsc": Verdict("semantic", 416, "", (404,)),
    "unksm2": Verdict("semantic", 405, _UA_REGISTER, (501, 400)),
    "bext01": Verdict("semantic", 420, "420 with Unsupported"),
    "invut": Verdict("semantic", 415, "415 with Accept"),
    "regaut01": Verdict("semantic", 405, _UA_REGISTER, (501,)),
    "multi01": Verdict("reject", 400),
    "mcl01": Verdict("reject", 400, "TCP: close the connection"),
    "bcast": Verdict("drop", None, "a UAC discards a response with more than one Via"),
    "zeromf": Verdict("semantic", 200, "a UA answers OPTIONS normally (proxies send 483)"),
    "cparam01": Verdict("semantic", 405, _UA_REGISTER, (501,)),
    "cparam02": Verdict("semantic", 405, _UA_REGISTER, (501,)),
    "regescrt": Verdict("semantic", 405, _UA_REGISTER, (501,)),
    "sdp01": Verdict("semantic", 406, "", (400,)),
    # 3.4 backward compatibility
    "inv2543": Verdict("reject", 400, "no Max-Forwards: clean 400 (RFC 4475 §3.4.1 allows it)"),
}

#: RFC 5118 §4 (4.5 and 4.10 each hold two messages).
IPV6_CASES: dict[str, Verdict] = {
    "ipv6-good": Verdict("accept", None, _UA_REGISTER),
    "ipv6-bad": Verdict("reject", 400, "IPv6 Request-URI host without []"),
    "port-ambiguous": Verdict("accept", None, "[2001:db8::10:5070] is an address"),
    "port-unambiguous": Verdict("accept", None, "port 5070"),
    "via-received-brackets": _A,
    "via-received-plain": _A,
    "ipv6-in-sdp": _A,
    "mixed-v4-v6-via": _A,
    "multiple-c-lines": _A,
    "ipv4-mapped": _A,
    "extra-colon": Verdict("liberal", 400, "accepted: the extra colon is tolerated"),
    "extra-colon-fixed": _A,
}


def fixture_path(name: str) -> Path:
    for suite in ("rfc4475", "rfc5118"):
        path = FIXTURES / suite / f"{name}.dat"
        if path.exists():
            return path
    raise KeyError(name)


def load_fixture(name: str) -> bytes:
    """The exact octets of the named torture message (CRLF line ends, NULs kept)."""
    return fixture_path(name).read_bytes()
