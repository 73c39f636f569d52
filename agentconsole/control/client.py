"""A small blocking client of the control socket (``agentconsole ctl`` and ``dial``).

Plain :mod:`socket`, no event loop: a command-line client sends a request and waits for
its answer, or subscribes and prints events until interrupted. Events that arrive while
it waits for an answer are kept for :meth:`ControlClient.events`.
"""

from __future__ import annotations

import itertools
import socket
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .protocol import (
    ErrorResponse,
    LineDecoder,
    LineTooLong,
    Notification,
    Request,
    Response,
    decode_message,
    encode,
)

#: A server line may carry a whole status snapshot; the client allows more than a request.
CLIENT_MAX_LINE = 16 * 1024 * 1024


class ControlUnavailable(Exception):
    """No agentconsole answers on the socket (none running, or a stale socket)."""


class RemoteError(Exception):
    """The server answered a request with an error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"error {code}: {message}")
        self.code = code
        self.message = message
        self.data = data


class ControlClient:
    """One connection to the control socket at ``path``."""

    def __init__(self, path: Path | str, *, timeout: float | None = 60.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._decoder = LineDecoder(CLIENT_MAX_LINE)
        self._ids = itertools.count(1)
        self._pending_events: deque[dict[str, Any]] = deque()
        self._lines: deque[bytes] = deque()

    def __enter__(self) -> ControlClient:
        self.connect()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise ControlUnavailable(
                f"no agentconsole is running (nothing answers on {self.path}); start the "
                "console or `agentconsole serve`") from exc
        except PermissionError as exc:
            sock.close()
            raise ControlUnavailable(f"cannot connect to {self.path}: permission denied "
                                     "(another user's socket?)") from exc
        except OSError as exc:
            sock.close()
            raise ControlUnavailable(f"cannot connect to {self.path}: "
                                     f"{exc.strerror or exc}") from exc
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Send one request; return its result or raise :class:`RemoteError`."""
        request_id = next(self._ids)
        self._send(Request(method, params or {}, request_id))
        while True:
            message = self._next()
            if isinstance(message, Notification):
                self._keep(message)
                continue
            if message.id != request_id:
                continue
            if isinstance(message, ErrorResponse):
                raise RemoteError(message.code, message.message, message.data)
            return message.result

    def subscribe(self, names: list[str] | None = None) -> list[str]:
        """Ask for events (``names``, or all); returns the names subscribed to."""
        result = self.call("subscribe", {"events": names} if names else {})
        return list(result.get("events", [])) if isinstance(result, dict) else []

    def events(self) -> Iterator[dict[str, Any]]:
        """Each event's params as it comes (after :meth:`subscribe`), forever."""
        assert self._sock is not None
        self._sock.settimeout(None)  # events may be minutes apart
        while True:
            while self._pending_events:
                yield self._pending_events.popleft()
            message = self._next()
            if isinstance(message, Notification):
                self._keep(message)

    # ----- plumbing -------------------------------------------------------------------------
    def _keep(self, message: Notification) -> None:
        if message.method == "event":
            self._pending_events.append(message.params)

    def _send(self, request: Request) -> None:
        if self._sock is None:
            self.connect()
        assert self._sock is not None
        self._sock.sendall(encode(request))

    def _next(self) -> Response | ErrorResponse | Notification:
        assert self._sock is not None
        while not self._lines:
            data = self._sock.recv(65536)
            if not data:
                raise ControlUnavailable("the agentconsole closed the connection")
            for line in self._decoder.feed(data):
                if not isinstance(line, LineTooLong) and line.strip():
                    self._lines.append(line)
        return decode_message(self._lines.popleft())


__all__ = ["ControlClient", "ControlUnavailable", "RemoteError"]
