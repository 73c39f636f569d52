"""Sans-IO framing of SIP messages on a byte stream (TCP, TLS).

On a stream there are no datagram boundaries, so a message ends where its
Content-Length says: RFC 3261 §18.3 makes that header mandatory on stream transports
and says a message without it must make the connection be closed. Between messages
a peer may send RFC 5626 §3.5.1 keep-alives: a double CRLF is a *ping* (we answer it
with a single CRLF), a lone CRLF is a *pong*.

The framer only finds message boundaries; the bytes of each message are handed on
unparsed to :mod:`agentconsole.sip.message`. Any error here is fatal for the
connection (the stream position is lost), so after a :class:`ParseError` the framer
refuses further input and the caller must close the flow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ParseError

__all__ = [
    "FrameEvent",
    "FramedMessage",
    "KeepAlivePing",
    "KeepAlivePong",
    "StreamFramer",
]


@dataclass(frozen=True)
class FramedMessage:
    """One complete SIP message: the header block and exactly Content-Length body bytes."""

    data: bytes


@dataclass(frozen=True)
class KeepAlivePing:
    """A CRLFCRLF between messages (RFC 5626 §3.5.1); the caller answers with a CRLF."""


@dataclass(frozen=True)
class KeepAlivePong:
    """A lone CRLF between messages: the answer to our own ping (RFC 5626 §3.5.1)."""


FrameEvent = FramedMessage | KeepAlivePing | KeepAlivePong

# The end of the header block: an empty line. CRLF is the standard; bare LF line ends
# are tolerated as RFC 3261 §7.5 asks of robust implementations.
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_DIGITS = re.compile(rb"[0-9]+")
_CONTENT_LENGTH_NAMES = (b"content-length", b"l")
_MESSAGE_TOO_LARGE = 513


class StreamFramer:
    """Cut a byte stream into SIP messages and keep-alives.

    Feed it whatever the socket returned, in any chunking; it returns the events that
    became complete. A lone CRLF is reported once the next byte shows it is not the
    start of a CRLFCRLF ping, so the result never depends on how the input was split.
    (A transport's liveness check should therefore count raw bytes, not pong events.)
    """

    def __init__(self, *, max_message_size: int = 65536, max_header_size: int = 16384) -> None:
        self._max_message = max_message_size
        self._max_header = max_header_size
        self._buf = bytearray()
        # When a header block has been found: its length including the empty line,
        # and the body length it announced.
        self._header_len: int | None = None
        self._body_len = 0
        # Where to resume the search for the end of the header block.
        self._scan_from = 0
        self._error: ParseError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as an event."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[FrameEvent]:
        """Add ``data`` and return every event completed by it, in stream order.

        Raises :class:`ParseError` (with ``.status``) when the stream cannot be framed;
        the connection must then be closed, and any further call raises again.
        """
        if self._error is not None:
            raise ParseError(f"stream framing already failed: {self._error}", self._error.status)
        self._buf += data
        events: list[FrameEvent] = []
        try:
            while True:
                event = self._next_event()
                if event is None:
                    break
                events.append(event)
        except ParseError as exc:
            self._error = exc
            self._buf.clear()
            raise
        return events

    # -- internals -------------------------------------------------------------------

    def _next_event(self) -> FrameEvent | None:
        if self._header_len is None:
            keepalive = self._take_keepalive()
            if keepalive is not None:
                return keepalive
            if not self._buf or self._buf[0] in b"\r\n":
                return None  # waiting for more bytes to tell a ping from a pong
            if not self._find_header_end():
                return None
        assert self._header_len is not None
        total = self._header_len + self._body_len
        if len(self._buf) < total:
            return None
        message = bytes(self._buf[:total])
        del self._buf[:total]
        self._header_len = None
        self._body_len = 0
        self._scan_from = 0
        return FramedMessage(message)

    def _take_keepalive(self) -> KeepAlivePing | KeepAlivePong | None:
        """Consume CRLF keep-alives at a message boundary (RFC 5626 §3.5.1).

        Returns None when the buffer starts with a message or is still ambiguous
        (``\\r\\n`` or ``\\r\\n\\r`` could be the first bytes of a ping).
        """
        buf = self._buf
        while buf:
            if buf.startswith(b"\r\n\r\n"):
                del buf[:4]
                return KeepAlivePing()
            if buf.startswith(b"\r\n"):
                if len(buf) == 2 or (len(buf) == 3 and buf[2] == 0x0D):
                    return None
                del buf[:2]
                return KeepAlivePong()
            if buf[0] == 0x0A:
                del buf[:1]  # a stray bare LF before a start line: ignore (RFC 3261 §7.5)
                continue
            if buf[0] == 0x0D:
                if len(buf) == 1:
                    return None
                del buf[:1]  # a CR not followed by LF carries no meaning here
                continue
            return None
        return None

    def _find_header_end(self) -> bool:
        match = _HEADER_END.search(self._buf, self._scan_from)
        if match is None:
            if len(self._buf) > self._max_header:
                raise ParseError(
                    f"header block exceeds {self._max_header} bytes", _MESSAGE_TOO_LARGE
                )
            # The terminator is at most 4 bytes; resume just before the current end.
            self._scan_from = max(0, len(self._buf) - 3)
            return False
        header_len = match.end()
        if header_len > self._max_header:
            raise ParseError(f"header block exceeds {self._max_header} bytes", _MESSAGE_TOO_LARGE)
        body_len = _content_length(bytes(self._buf[: match.start()]))
        if header_len + body_len > self._max_message:
            raise ParseError(
                f"message of {header_len + body_len} bytes exceeds {self._max_message}",
                _MESSAGE_TOO_LARGE,
            )
        self._header_len = header_len
        self._body_len = body_len
        return True


def _content_length(block: bytes) -> int:
    """Return the Content-Length announced by a header block (without the empty line).

    Stream framing cannot guess a body size, so a missing, malformed or contradictory
    Content-Length is fatal (RFC 3261 §18.3, §20.14; RFC 4475 §3.1.2.3 and §3.3.9).
    """
    found: int | None = None
    for name, value in _header_fields(block):
        if name.lower() not in _CONTENT_LENGTH_NAMES:
            continue
        if _DIGITS.fullmatch(value) is None:
            shown = value[:20].decode("latin-1")
            raise ParseError(f"invalid Content-Length {shown!r}")
        if len(value) > 12:  # beyond any message size; also keeps int() cheap
            raise ParseError("Content-Length is absurdly large", _MESSAGE_TOO_LARGE)
        number = int(value)
        if found is not None and found != number:
            raise ParseError(f"conflicting Content-Length values {found} and {number}")
        found = number
    if found is None:
        raise ParseError("Content-Length is required on a stream transport (RFC 3261 §18.3)")
    return found


def _header_fields(block: bytes) -> list[tuple[bytes, bytes]]:
    """Split a header block into (name, value) pairs, unfolding continuation lines.

    The start line is skipped; a line starting with SP/HT continues the previous
    value (RFC 3261 §7.3.1). Names and values are stripped of surrounding LWS.
    """
    fields: list[tuple[bytes, bytes]] = []
    for raw in block.split(b"\n")[1:]:
        line = raw.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if fields:
                name, value = fields[-1]
                fields[-1] = (name, (value + b" " + line.strip()).strip())
            continue
        name, sep, value = line.partition(b":")
        if sep:
            fields.append((name.strip(), value.strip()))
    return fields
