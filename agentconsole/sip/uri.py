"""SIP URIs (RFC 3261 §19.1) and name-addr / addr-spec values (§20.10, §25.1).

A URI whose scheme we cannot handle is still a value (:class:`AbsoluteUri`), never a
null (belle-sip CVE-2021-33056); every ``%`` and ``\\`` escape is bounds-checked
(belle-sip CVE-2021-43611). Components are kept in their received (escaped) form so a
message re-serializes as it came; :func:`uri_equal` compares them as §19.1.4 says.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import unquote

from .errors import ParseError
from .headers import WS, format_params, is_token, parse_host_port, parse_params

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_UNRESERVED = _ALNUM | frozenset("-_.!~*'()")
#: RFC 3261 §25.1 ``user`` = 1*( unreserved / escaped / user-unreserved )
_USER_CHARS = _UNRESERVED | frozenset("&=+$,;?/%")
#: ``password`` = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
_PASSWORD_CHARS = _UNRESERVED | frozenset("&=+$,%")
#: ``hname``/``hvalue`` = *( hnv-unreserved / unreserved / escaped )
_HEADER_CHARS = _UNRESERVED | frozenset("[]/?:+$%=&")
_SCHEME_CHARS = _ALNUM | frozenset("+-.")
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class SipUri:
    scheme: str  # "sip" or "sips"
    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str | None = None  # raw "?a=b&c=d" part without the "?"

    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def host_port(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def user_unescaped(self) -> str | None:
        """The user part with ``%HH`` decoded (RFC 4475 semiuri: ``user;par=u@example.net``)."""
        return None if self.user is None else unescape_user(self.user)

    def with_params(self, **params: str | None) -> SipUri:
        merged = dict(self.params)
        merged.update(params)
        return SipUri(
            self.scheme, self.host, self.user, self.password, self.port, merged, self.headers
        )

    def __str__(self) -> str:
        userinfo = ""
        if self.user is not None:
            userinfo = self.user
            if self.password is not None:
                userinfo += ":" + self.password
            userinfo += "@"
        hdrs = f"?{self.headers}" if self.headers else ""
        return f"{self.scheme}:{userinfo}{self.host_port}{format_params(self.params)}{hdrs}"


@dataclass(frozen=True)
class AbsoluteUri:
    """A URI of another scheme (tel:, urn:, http:, ...), kept as text."""

    scheme: str
    text: str

    def __str__(self) -> str:
        return self.text


Uri = SipUri | AbsoluteUri


def _check_escapes(text: str) -> None:
    """Every ``%`` must be followed by two hex digits inside ``text``."""
    i = text.find("%")
    while i >= 0:
        pair = text[i + 1 : i + 3]
        if len(pair) != 2 or not all(c in _HEX for c in pair):
            raise ParseError(f"bad %-escape in {text!r}")
        i = text.find("%", i + 3)


def _check_chars(text: str, allowed: frozenset[str], what: str) -> None:
    if not all(c in allowed for c in text):
        raise ParseError(f"bad character in URI {what}")
    _check_escapes(text)


def parse_uri(text: str) -> Uri:
    """Parse a URI; ``sip:``/``sips:`` become :class:`SipUri`, others :class:`AbsoluteUri`."""
    text = text.strip(WS)
    if not text or any(c.isspace() or c < " " or c in '<>"\x7f' for c in text):
        raise ParseError(f"bad URI {text!r}")
    scheme, sep, rest = text.partition(":")
    if (
        not sep
        or not scheme
        or not scheme[0].isascii()
        or not scheme[0].isalpha()
        or not all(c in _SCHEME_CHARS for c in scheme)
    ):
        raise ParseError(f"bad URI scheme in {text!r}")
    scheme = scheme.lower()
    if not rest:
        raise ParseError(f"empty URI after scheme in {text!r}")
    if scheme not in ("sip", "sips"):
        return AbsoluteUri(scheme, text)
    return _parse_sip_uri(scheme, rest)


def _parse_sip_uri(scheme: str, rest: str) -> SipUri:
    # '@' is never legal unescaped after the userinfo (params/headers exclude it), while
    # the user part may hold ';', '?' and '/' (RFC 4475 intmeth, semiuri): split there first.
    user: str | None = None
    password: str | None = None
    at = rest.find("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user, colon, pw = userinfo.partition(":")
        if not user:
            raise ParseError("empty user part in URI")
        _check_chars(user, _USER_CHARS, "user part")
        if colon:
            _check_chars(pw, _PASSWORD_CHARS, "password")
            password = pw
    rest, qmark, hdrs = rest.partition("?")
    headers: str | None = None
    if qmark:
        if not hdrs:
            raise ParseError("empty URI headers")
        _check_chars(hdrs, _HEADER_CHARS, "headers")
        headers = hdrs
    hostport, semi, params_text = rest.partition(";")
    host, port = parse_host_port(hostport)
    params: dict[str, str | None] = {}
    if semi:
        _check_escapes(params_text)
        params = parse_params(params_text)
    return SipUri(scheme, host, user, password, port, params, headers)


def unescape_user(user: str) -> str:
    """The user part with ``%HH`` escapes decoded (RFC 3261 §19.1.4 comparison)."""
    return unquote(user, errors="surrogateescape")


# ----- URI comparison (RFC 3261 §19.1.4) ------------------------------------------

#: Parameters that, present in only one of two URIs, make them differ.
_STRICT_PARAMS = ("user", "ttl", "method", "maddr", "transport")


def _norm_host(host: str) -> str:
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host.lower()


def _norm_params(params: dict[str, str | None]) -> dict[str, str | None]:
    return {
        unescape_user(k).lower(): None if v is None else unescape_user(v).lower()
        for k, v in params.items()
    }


def _norm_headers(headers: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if headers:
        for item in headers.split("&"):
            name, _, value = item.partition("=")
            out[unescape_user(name).lower()] = unescape_user(value)
    return out


def _as_uri(value: Uri | str) -> Uri:
    return parse_uri(value) if isinstance(value, str) else value


def uri_equal(a: Uri | str, b: Uri | str) -> bool:
    """URI equivalence per RFC 3261 §19.1.4.

    Userinfo is compared case-sensitively after unescaping; host, scheme, parameter
    names and values case-insensitively. A default that is implied on one side and
    explicit on the other (port, transport, ...) makes the URIs differ. Strings are
    parsed first, so a malformed string raises :class:`ParseError`.
    """
    ua, ub = _as_uri(a), _as_uri(b)
    if isinstance(ua, AbsoluteUri) or isinstance(ub, AbsoluteUri):
        if not (isinstance(ua, AbsoluteUri) and isinstance(ub, AbsoluteUri)):
            return False
        rest_a = ua.text.partition(":")[2]
        rest_b = ub.text.partition(":")[2]
        return ua.scheme == ub.scheme and unescape_user(rest_a) == unescape_user(rest_b)
    if ua.scheme != ub.scheme or ua.port != ub.port:
        return False
    for x, y in ((ua.user, ub.user), (ua.password, ub.password)):
        if (x is None) != (y is None):
            return False
        if x is not None and y is not None and unescape_user(x) != unescape_user(y):
            return False
    if _norm_host(ua.host) != _norm_host(ub.host):
        return False
    pa, pb = _norm_params(ua.params), _norm_params(ub.params)
    for name in _STRICT_PARAMS:
        if pa.get(name, "\0absent") != pb.get(name, "\0absent"):
            return False
    if any(pa[name] != pb[name] for name in pa.keys() & pb.keys()):
        return False
    return _norm_headers(ua.headers) == _norm_headers(ub.headers)


# ----- name-addr / addr-spec ------------------------------------------------------


@dataclass(frozen=True)
class NameAddr:
    """``"Display" <uri>;params`` or a bare addr-spec with params."""

    uri: Uri
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_tag(self, tag: str) -> NameAddr:
        params = dict(self.params)
        params["tag"] = tag
        return NameAddr(self.uri, self.display_name, params)

    def __str__(self) -> str:
        display = ""
        if self.display_name is not None:
            escaped = self.display_name.replace("\\", "\\\\").replace('"', '\\"')
            display = f'"{escaped}" '
        return f"{display}<{self.uri}>{format_params(self.params)}"


def _read_quoted(text: str) -> tuple[str, str]:
    """Read a quoted-string at the start of ``text``; return (unescaped content, rest).

    A backslash must be followed by one more character inside the string; a value
    ending in ``\\`` is unterminated (CVE-2021-43611), CR/LF may not be escaped.
    """
    chars: list[str] = []
    i = 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 >= n or text[i + 1] in "\r\n":
                raise ParseError("dangling escape in quoted string")
            chars.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(chars), text[i + 1 :]
        if ch in "\r\n":
            raise ParseError("line break in quoted string")
        chars.append(ch)
        i += 1
    raise ParseError("unterminated quoted display name")


def _token_display(text: str) -> str | None:
    """A display name made of tokens separated by LWS (``*(token LWS)``), or None if empty."""
    words = text.split()
    if not words:
        return None
    if not all(is_token(w) for w in words):
        raise ParseError(f"display name needs quotes: {text!r}")
    return " ".join(words)


def _params_after(tail: str) -> dict[str, str | None]:
    tail = tail.strip(WS)
    if not tail:
        return {}
    if not tail.startswith(";"):
        raise ParseError(f"garbage after address: {tail!r}")
    return parse_params(tail)


def parse_name_addr(value: str) -> NameAddr:
    """Parse a From/To/Contact/Route value (RFC 3261 §20.10).

    In the addr-spec form (no ``<>``) every ``;param`` belongs to the header, not the
    URI. A token display name may touch the ``<`` (RFC 4475 lwsdisp).
    """
    text = value.strip(WS)
    if not text:
        raise ParseError("empty address")
    display: str | None = None
    if text.startswith('"'):
        display, text = _read_quoted(text)
        text = text.lstrip(WS)
        if not text.startswith("<"):
            raise ParseError("quoted display name without <uri>")
    lt = text.find("<")
    if lt < 0:
        uri_text, semi, params_text = text.partition(";")
        params = parse_params(params_text) if semi else {}
        return NameAddr(parse_uri(uri_text), None, params)
    if display is None:
        display = _token_display(text[:lt])
    elif text[:lt].strip(WS):
        raise ParseError("text between display name and <uri>")
    gt = text.find(">", lt + 1)
    if gt < 0:
        raise ParseError("missing '>'")
    uri = parse_uri(text[lt + 1 : gt])
    return NameAddr(uri, display, _params_after(text[gt + 1 :]))
