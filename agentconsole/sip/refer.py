"""REFER, Replaces and sipfrag values: building and parsing, sans-IO.

* RFC 3515 (REFER): ``Refer-To`` names the target; the implicit subscription reports
  progress in NOTIFYs with ``Event: refer`` and a ``message/sipfrag`` body holding the
  status line of the triggered request's latest response (§2.4.5).
* RFC 3891 (Replaces): the header names a dialog by Call-ID, ``to-tag`` and
  ``from-tag``; the recipient compares ``to-tag`` with *its own* tag and ``from-tag``
  with the *remote* one (§3). So whoever builds it from its side of that dialog writes
  ``to-tag`` = the dialog's remote tag and ``from-tag`` = its local tag, whatever the
  call's direction was.
* RFC 3261 §19.1.1: a header carried inside a URI (``?Replaces=...``) is
  %-escaped; ``;``, ``=``, ``@`` and ``%`` are not allowed unescaped in a header value.
* RFC 4488 (``Refer-Sub: false``) and RFC 6665 (``Subscription-State``).

Nothing here raises on peer input except :class:`~.errors.ParseError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from .errors import ParseError
from .headers import WS, parse_params, split_header_list
from .message import Headers
from .uri import AbsoluteUri, SipUri, parse_name_addr, parse_uri

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
#: RFC 3261 §25.1: hvalue = *( hnv-unreserved / unreserved / escaped ).
_HVALUE_SAFE = _ALNUM | frozenset("-_.!~*'()[]/?:+$")
#: RFC 3891 §6.1 callid / tag characters (``word`` and ``token``), minus ';'.
_WORD_BAD = frozenset(" \t\r\n;,")

SIPFRAG_TYPE = "message/sipfrag"


@dataclass(frozen=True)
class Replaces:
    """A dialog named for replacement (RFC 3891 §6.1), as written in the header."""

    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False

    def __str__(self) -> str:
        text = f"{self.call_id};to-tag={self.to_tag};from-tag={self.from_tag}"
        return text + (";early-only" if self.early_only else "")

    @classmethod
    def for_dialog(cls, call_id: str, local_tag: str, remote_tag: str, *,
                   early_only: bool = False) -> Replaces:
        """Replaces for a dialog we are in, for the *other* party of it to match (§3)."""
        return cls(call_id, to_tag=remote_tag, from_tag=local_tag, early_only=early_only)


@dataclass(frozen=True)
class ReferTarget:
    """A parsed Refer-To: ``uri`` without its header part, ``replaces`` unescaped."""

    uri: str
    replaces: Replaces | None
    raw: str


def escape_hvalue(text: str) -> str:
    """%-escape a header value for a URI's ``?name=value`` part (RFC 3261 §19.1.1)."""
    out: list[str] = []
    for char in text:
        if char in _HVALUE_SAFE:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def build_refer_to(target: str, replaces: Replaces | None = None) -> str:
    """The Refer-To value: always in angle brackets (a URI with headers or params must
    be, RFC 3261 §20.10), with ``?Replaces=`` escaped when given."""
    uri = target.strip()
    if uri.startswith("<") and uri.endswith(">"):
        uri = uri[1:-1]
    if replaces is not None:
        sep = "&" if "?" in uri else "?"
        uri = f"{uri}{sep}Replaces={escape_hvalue(str(replaces))}"
    return f"<{uri}>"


def parse_replaces(value: str) -> Replaces:
    """Parse a Replaces header value; both tags are required (RFC 3891 §6.1)."""
    text = value.strip(WS)
    call_id, semi, rest = text.partition(";")
    call_id = call_id.strip(WS)
    if not call_id or any(c in _WORD_BAD or c < " " for c in call_id):
        raise ParseError("bad Call-ID in Replaces")
    params = parse_params(rest) if semi else {}
    to_tag = params.get("to-tag")
    from_tag = params.get("from-tag")
    if not to_tag or not from_tag:
        raise ParseError("Replaces needs to-tag and from-tag")
    return Replaces(call_id, to_tag, from_tag, "early-only" in params)


def parse_refer_to(value: str) -> ReferTarget:
    """Parse one Refer-To value (RFC 3515 §2.1); a Replaces header embedded in a SIP URI
    is unescaped and parsed. Other embedded headers are dropped on purpose: copying
    arbitrary headers (Call-Info answer-after, Alert-Info...) into our INVITE would let
    the referrer steer our call."""
    uri = parse_name_addr(value).uri
    if isinstance(uri, AbsoluteUri):
        if uri.scheme != "tel":
            raise ParseError(f"unsupported Refer-To scheme {uri.scheme!r}")
        return ReferTarget(str(uri), None, value)
    replaces = None
    for name, header_value in _uri_headers(uri):
        if name == "replaces":
            if replaces is not None:
                raise ParseError("more than one Replaces in Refer-To")
            replaces = parse_replaces(header_value)
    bare = SipUri(uri.scheme, uri.host, uri.user, uri.password, uri.port, uri.params, None)
    return ReferTarget(str(bare), replaces, value)


def _uri_headers(uri: SipUri) -> list[tuple[str, str]]:
    if not uri.headers:
        return []
    out: list[tuple[str, str]] = []
    for item in uri.headers.split("&"):
        name, _, raw = item.partition("=")
        try:
            out.append((unquote(name).strip().lower(), unquote(raw, errors="strict")))
        except UnicodeDecodeError as exc:
            raise ParseError("bad escape in a Refer-To header") from exc
    return out


def refer_to_values(headers: Headers) -> list[str]:
    """Every Refer-To value, split at top-level commas (RFC 3515 §2.4.1 wants one)."""
    out: list[str] = []
    for raw in headers.get_raw_all("Refer-To"):
        out.extend(split_header_list(raw))
    return out


def replaces_values(headers: Headers) -> list[str]:
    """Every Replaces value of an INVITE (RFC 3891 §3: more than one → 400)."""
    out: list[str] = []
    for raw in headers.get_raw_all("Replaces"):
        out.extend(split_header_list(raw))
    return out


# ----- sipfrag (RFC 3420) --------------------------------------------------------------------
def sipfrag(status: int, reason: str) -> bytes:
    """A sipfrag body with just a status line, what RFC 3515 §2.4.5 requires at least."""
    clean = "".join(c for c in reason if c.isprintable()) or "Unknown"
    return f"SIP/2.0 {status} {clean}\r\n".encode()


def parse_sipfrag(body: bytes) -> tuple[int, str] | None:
    """The status and reason of a sipfrag's status line, or None when it has none."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    line = text.lstrip("\r\n").split("\n", 1)[0].rstrip("\r")
    parts = line.split(" ", 2)
    if len(parts) < 2 or parts[0].upper() != "SIP/2.0":
        return None
    code = parts[1]
    if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699:
        return None
    reason = parts[2].strip() if len(parts) == 3 else ""
    return int(code), "".join(c for c in reason if c.isprintable())


# ----- Event / Subscription-State (RFC 6665 §8.2) -----------------------------------------
def parse_event(value: str | None) -> tuple[str, str | None] | None:
    """``refer;id=7`` → ("refer", "7"); None when absent or malformed."""
    if value is None:
        return None
    package, semi, rest = value.strip(WS).partition(";")
    package = package.strip(WS).lower()
    if not package:
        return None
    try:
        params = parse_params(rest) if semi else {}
    except ParseError:
        return None
    return package, params.get("id")


def parse_subscription_state(value: str | None) -> tuple[str, dict[str, str | None]]:
    """``terminated;reason=noresource`` → ("terminated", {...}); ("", {}) when absent
    or unreadable (a NOTIFY must carry it, but we answer it anyway)."""
    if value is None:
        return "", {}
    state, semi, rest = value.strip(WS).partition(";")
    try:
        params = parse_params(rest) if semi else {}
    except ParseError:
        params = {}
    return state.strip(WS).lower(), params


def refer_sub_false(headers: Headers) -> bool:
    """RFC 4488: ``Refer-Sub: false`` asks for no implicit subscription."""
    value = headers.get("Refer-Sub")
    return value is not None and value.strip(WS).split(";")[0].strip().lower() == "false"


def uri_host_of(text: str) -> str | None:
    """The host of a SIP URI or name-addr (for trust checks), None when unreadable."""
    try:
        uri = parse_name_addr(text).uri if "<" in text else parse_uri(text)
    except ParseError:
        return None
    return uri.host.lower() if isinstance(uri, SipUri) else None


__all__ = [
    "ReferTarget",
    "Replaces",
    "SIPFRAG_TYPE",
    "build_refer_to",
    "escape_hvalue",
    "parse_event",
    "parse_refer_to",
    "parse_replaces",
    "parse_sipfrag",
    "parse_subscription_state",
    "refer_sub_false",
    "refer_to_values",
    "replaces_values",
    "sipfrag",
    "uri_host_of",
]
