"""Typed views of the headers the core acts on: Via, CSeq, generic parameters.

Every function raises :class:`~agentconsole.sip.errors.ParseError` on bad input and
nothing else (RFC 3261 §25.1 grammar; integers are range-checked, RFC 4475 §3.1.2.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ParseError

MAX_CSEQ = 2**31 - 1  # RFC 3261 §8.1.1.5: CSeq MUST be less than 2**31
MAX_UINT32 = 2**32 - 1


def split_header_list(value: str) -> list[str]:
    """Split a comma-separated header value at commas outside quotes and ``<...>``."""
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
            item = "".join(buf).strip()
            if item:
                out.append(item)
            buf = []
            continue
        buf.append(ch)
    if in_quote:
        raise ParseError("unterminated quoted string")
    item = "".join(buf).strip()
    if item:
        out.append(item)
    return out


def parse_params(text: str) -> dict[str, str | None]:
    """Parse ``;name=value;flag`` parameters (leading ``;`` optional). Names lower-cased."""
    params: dict[str, str | None] = {}
    for raw in _split_outside_quotes(text, ";"):
        part = raw.strip()
        if not part:
            raise ParseError("empty parameter")
        if "=" in part:
            name, value = part.split("=", 1)
            name = name.strip()
            value = value.strip()
            if not name or not _is_token(name):
                raise ParseError(f"bad parameter name {name!r}")
            params[name.lower()] = value
        else:
            if not _is_token(part):
                raise ParseError(f"bad parameter {part!r}")
            params[part.lower()] = None
    return params


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
    if parts and parts[0].strip() == "" and text.lstrip().startswith(sep):
        parts = parts[1:]
    return parts


_TOKEN_EXTRA = set("-.!%*_+`'~")


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
    parts = value.split()
    if len(parts) != 2:
        raise ParseError(f"bad CSeq {value!r}")
    num, method = parts
    if not num.isdigit() or len(num) > 10:
        raise ParseError(f"bad CSeq number {num!r}")
    number = int(num)
    if number > MAX_UINT32:
        raise ParseError("CSeq number out of range")
    if not _is_token(method):
        raise ParseError(f"bad CSeq method {method!r}")
    return CSeq(number, method)


@dataclass(frozen=True)
class Via:
    """One Via value: ``SIP/2.0/<transport> host[:port];params`` (RFC 3261 §20.42)."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        value = self.params.get("rport")
        if value is None or not value.isdigit():
            return None
        port = int(value)
        return port if 0 < port < 65536 else None

    @property
    def sent_by(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"SIP/2.0/{self.transport} {self.sent_by}{format_params(self.params)}"


def parse_via(value: str) -> Via:
    """Parse one Via value (no commas)."""
    text = value.strip()
    head, sep, rest = text.partition(";")
    proto, _, sent_by = head.strip().partition(" ")
    pieces = [p.strip() for p in proto.split("/")]
    if len(pieces) != 3 or not all(pieces):
        # tolerate LWS around the slashes: "SIP / 2.0 / UDP host"
        compact = "".join(head.split())
        pieces = compact.split("/")
        if len(pieces) < 3:
            raise ParseError(f"bad Via {value!r}")
        # the third piece then holds transport+host glued; split them the slow way
        raise ParseError(f"bad Via {value!r}")
    name, version, transport = pieces
    if name.upper() != "SIP" or version != "2.0":
        raise ParseError(f"bad Via protocol {proto!r}", status=505 if name.upper() == "SIP" else 400)
    if not _is_token(transport):
        raise ParseError(f"bad Via transport {transport!r}")
    host, port = parse_host_port(sent_by.strip())
    params = parse_params(rest) if sep else {}
    return Via(transport.upper(), host, port, params)


def parse_via_list(value: str) -> list[Via]:
    return [parse_via(item) for item in split_header_list(value)]


def parse_host_port(text: str) -> tuple[str, int | None]:
    """Parse ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; hosts are lower-cased."""
    text = text.strip()
    if not text:
        raise ParseError("empty host")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ParseError(f"bad IPv6 reference {text!r}")
        host = text[1:end]
        rest = text[end + 1 :]
        if not host or not all(c in "0123456789abcdefABCDEF:." for c in host):
            raise ParseError(f"bad IPv6 reference {text!r}")
        if rest == "":
            return host.lower(), None
        if not rest.startswith(":"):
            raise ParseError(f"bad host:port {text!r}")
        return host.lower(), _parse_port(rest[1:])
    if text.count(":") > 1:
        raise ParseError(f"IPv6 address without brackets {text!r}")
    host, sep, port = text.partition(":")
    if not host or any(c.isspace() for c in host):
        raise ParseError(f"bad host {text!r}")
    if not all(c.isascii() and (c.isalnum() or c in "-._") for c in host):
        raise ParseError(f"bad host {text!r}")
    return host.lower(), _parse_port(port) if sep else None


def _parse_port(text: str) -> int:
    if not text.isdigit() or len(text) > 5:
        raise ParseError(f"bad port {text!r}")
    port = int(text)
    if not 0 < port < 65536:
        raise ParseError(f"port out of range {text!r}")
    return port
