"""Whole-message SIP parser and the request/response sanity checks of a UA.

:func:`parse_message` reads one datagram (or one message already framed by the stream
layer): start line, headers with folding undone, body framed by Content-Length
(RFC 3261 §7, §18.3, §20.14). It raises :class:`~agentconsole.sip.errors.ParseError`
and nothing else, whatever the bytes (RFC 4475). When the failure happens after the
header section was read, the error is a :class:`MessageParseError` whose ``partial``
message still lets the UA answer 400 if :func:`is_answerable` says a response can be
routed; otherwise the datagram is dropped.

Header values are decoded as UTF-8 with ``surrogateescape``, so octets that are not
UTF-8 survive and :meth:`~agentconsole.sip.message.Message.to_bytes` writes them back
unchanged; the body stays bytes (NUL allowed, RFC 4475 mpart01).

:func:`validate_request` / :func:`validate_response` apply RFC 3261 §8.1.3.3 and
§8.2 checks that need the typed header views (missing/duplicated mandatory headers,
CSeq method mismatch, bad version → 505).
"""

from __future__ import annotations

import re

from .errors import ParseError
from .headers import (
    WS,
    Via,
    is_digits,
    is_token,
    parse_max_forwards,
    parse_via,
    split_header_list,
)
from .message import Headers, Message, Request, Response
from .uri import parse_uri

__all__ = [
    "MessageParseError",
    "is_answerable",
    "lenient_top_via",
    "parse_message",
    "validate_request",
    "validate_response",
]

_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")
_FIELD_WS = b" \t"
_SIP_VERSION = re.compile(r"SIP/[0-9]{1,3}\.[0-9]{1,3}", re.IGNORECASE)
_STATUS_LINE = re.compile(
    r"(SIP/[0-9]{1,3}\.[0-9]{1,3})[ \t]+([0-9]+)(?:[ \t](.*))?", re.IGNORECASE | re.DOTALL
)
_WS_RUN = re.compile(r"[ \t]+")
SIP_2_0 = "SIP/2.0"


class MessageParseError(ParseError):
    """A :class:`ParseError` raised once the headers were read.

    ``partial`` is the message as far as it could be built (headers complete, body
    possibly truncated or empty), so the caller can answer a request with
    ``status`` when :func:`is_answerable` is true (RFC 4475 §3.1.2.2 clerr).
    """

    def __init__(
        self, message: str, status: int = 400, partial: Request | Response | None = None
    ) -> None:
        super().__init__(message, status)
        self.partial = partial


def parse_message(
    data: bytes, *, max_size: int = 65536, max_headers: int = 200, max_line: int = 8192
) -> Request | Response:
    """Parse one whole SIP message.

    Extra octets after a Content-Length-framed body are ignored (RFC 3261 §18.3,
    RFC 4475 dblreq); without Content-Length the body is the rest of the datagram.
    Oversize input gives status 513 (413 for a Content-Length beyond ``max_size``).
    """
    if len(data) > max_size:
        raise ParseError("message too large", 513)
    start = 0
    while start < len(data) and data[start] in b"\r\n":  # RFC 3261 §7.5 leading CRLFs
        start += 1
    blank = _BLANK_LINE.search(data, start)
    if blank is None:
        raise ParseError("no empty line after the header section")
    lines = _LINE_END.split(data[start : blank.start()])
    for line in lines:
        if len(line) > max_line:
            raise ParseError("line too long", 513)
        if b"\r" in line:
            raise ParseError("bare CR inside a line")
    first = lines[0].decode("utf-8", "surrogateescape")
    headers = Headers(_header_fields(lines[1:], max_headers))
    body, framing_error, framing_status = _frame_body(data, blank.end(), headers, max_size)
    if first[:4].upper() == "SIP/":
        message: Request | Response = _build_response(first, headers, body)
    else:
        message = _build_request(first, headers, body)
    if framing_error is not None:
        raise MessageParseError(framing_error, framing_status, message)
    return message


def _header_fields(lines: list[bytes], max_headers: int) -> list[tuple[str, str]]:
    """Turn raw header lines into (name, value) pairs, undoing folding (RFC 3261 §7.3.1)."""
    fields: list[tuple[bytes, list[bytes]]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not fields:
                raise ParseError("continuation line before the first header")
            piece = line.strip(_FIELD_WS)
            if piece:
                fields[-1][1].append(piece)
            continue
        name, colon, value = line.partition(b":")
        name = name.rstrip(_FIELD_WS)
        if not colon or not name:
            raise ParseError("header line without a name and ':'")
        fields.append((name, [value.strip(_FIELD_WS)]))
        if len(fields) > max_headers:
            raise ParseError("too many header fields", 513)
    out: list[tuple[str, str]] = []
    for raw_name, pieces in fields:
        text_name = raw_name.decode("ascii", "replace")
        if not is_token(text_name):
            raise ParseError("bad header name")
        value = b" ".join(p for p in pieces if p)
        out.append((text_name, value.decode("utf-8", "surrogateescape")))
    return out


def _frame_body(
    data: bytes, body_start: int, headers: Headers, max_size: int
) -> tuple[bytes, str | None, int]:
    """Return (body, error, status); the error, if any, is raised after the message is built."""
    rest = data[body_start:]
    values = headers.get_raw_all("Content-Length")
    if not values:
        return rest, None, 400
    lengths: set[int] = set()
    for value in values:
        text = value.strip(WS)
        if not is_digits(text):
            return b"", "bad Content-Length", 400  # RFC 4475 ncl: never use it as a count
        significant = text.lstrip("0") or "0"
        if len(significant) > len(str(max_size)) or int(significant) > max_size:
            return b"", "Content-Length too large", 413
        lengths.add(int(significant))
    if len(lengths) > 1:
        return b"", "conflicting Content-Length values", 400  # RFC 4475 mcl01
    length = lengths.pop()
    if len(rest) < length:
        return rest, "body shorter than Content-Length", 400  # RFC 4475 clerr
    return rest[:length], None, 400


def _build_request(line: str, headers: Headers, body: bytes) -> Request:
    parts = _WS_RUN.split(line.strip(WS))
    method = parts[0]
    if not is_token(method):
        raise ParseError("bad request method")
    # Liberal about runs of SP (RFC 4475 lwsstart, trws): the model re-emits single SPs.
    middle = " ".join(parts[1:-1])
    partial = Request(method, middle, headers, body)
    if len(parts) != 3:
        raise MessageParseError("bad request line", 400, partial)
    uri, version = parts[1], parts[2]
    if not _SIP_VERSION.fullmatch(version):
        raise MessageParseError("bad SIP version in request line", 400, partial)
    partial.version = version.upper()
    try:
        parse_uri(uri)
    except ParseError as exc:
        raise MessageParseError(f"bad Request-URI: {exc}", 400, partial) from exc
    return partial


def _build_response(line: str, headers: Headers, body: bytes) -> Response:
    m = _STATUS_LINE.fullmatch(line)
    if m is None:
        raise ParseError("bad status line")
    version, code, reason = m.group(1), m.group(2), m.group(3) or ""
    if len(code) != 3 or not 100 <= int(code) <= 699:  # RFC 4475 bigcode
        raise ParseError("status code out of range")
    if any((c < " " and c != "\t") or c == "\x7f" for c in reason):
        raise ParseError("control character in reason phrase")
    return Response(int(code), reason.strip(WS), headers, body, version.upper())


# ----- semantic checks ---------------------------------------------------------------

_REQUEST_SINGLETONS = ("Call-ID", "From", "To", "CSeq", "Max-Forwards")
_RESPONSE_SINGLETONS = ("Call-ID", "From", "To", "CSeq")


def _check_version(msg: Message) -> None:
    if msg.version.upper() != SIP_2_0:
        raise ParseError(f"unsupported version {msg.version}", 505)


def _check_singletons(msg: Message, names: tuple[str, ...]) -> None:
    for name in names:
        count = len(msg.headers.get_raw_all(name))
        if count == 0:
            raise ParseError(f"missing {name}")
        if count > 1:
            raise ParseError(f"more than one {name}")  # RFC 4475 multi01


def _check_content_length(msg: Message) -> None:
    values = {v.strip(WS) for v in msg.headers.get_raw_all("Content-Length")}
    if any(not is_digits(v) for v in values):
        raise ParseError("bad Content-Length")
    if len({v.lstrip("0") for v in values}) > 1:
        raise ParseError("conflicting Content-Length values")


def _checked_vias(msg: Message) -> list[Via]:
    vias = msg.vias
    if not vias:
        raise ParseError("missing Via")
    if vias[0].protocol != SIP_2_0:
        raise ParseError(f"unsupported Via version {vias[0].protocol}", 505)
    return vias


def _check_common(msg: Message, singletons: tuple[str, ...]) -> None:
    _check_version(msg)
    _checked_vias(msg)
    _check_singletons(msg, singletons)
    _check_content_length(msg)
    call_id = msg.call_id
    if not call_id or any(c.isspace() or c < " " for c in call_id):
        raise ParseError("bad Call-ID")
    msg.from_  # noqa: B018 - parsing is the check
    msg.to  # noqa: B018
    msg.cseq  # noqa: B018
    msg.contacts  # noqa: B018


def validate_request(req: Request) -> None:
    """Raise :class:`ParseError` (400, or 505 for a version) if ``req`` must be refused.

    RFC 3261 §8.1.1 mandatory headers each exactly once, parseable Via/From/To/CSeq/
    Contact, Max-Forwards in 0..255, CSeq number below 2**32 and CSeq method equal to
    the request method (RFC 4475 mismatch01/02: 400, not 501).
    """
    _check_common(req, _REQUEST_SINGLETONS)
    if not is_token(req.method):
        raise ParseError("bad method")
    parse_uri(req.uri)
    cseq = req.cseq
    if cseq.method != req.method:
        raise ParseError("CSeq method does not match the request method")
    value = req.headers.get("Max-Forwards")
    if value is not None:
        parse_max_forwards(value)


def validate_response(resp: Response) -> None:
    """Raise :class:`ParseError` if a UA must discard ``resp``.

    Besides the syntax checks, a response reaching a UAC carries exactly one Via
    (RFC 3261 §8.1.3.3; RFC 4475 bcast), and its CSeq must fit 32 bits (scalarlg).
    """
    _check_common(resp, _RESPONSE_SINGLETONS)
    if not 100 <= resp.status <= 699:
        raise ParseError("status code out of range")
    if len(resp.vias) != 1:
        raise ParseError("a response to a UA must carry exactly one Via")
    resp.cseq  # noqa: B018 - the number must fit 32 bits (RFC 4475 scalarlg)


def lenient_top_via(msg: Message) -> Via | None:
    """The top Via's transport and sent-by, even if its parameters are malformed.

    A 400 to RFC 4475 badinv01 (``Via: ...;;,;,,``) can still be routed to the
    sent-by address (RFC 3261 §18.2.2); ``None`` when not even that is readable.
    """
    raw = msg.headers.get("Via")
    if raw is None:
        return None
    try:
        items = split_header_list(raw)
    except ParseError:
        items = [raw]
    if not items:
        return None
    top = items[0]
    for candidate in (top, top.split(";", 1)[0]):
        try:
            return parse_via(candidate)
        except ParseError:
            continue
    return None


def is_answerable(req: Request) -> bool:
    """True when a response to ``req`` can be built and routed (RFC 3261 §8.2.6.2).

    A response copies Via, From, To, Call-ID and CSeq verbatim, so they only need to
    be present; the top Via must give a sent-by. When this is false the UA drops
    the request silently instead of answering 400 (RFC 4475 insuf).
    """
    for name in ("Call-ID", "From", "To", "CSeq"):
        value = req.headers.get(name)
        if value is None or not value.strip(WS):
            return False
    return lenient_top_via(req) is not None
