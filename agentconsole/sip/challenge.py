"""Parsing ``WWW-Authenticate``/``Proxy-Authenticate`` challenges and ``Authorization``
credentials (RFC 7235 §2.1, RFC 7616 §3.3, RFC 3261 §22, §25.1).

Kept apart from :mod:`agentconsole.sip.auth` because it is a pure grammar: it reads what a
server (or, for the loop guard, we ourselves) wrote and holds no password and no state.
One header value may carry several challenges, each either ``scheme name=value, ...`` or
``scheme token68``; the only way to tell where one ends is that the next begins with a bare
token not followed by ``=``. Every failure is a :class:`ParseError`, never anything else,
because the input comes straight off the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ParseError
from .headers import is_token

__all__ = ["Challenge", "parse_challenge", "parse_challenges", "parse_credentials"]


@dataclass(frozen=True)
class Challenge:
    """One parsed ``WWW-Authenticate`` / ``Proxy-Authenticate`` challenge (RFC 7235 §2.1).

    ``algorithm`` keeps the server's spelling (it is echoed back); ``params`` holds every
    parameter, unquoted, with lower-case names, so unknown ones are not lost.
    """

    scheme: str
    realm: str | None = None
    nonce: str | None = None
    opaque: str | None = None
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    stale: bool = False
    domain: str | None = None
    userhash: bool = False
    token68: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == "digest"

    @property
    def algorithm_key(self) -> str:
        return self.algorithm.upper()


# ----- parsing ------------------------------------------------------------------------

_LWS = " \t\r\n"


class _Scanner:
    """A cursor over a header value; every failure is a :class:`ParseError`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_lws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _LWS:
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_lws()
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def token(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and is_token(self.text[self.pos]):
            self.pos += 1
        if start == self.pos:
            raise ParseError(f"expected a token at offset {start}")
        return self.text[start : self.pos]

    def quoted(self) -> str:
        # RFC 3261 §25.1 quoted-string with quoted-pair escapes.
        self.pos += 1  # opening quote
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\":
                if self.pos + 1 >= len(self.text):
                    break
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if ch == '"':
                return "".join(out)
            out.append(ch)
        raise ParseError("unterminated quoted string in challenge")

    def value(self) -> str:
        self.skip_lws()
        if self.peek() == '"':
            return self.quoted()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _LWS + ",":
            self.pos += 1
        if start == self.pos:
            raise ParseError("empty parameter value in challenge")
        return self.text[start : self.pos]


def _try_token68(scan: _Scanner) -> str | None:
    """``Scheme token68`` (Basic/Bearer style): a blob, not parameters (RFC 7235 §2.1)."""
    match = _TOKEN68.match(scan.text, scan.pos)
    if match is None:
        return None
    scan.pos = match.end(1)
    return match.group(1)


def _parse_params(scan: _Scanner, params: dict[str, str]) -> None:
    """Read ``name=value`` pairs up to the end or to the next challenge's scheme."""
    while not scan.at_end():
        if scan.peek() == ",":  # empty list elements are allowed (RFC 7230 §7)
            scan.pos += 1
            continue
        mark = scan.pos
        name = scan.token().lower()
        scan.skip_lws()
        if scan.peek() != "=":
            scan.pos = mark  # "token SP ..." after a comma: the next challenge begins
            return
        scan.pos += 1
        value = scan.value()
        if name in params:
            raise ParseError(f"duplicate parameter {name!r} in challenge")
        params[name] = value
        if not scan.at_end() and scan.peek() != ",":
            raise ParseError("expected ',' between challenge parameters")


_TOKEN68 = re.compile(r"[ \t\r\n]*([A-Za-z0-9\-._~+/]+=*)[ \t\r\n]*(?:,|$)")


def _parse_list(value: str, *, digest_fields: bool) -> list[Challenge]:
    scan = _Scanner(value)
    out: list[Challenge] = []
    while not scan.at_end():
        if scan.peek() == ",":
            scan.pos += 1
            continue
        scheme = scan.token()
        if scan.peek() not in ("", *_LWS, ","):
            raise ParseError("expected whitespace after the auth scheme")
        params: dict[str, str] = {}
        token68 = _try_token68(scan)
        if token68 is None:
            _parse_params(scan, params)
        out.append(_build(scheme, params, token68, digest_fields=digest_fields))
    if not out:
        raise ParseError("empty challenge")
    return out


def _build(
    scheme: str, params: dict[str, str], token68: str | None, *, digest_fields: bool
) -> Challenge:
    if scheme.lower() != "digest":
        return Challenge(scheme=scheme, params=params, token68=token68)
    realm = params.get("realm")
    nonce = params.get("nonce")
    if digest_fields and (realm is None or nonce is None):
        raise ParseError("digest challenge without realm or nonce")
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    return Challenge(
        scheme=scheme,
        realm=realm,
        nonce=nonce,
        opaque=params.get("opaque"),
        algorithm=params.get("algorithm", "MD5"),
        qop=qop,
        stale=params.get("stale", "").lower() == "true",
        domain=params.get("domain"),
        userhash=params.get("userhash", "").lower() == "true",
        params=params,
    )


def parse_challenges(value: str) -> list[Challenge]:
    """Every challenge in one header value (HTTP allows several, comma-separated).

    Raises :class:`ParseError` (and nothing else) on bad syntax or a digest challenge
    without ``realm``/``nonce`` (RFC 7616 §3.3 makes both mandatory).
    """
    return _parse_list(value, digest_fields=True)


def parse_challenge(value: str) -> Challenge:
    """The first challenge in a ``WWW-Authenticate``/``Proxy-Authenticate`` value."""
    return parse_challenges(value)[0]


def parse_credentials(value: str) -> Challenge:
    """Parse an ``Authorization`` value (same grammar as a challenge, RFC 7235 §2.1)."""
    return _parse_list(value, digest_fields=False)[0]
