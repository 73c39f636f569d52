"""Typed views of the headers the core acts on: Via, CSeq, Max-Forwards, generic parameters.

Every function raises :class:`~agentconsole.sip.errors.ParseError` on bad input and
nothing else (RFC 3261 §25.1 grammar). Integers are range-checked before conversion
(RFC 4475 §3.1.2.4/§3.1.2.5) and only ASCII digits count as digits: ``str.isdigit``
also accepts characters such as ``"²"`` that ``int()`` then refuses.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from .errors import ParseError

MAX_CSEQ = 2**31 - 1  # RFC 3261 §8.1.1.5: a UAC MUST choose a CSeq below 2**31
MAX_UINT32 = 2**32 - 1  # RFC 3261 §8.1.1.5: the value MUST fit in 32 bits
MAX_FORWARDS = 255  # RFC 4475 §3.1.2.4: larger values are out of range

#: Linear white space as the SIP grammar knows it (SP / HTAB); folding is undone earlier.
WS = " \t"


def is_digits(text: str) -> bool:
    """True when ``text`` is one or more ASCII digits."""
    return bool(text) and text.isascii() and text.isdigit()


def parse_uint(text: str, limit: int, what: str) -> int:
    """Parse a decimal integer in ``0..limit``; leading zeros are allowed (RFC 4475 wsinv)."""
    digits = text.strip(WS)
    if not is_digits(digits):
        raise ParseError(f"bad {what} {text!r}")
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(limit)):
        raise ParseError(f"{what} out of range")
    value = int(significant)
    if value > limit:
        raise ParseError(f"{what} out of range")
    return value


def split_header_list(value: str, *, strict: bool = False) -> list[str]:
    """Split a comma-separated header value at commas outside quotes and ``<...>``.

    Empty elements are skipped unless ``strict`` is set, in which case they are an
    error (RFC 4475 §3.1.2.1: ``Via: ...;;,;,,`` is invalid).
    """
    out: list[str] = []
    buf: list[str] = []
    in_quote = False
    in_angle = False
    escape = False
    for ch in value:
        if escape:
            buf.append(ch)
            escape = False
            continue
        if in_quote:
            if ch == "\\":
                escape = True
            elif ch == '"':
                in_quote = False
            buf.append(ch)
            continue
        if ch == '"':
            in_quote = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            _push_item(out, buf, strict)
            buf = []
            continue
        buf.append(ch)
    if in_quote:
        raise ParseError("unterminated quoted string")
    _push_item(out, buf, strict)
    return out


def _push_item(out: list[str], buf: list[str], strict: bool) -> None:
    item = "".join(buf).strip(WS)
    if item:
        out.append(item)
    elif strict:
        raise ParseError("empty element in header list")


_PARAM_VALUE_BAD = frozenset(' \t"<>,\\')


def parse_params(text: str) -> dict[str, str | None]:
    """Parse ``;name=value;flag`` parameters (leading ``;`` optional). Names lower-cased.

    A value is a token, a host (``[v6]`` allowed, RFC 5118 §4.5) or a quoted string;
    an empty parameter (``;;``) or an empty value (``tag=``) is an error.
    """
    params: dict[str, str | None] = {}
    for raw in _split_outside_quotes(text, ";"):
        part = raw.strip(WS)
        if not part:
            raise ParseError("empty parameter")
        name, sep, value = part.partition("=")
        name = name.strip(WS)
        if not _is_token(name):
            raise ParseError(f"bad parameter name {name!r}")
        if not sep:
            params[name.lower()] = None
            continue
        value = value.strip(WS)
        if not value:
            raise ParseError(f"empty value for parameter {name!r}")
        if value.startswith('"'):
            _check_quoted(value)
        elif any(c in _PARAM_VALUE_BAD or c < " " for c in value):
            raise ParseError(f"bad value for parameter {name!r}")
        params[name.lower()] = value
    return params


def _check_quoted(value: str) -> None:
    """``value`` must be exactly one quoted string; escapes are bounds-checked."""
    i = 1
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            if i != len(value) - 1:
                raise ParseError("text after quoted parameter value")
            return
        i += 1
    raise ParseError("unterminated quoted parameter value")


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    in_quote = False
    escape = False
    for ch in text:
        if escape:
            buf.append(ch)
            escape = False
            continue
        if ch == "\\" and in_quote:
            escape = True
            buf.append(ch)
            continue
        if ch == '"':
            in_quote = not in_quote
        if ch == sep and not in_quote:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    if in_quote:
        raise ParseError("unterminated quoted string")
    parts.append("".join(buf))
    if parts and parts[0].strip(WS) == "" and text.lstrip(WS).startswith(sep):
        parts = parts[1:]
    return parts


_TOKEN_EXTRA = frozenset("-.!%*_+`'~")


def _is_token(text: str) -> bool:
    return bool(text) and all(c.isascii() and (c.isalnum() or c in _TOKEN_EXTRA) for c in text)


def is_token(text: str) -> bool:
    """True when ``text`` is an RFC 3261 ``token``."""
    return _is_token(text)


@dataclass(frozen=True)
class CSeq:
    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(value: str) -> CSeq:
    """``CSeq: 1*DIGIT LWS Method`` (RFC 3261 §20.16); the number must fit 32 bits."""
    parts = re.split(r"[ \t]+", value.strip(WS))
    if len(parts) != 2:
        raise ParseError(f"bad CSeq {value!r}")
    num, method = parts
    number = parse_uint(num, MAX_UINT32, "CSeq number")
    if not _is_token(method):
        raise ParseError(f"bad CSeq method {method!r}")
    return CSeq(number, method)


def parse_max_forwards(value: str) -> int:
    """``Max-Forwards: 1*DIGIT`` limited to 0..255 (RFC 3261 §20.22, RFC 4475 §3.1.2.4)."""
    return parse_uint(value, MAX_FORWARDS, "Max-Forwards")


@dataclass(frozen=True)
class Via:
    """One Via value: ``SIP/2.0/<transport> host[:port];params`` (RFC 3261 §20.42).

    ``protocol`` keeps the name/version so a request from ``SIP/7.0`` can still be
    answered with 505 (RFC 4475 §3.1.2.16) instead of being dropped as garbage.
    """

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        """The ``received`` address without IPv6 brackets (RFC 5118 §4.5 allows both)."""
        value = self.params.get("received")
        if value is not None and value.startswith("[") and value.endswith("]"):
            return value[1:-1]
        return value

    @property
    def rport(self) -> int | None:
        value = self.params.get("rport")
        if value is None or not is_digits(value) or len(value) > 5:
            return None
        port = int(value)
        return port if 0 < port < 65536 else None

    @property
    def sent_by(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{format_params(self.params)}"


_VIA_RE = re.compile(
    r"[ \t]*([^ \t/;]+)[ \t]*/[ \t]*([^ \t/;]+)[ \t]*/[ \t]*([^ \t/;]+)[ \t]+([^;]+?)[ \t]*(;.*)?",
    re.DOTALL,
)
_VERSION_RE = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}")


def parse_via(value: str) -> Via:
    """Parse one Via value (no commas); LWS around ``/`` and ``:`` is allowed (RFC 4475 wsinv)."""
    m = _VIA_RE.fullmatch(value)
    if m is None:
        raise ParseError(f"bad Via {value!r}")
    name, version, transport, sent_by, rest = m.groups()
    if name.upper() != "SIP" or not _VERSION_RE.fullmatch(version):
        raise ParseError(f"bad Via protocol {name}/{version}")
    if not _is_token(transport):
        raise ParseError(f"bad Via transport {transport!r}")
    host, port = parse_host_port(re.sub(r"[ \t]*:[ \t]*", ":", sent_by))
    params = parse_params(rest) if rest else {}
    return Via(transport.upper(), host, port, params, f"SIP/{version}")


def parse_via_list(value: str) -> list[Via]:
    """Every Via in one header value; an empty list element is an error (RFC 4475 badinv01)."""
    return [parse_via(item) for item in split_header_list(value, strict=True)]


_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")


def parse_host_port(text: str) -> tuple[str, int | None]:
    """Parse ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; hosts are lower-cased.

    An IPv6 address needs brackets (RFC 5118 §4.2); ``[2001:db8::10:5070]`` is an
    address, not a port (§4.3). The extra colon of RFC 5118 §4.10 is tolerated.
    """
    text = text.strip(WS)
    if not text:
        raise ParseError("empty host")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ParseError(f"bad IPv6 reference {text!r}")
        host = text[1:end]
        _check_ipv6(host)
        rest = text[end + 1 :]
        if rest == "":
            return host.lower(), None
        if not rest.startswith(":"):
            raise ParseError(f"bad host:port {text!r}")
        return host.lower(), _parse_port(rest[1:])
    if text.count(":") > 1:
        raise ParseError(f"IPv6 address without brackets {text!r}")
    host, sep, port = text.partition(":")
    if not host or not all(c in _HOST_CHARS for c in host):
        raise ParseError(f"bad host {text!r}")
    return host.lower(), _parse_port(port) if sep else None


def _check_ipv6(host: str) -> None:
    if len(host) > 64 or not all(c in "0123456789abcdefABCDEF:." for c in host):
        raise ParseError(f"bad IPv6 reference {host!r}")
    for candidate in (host, host.replace(":::", "::", 1)):
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        return
    raise ParseError(f"bad IPv6 address {host!r}")


def _parse_port(text: str) -> int:
    if not is_digits(text) or len(text) > 5:
        raise ParseError(f"bad port {text!r}")
    port = int(text)
    if not 0 < port < 65536:
        raise ParseError(f"port out of range {text!r}")
    return port
