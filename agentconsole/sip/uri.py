"""SIP URIs (RFC 3261 §19.1) and name-addr / addr-spec values (§20.10, §25.1).

A URI whose scheme we cannot handle is still a value (:class:`AbsoluteUri`), never a
null (belle-sip CVE-2021-33056); every ``%`` escape is bounds-checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

from .errors import ParseError
from .headers import format_params, parse_host_port, parse_params


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

    def with_params(self, **params: str | None) -> SipUri:
        merged = dict(self.params)
        merged.update(params)
        return SipUri(self.scheme, self.host, self.user, self.password, self.port, merged, self.headers)

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
    """A URI of another scheme (tel:, urn:, ...), kept as text."""

    scheme: str
    text: str

    def __str__(self) -> str:
        return self.text


Uri = SipUri | AbsoluteUri


def _check_escapes(text: str) -> None:
    i = 0
    while True:
        i = text.find("%", i)
        if i < 0:
            return
        pair = text[i + 1 : i + 3]
        if len(pair) != 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
            raise ParseError(f"bad %-escape in {text!r}")
        i += 3


def parse_uri(text: str) -> Uri:
    """Parse a URI; ``sip:``/``sips:`` become :class:`SipUri`, others :class:`AbsoluteUri`."""
    text = text.strip()
    if not text or any(c.isspace() for c in text):
        raise ParseError(f"bad URI {text!r}")
    scheme, sep, rest = text.partition(":")
    if not sep or not scheme or not (scheme[0].isalpha()) or not all(
        c.isascii() and (c.isalnum() or c in "+-.") for c in scheme
    ):
        raise ParseError(f"bad URI scheme in {text!r}")
    scheme = scheme.lower()
    if scheme not in ("sip", "sips"):
        return AbsoluteUri(scheme, text)
    _check_escapes(rest)
    hdrs: str | None = None
    if "?" in rest:
        rest, hdrs = rest.split("?", 1)
    user: str | None = None
    password: str | None = None
    if "@" in rest:
        userinfo, rest = rest.rsplit("@", 1)
        if ":" in userinfo:
            user, password = userinfo.split(":", 1)
        else:
            user = userinfo
        if not user:
            raise ParseError(f"empty user in {text!r}")
    hostport, sep, params_text = rest.partition(";")
    host, port = parse_host_port(hostport)
    params = parse_params(params_text) if sep else {}
    return SipUri(scheme, host, user, password, port, params, hdrs)


def unescape_user(user: str) -> str:
    """The user part with ``%HH`` escapes decoded (RFC 3261 §19.1.4 comparison)."""
    return unquote(user, errors="surrogateescape")


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


def parse_name_addr(value: str) -> NameAddr:
    """Parse a From/To/Contact/Route value (RFC 3261 §20.10).

    In the addr-spec form (no ``<>``) every ``;param`` belongs to the header, not the URI.
    """
    text = value.strip()
    if not text:
        raise ParseError("empty address")
    display: str | None = None
    if text.startswith('"'):
        i = 1
        chars: list[str] = []
        while True:
            if i >= len(text):
                raise ParseError("unterminated quoted display name")
            ch = text[i]
            if ch == "\\":
                if i + 1 >= len(text):
                    raise ParseError("dangling escape in display name")
                chars.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                break
            chars.append(ch)
            i += 1
        display = "".join(chars)
        text = text[i + 1 :].lstrip()
        if not text.startswith("<"):
            raise ParseError("quoted display name without <uri>")
    if "<" in text:
        before, _, after = text.partition("<")
        if display is None:
            token_display = before.strip()
            if token_display:
                if any(c in token_display for c in ',;"<>@:'):
                    raise ParseError(f"display name needs quotes: {token_display!r}")
                display = " ".join(token_display.split())
        elif before.strip():
            raise ParseError("text between display name and <uri>")
        uri_text, sep, tail = after.partition(">")
        if not sep:
            raise ParseError("missing '>'")
        uri = parse_uri(uri_text)
        tail = tail.strip()
        params = parse_params(tail) if tail else {}
        if tail and not tail.startswith(";"):
            raise ParseError(f"garbage after '>': {tail!r}")
        return NameAddr(uri, display, params)
    uri_text, sep, params_text = text.partition(";")
    uri = parse_uri(uri_text)
    params = parse_params(params_text) if sep else {}
    return NameAddr(uri, None, params)
