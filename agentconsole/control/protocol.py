"""JSON-RPC 2.0 over lines: one JSON object per ``\\n``-terminated UTF-8 line (sans-IO).

The wire contract of the control socket (README "Integration"), in the h11 style: bytes
in, typed values out, no sockets and no asyncio here.

* :class:`LineDecoder` cuts a byte stream into lines and reports a line longer than
  ``max_line`` once (the rest of it is skipped), so a client that never sends a newline
  costs bounded memory;
* :func:`decode_request` turns one line into a :class:`Request` or an :class:`Invalid`
  that says which error to answer: -32700 for bytes that are not JSON (not UTF-8, not
  JSON, NaN), -32600 for JSON that is not a request object (batches included: the
  contract is one object per line), -32602 for positional ``params``;
* :func:`decode_message` is the client's side: a line from the server as a
  :class:`Response`, :class:`ErrorResponse` or :class:`Notification`;
* :func:`encode` writes any of them back as one line.

A request without an ``id`` is a notification: it is executed and never answered, even
on failure (JSON-RPC 2.0 §4.1). Error codes: JSON-RPC's own (§5.1) and, where a phone
action failed, the SDK's (-205 too many calls, -209 invalid number, -211 unknown call id
...) from :class:`~agentconsole.errors.PhoneError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
#: The longest line accepted from a client (bytes, without the newline).
MAX_LINE = 64 * 1024

RequestId = int | str | None


class RpcError(Exception):
    """A method's failure as the client sees it: ``code``, ``message``, optional ``data``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


@dataclass(frozen=True)
class Request:
    """A call from a client; ``notification`` when it carried no id (no answer)."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)
    id: RequestId = None
    notification: bool = False


@dataclass(frozen=True)
class Invalid:
    """A line that is not a usable request: answer ``error`` to ``id`` (unless silent)."""

    code: int
    message: str
    id: RequestId = None
    silent: bool = False  # a broken notification with an id-less, well-formed shape


@dataclass(frozen=True)
class Response:
    id: RequestId
    result: Any


@dataclass(frozen=True)
class ErrorResponse:
    id: RequestId
    code: int
    message: str
    data: Any = None


@dataclass(frozen=True)
class Notification:
    """A message from the server nobody asked for: ``method`` "event" carries an event."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LineTooLong:
    """A line longer than the decoder's limit was skipped (answer -32600 once)."""

    length: int
    limit: int


class LineDecoder:
    """Splits received bytes into lines (without the newline); bounded memory."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self._skipping = False  # inside an over-long line, dropping bytes to its end
        self._skipped = 0

    def feed(self, data: bytes) -> list[bytes | LineTooLong]:
        out: list[bytes | LineTooLong] = []
        while data:
            cut = data.find(b"\n")
            chunk, data = (data, b"") if cut < 0 else (data[:cut], data[cut + 1:])
            if self._skipping:
                self._skipped += len(chunk)
            else:
                self._buffer += chunk
                if len(self._buffer) > self.max_line:
                    self._skipping, self._skipped = True, len(self._buffer)
                    self._buffer.clear()
            if cut < 0:
                break
            if self._skipping:
                out.append(LineTooLong(self._skipped, self.max_line))
                self._skipping, self._skipped = False, 0
            else:
                out.append(bytes(self._buffer))
                self._buffer.clear()
        return out

    def finish(self) -> list[bytes | LineTooLong]:
        """At end of stream: a last line without its newline still counts."""
        if self._skipping:
            self._skipping = False
            return [LineTooLong(self._skipped, self.max_line)]
        if self._buffer.strip():
            line = bytes(self._buffer)
            self._buffer.clear()
            return [line]
        return []


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(line: bytes) -> Any:
    return json.loads(line.decode("utf-8"), parse_constant=_no_constants)


def decode_request(line: bytes) -> Request | Invalid | None:
    """One client line as a request; None for a blank line (ignored)."""
    if not line.strip():
        return None
    try:
        data = _loads(line)
    except (UnicodeDecodeError, ValueError) as exc:
        return Invalid(PARSE_ERROR, f"parse error: {_short(exc)}")
    if isinstance(data, list):
        return Invalid(INVALID_REQUEST, "batches are not supported: send one request "
                                        "object per line")
    if not isinstance(data, dict):
        return Invalid(INVALID_REQUEST, "a request must be a JSON object")
    has_id = "id" in data
    request_id = data.get("id")
    if has_id and (isinstance(request_id, bool)
                   or not isinstance(request_id, int | str | type(None))):
        return Invalid(INVALID_REQUEST, "id must be a string, a number or null")
    if data.get("jsonrpc") != "2.0":
        return Invalid(INVALID_REQUEST, 'jsonrpc must be "2.0"', request_id)
    method = data.get("method")
    if not isinstance(method, str) or not method:
        return Invalid(INVALID_REQUEST, "method must be a non-empty string", request_id)
    params = data.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return Invalid(INVALID_PARAMS, "params must be an object (by name)", request_id,
                       silent=not has_id)
    return Request(method, params, request_id, notification=not has_id)


def decode_message(line: bytes) -> Response | ErrorResponse | Notification:
    """A server line as the client reads it; raises ValueError when it is none of them."""
    data = _loads(line)
    if not isinstance(data, dict) or data.get("jsonrpc") != "2.0":
        raise ValueError("not a JSON-RPC 2.0 object")
    if "method" in data:
        params = data.get("params") or {}
        return Notification(str(data["method"]), params if isinstance(params, dict) else {})
    if "error" in data:
        error = data["error"] if isinstance(data["error"], dict) else {}
        return ErrorResponse(data.get("id"), int(error.get("code", INTERNAL_ERROR)),
                             str(error.get("message", "")), error.get("data"))
    if "result" in data:
        return Response(data.get("id"), data["result"])
    raise ValueError("neither a result, an error nor a notification")


def to_json(message: Response | ErrorResponse | Notification | Request) -> dict[str, Any]:
    """The JSON object of a message (what :func:`encode` writes)."""
    if isinstance(message, Response):
        return {"jsonrpc": "2.0", "id": message.id, "result": message.result}
    if isinstance(message, ErrorResponse):
        error: dict[str, Any] = {"code": message.code, "message": message.message}
        if message.data is not None:
            error["data"] = message.data
        return {"jsonrpc": "2.0", "id": message.id, "error": error}
    if isinstance(message, Request):
        out: dict[str, Any] = {"jsonrpc": "2.0", "method": message.method}
        if message.params:
            out["params"] = message.params
        if not message.notification:
            out["id"] = message.id
        return out
    return {"jsonrpc": "2.0", "method": message.method, "params": message.params}


def encode(message: Response | ErrorResponse | Notification | Request) -> bytes:
    """One UTF-8 line, newline included; values JSON cannot hold become strings."""
    text = json.dumps(to_json(message), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False, default=str)
    return text.encode("utf-8") + b"\n"


def error_for(invalid: Invalid) -> ErrorResponse:
    return ErrorResponse(invalid.id, invalid.code, invalid.message)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."


__all__ = [
    "INTERNAL_ERROR", "INVALID_PARAMS", "INVALID_REQUEST", "MAX_LINE", "METHOD_NOT_FOUND",
    "PARSE_ERROR", "ErrorResponse", "Invalid", "LineDecoder", "LineTooLong", "Notification",
    "Request", "Response", "RpcError", "decode_message", "decode_request", "encode",
    "error_for", "to_json",
]
