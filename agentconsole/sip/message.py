"""SIP message model: :class:`Request`, :class:`Response` and their :class:`Headers`.

The model keeps header values as the raw strings that were received (after unfolding),
so that a message round-trips byte-for-byte where the RFC allows it; the typed views
(:attr:`Message.vias`, :attr:`Message.cseq`, :attr:`Message.from_` ...) parse on access.
Header names are stored in their canonical long form (RFC 3261 §7.3.3 compact forms are
expanded by :func:`canonical_name`).

Reprs are safe to log: a digest ``response`` with its nonce is enough for an offline
dictionary attack on the password (RFC 7616 §5.13), so :class:`Headers` masks credential
headers, and :class:`Request` / :class:`Response` show only their start line, Call-ID and
CSeq (with any ``user:password@`` in them masked too, RFC 3261 §19.1.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .errors import ParseError
from .headers import CSeq, Via, parse_cseq, parse_via_list, split_header_list
from .redact import MASK, redact_text
from .uri import NameAddr, parse_name_addr

#: RFC 3261 §7.3.3 and later RFCs: compact form -> long form.
COMPACT_FORMS: dict[str, str] = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
    "x": "Session-Expires",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "y": "Identity",
}

#: Canonical spelling of well-known headers, keyed by lower-case name.
_CANONICAL: dict[str, str] = {
    name.lower(): name
    for name in (
        "Accept",
        "Accept-Contact",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Allow-Events",
        "Authentication-Info",
        "Authorization",
        "Call-ID",
        "Call-Info",
        "Contact",
        "Content-Disposition",
        "Content-Encoding",
        "Content-Language",
        "Content-Length",
        "Content-Type",
        "CSeq",
        "Date",
        "Diversion",
        "Error-Info",
        "Event",
        "Expires",
        "From",
        "Identity",
        "In-Reply-To",
        "Max-Forwards",
        "Min-Expires",
        "Min-SE",
        "MIME-Version",
        "Organization",
        "P-Asserted-Identity",
        "P-Preferred-Identity",
        "Path",
        "Priority",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "RAck",
        "Reason",
        "Record-Route",
        "Refer-Sub",
        "Refer-To",
        "Referred-By",
        "Reject-Contact",
        "Replaces",
        "Reply-To",
        "Request-Disposition",
        "Require",
        "Retry-After",
        "Route",
        "RSeq",
        "Server",
        "Service-Route",
        "Session-Expires",
        "SIP-ETag",
        "SIP-If-Match",
        "Subject",
        "Subscription-State",
        "Supported",
        "Timestamp",
        "To",
        "Unsupported",
        "User-Agent",
        "Via",
        "Warning",
        "WWW-Authenticate",
        "Flow-Timer",
    )
}

#: Headers whose value is a comma-separated list (RFC 3261 §7.3.1), so several
#: occurrences are equivalent to one occurrence joined by commas. Authorization-like
#: headers are *not* in this set: their commas separate parameters.
LIST_HEADERS: frozenset[str] = frozenset(
    {
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Allow-Events",
        "Call-Info",
        "Contact",
        "Content-Encoding",
        "Content-Language",
        "Diversion",
        "Error-Info",
        "In-Reply-To",
        "P-Asserted-Identity",
        "Path",
        "Proxy-Require",
        "Record-Route",
        "Reply-To",
        "Require",
        "Route",
        "Service-Route",
        "Supported",
        "Unsupported",
        "Via",
        "Warning",
    }
)


def canonical_name(name: str) -> str:
    """Return the canonical long spelling of a header name (compact forms expanded)."""
    stripped = name.strip()
    lower = stripped.lower()
    if len(lower) == 1 and lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower]
    return _CANONICAL.get(lower, stripped)


_CREDENTIAL_NAME = re.compile(r"authori[sz]ation|passw(or)?d|secret|token|credential", re.I)
_AUTH_INFO = frozenset({"authentication-info", "proxy-authentication-info"})
_REPR_MAX = 80  # characters of one value shown in a message repr


def is_credential_header(name: str) -> bool:
    """Whether ``name``'s value may be a credential and so must never be shown.

    Authorization / Proxy-Authorization carry a digest response (RFC 3261 §22.4); the
    Authentication-Info pair carries the server's rspauth (RFC 7616 §3.5); and a
    header named like a password, secret, token or credential is taken at its word.
    """
    lower = canonical_name(name).lower()
    return lower in _AUTH_INFO or _CREDENTIAL_NAME.search(lower) is not None


def _shown(text: str) -> str:
    """``text`` fit for a one-line repr: credentials masked, control characters escaped,
    and cut short (after masking, so a cut can never expose half a secret)."""
    safe = redact_text(text)
    safe = "".join(c if c.isprintable() else repr(c)[1:-1] for c in safe)
    return safe if len(safe) <= _REPR_MAX else safe[: _REPR_MAX - 3] + "..."


class Headers:
    """An ordered multi-map of SIP headers with case-insensitive, compact-aware lookup."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = [(canonical_name(n), v) for n, v in items]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = canonical_name(name).lower()
        return any(n.lower() == key for n, _ in self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    def __repr__(self) -> str:
        # Names and ordinary values help debugging; credential values never appear.
        shown = [(n, MASK if is_credential_header(n) else redact_text(v)) for n, v in self._items]
        return f"Headers({shown!r})"

    def copy(self) -> Headers:
        new = Headers()
        new._items = list(self._items)
        return new

    def get(self, name: str, default: str | None = None) -> str | None:
        """First raw value of ``name`` (or ``default``)."""
        key = canonical_name(name).lower()
        for n, v in self._items:
            if n.lower() == key:
                return v
        return default

    def get_raw_all(self, name: str) -> list[str]:
        """Every occurrence of ``name``, unsplit."""
        key = canonical_name(name).lower()
        return [v for n, v in self._items if n.lower() == key]

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``; list headers are split at top-level commas."""
        raw = self.get_raw_all(name)
        if canonical_name(name) not in LIST_HEADERS:
            return raw
        out: list[str] = []
        for value in raw:
            out.extend(split_header_list(value))
        return out

    def add(self, name: str, value: str) -> None:
        """Append a header after any existing ones."""
        self._items.append((canonical_name(name), value))

    def prepend(self, name: str, value: str) -> None:
        """Insert a header before every other header (used for Via, RFC 3261 §8.1.1.7)."""
        self._items.insert(0, (canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every occurrence of ``name`` by one header, keeping the first position."""
        cname = canonical_name(name)
        key = cname.lower()
        for i, (n, _) in enumerate(self._items):
            if n.lower() == key:
                self._items[i] = (cname, value)
                self._items = [
                    item
                    for j, item in enumerate(self._items)
                    if j <= i or item[0].lower() != key
                ]
                return
        self._items.append((cname, value))

    def remove(self, name: str) -> None:
        key = canonical_name(name).lower()
        self._items = [(n, v) for n, v in self._items if n.lower() != key]


@dataclass(repr=False)
class Message:
    """Common part of requests and responses."""

    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = "SIP/2.0"

    # ----- typed views -------------------------------------------------------------
    @property
    def call_id(self) -> str:
        value = self.headers.get("Call-ID")
        if value is None:
            raise ParseError("missing Call-ID")
        return value.strip()

    @property
    def cseq(self) -> CSeq:
        value = self.headers.get("CSeq")
        if value is None:
            raise ParseError("missing CSeq")
        return parse_cseq(value)

    @property
    def vias(self) -> list[Via]:
        out: list[Via] = []
        for value in self.headers.get_raw_all("Via"):
            out.extend(parse_via_list(value))
        return out

    @property
    def top_via(self) -> Via:
        vias = self.vias
        if not vias:
            raise ParseError("missing Via")
        return vias[0]

    @property
    def from_(self) -> NameAddr:
        value = self.headers.get("From")
        if value is None:
            raise ParseError("missing From")
        return parse_name_addr(value)

    @property
    def to(self) -> NameAddr:
        value = self.headers.get("To")
        if value is None:
            raise ParseError("missing To")
        return parse_name_addr(value)

    @property
    def contacts(self) -> list[NameAddr]:
        return [parse_name_addr(v) for v in self.headers.get_all("Contact") if v.strip() != "*"]

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("Content-Type")
        return value.split(";", 1)[0].strip().lower() if value else None

    # ----- serialization ---------------------------------------------------------
    def start_line(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _repr_start(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def __repr__(self) -> str:
        """``<Request INVITE sip:bob@example.com call-id=... cseq=1 INVITE>``.

        Only the start line, Call-ID and CSeq: the generated dataclass repr printed every
        header, Authorization values included, into any log line holding a message.
        """
        parts = [type(self).__name__, self._repr_start()]
        for label, name in (("call-id", "Call-ID"), ("cseq", "CSeq")):
            value = self.headers.get(name)
            if value is not None:
                parts.append(f"{label}={_shown(value.strip())}")
        return "<" + " ".join(parts) + ">"

    def to_bytes(self) -> bytes:
        """Serialize; Content-Length is always written and always equals the body length."""
        lines = [self.start_line()]
        for name, value in self.headers:
            if name == "Content-Length":
                continue
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(self.body)}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8", "surrogateescape") + self.body


@dataclass(repr=False)
class Request(Message):
    method: str = ""
    uri: str = ""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        version: str = "SIP/2.0",
    ) -> None:
        self.method = method
        self.uri = uri
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or ())
        self.body = body
        self.version = version

    def start_line(self) -> str:
        return f"{self.method} {self.uri} {self.version}"

    def _repr_start(self) -> str:
        return f"{_shown(self.method)} {_shown(self.uri)}"


@dataclass(repr=False)
class Response(Message):
    status: int = 0
    reason: str = ""

    def __init__(
        self,
        status: int,
        reason: str = "",
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        version: str = "SIP/2.0",
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or ())
        self.body = body
        self.version = version

    def start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"

    def _repr_start(self) -> str:
        return f"{self.status} {_shown(self.reason)}".rstrip()

    @property
    def is_provisional(self) -> bool:
        return 100 <= self.status < 200

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def is_final(self) -> bool:
        return self.status >= 200


#: Reason phrases for responses the core builds itself (RFC 3261 §21 and extensions).
REASONS: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}


def make_response(
    request: Request, status: int, reason: str | None = None, to_tag: str | None = None
) -> Response:
    """Build a response to ``request`` as RFC 3261 §8.2.6.2 says.

    Via, From, Call-ID and CSeq are copied; To is copied and gets ``to_tag`` when it
    has none and a tag is given (a 100 Trying never gets one).
    """
    headers = Headers()
    for via in request.headers.get_raw_all("Via"):
        headers.add("Via", via)
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = request.headers.get(name)
        if value is not None:
            if name == "To" and to_tag and status != 100 and ";tag=" not in value.lower():
                value = f"{value};tag={to_tag}"
            headers.add(name, value)
    if status == 100:
        ts = request.headers.get("Timestamp")
        if ts is not None:
            headers.add("Timestamp", ts)
    return Response(status, reason if reason is not None else REASONS.get(status, ""), headers)
