"""One connected control client, whatever carries it (Unix socket or WebSocket).

A :class:`ControlPeer` takes the client's lines one at a time (requests from one
connection run in order, each answered before the next starts; open more connections
for parallel work), owns the client's subscription, and queues everything it sends —
responses and events alike — in one bounded outbox, in order. The transport drains the
outbox; a client that stops reading fills it, and on the first message that does not
fit the peer is closed (:attr:`ControlPeer.on_overflow`): the phone never waits for a
slow reader and a dead one costs at most ``queue_size`` messages of memory.

``subscribe {events?}`` (all events, or the names listed) and ``unsubscribe`` are
handled here; every other method goes to :class:`~.methods.Methods`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from .bridge import EVENT_NAMES, EventBridge
from .methods import Methods
from .params import Params
from .protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    ErrorResponse,
    Invalid,
    LineTooLong,
    Notification,
    Request,
    Response,
    RpcError,
    decode_request,
    encode,
    error_for,
)

logger = logging.getLogger(__name__)

#: Messages a client may have waiting before it is dropped for not reading.
DEFAULT_QUEUE_SIZE = 1000


class ControlPeer:
    """Requests in, responses and events out, for one client named ``name`` (logs)."""

    def __init__(self, methods: Methods, bridge: EventBridge, *, name: str,
                 queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.methods = methods
        self.bridge = bridge
        self.name = name
        self.outbox: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)
        self.events: frozenset[str] | None = None  # None: not subscribed
        self.closed = False
        #: Called once when the outbox overflowed: the transport drops the client.
        self.on_overflow: Callable[[], None] | None = None
        bridge.add_listener(self._on_event)

    @property
    def subscribed(self) -> bool:
        return self.events is not None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.bridge.remove_listener(self._on_event)

    def finish(self) -> None:
        """Nothing more will come in: send what is queued, then the transport closes
        (an empty message in the outbox marks the end)."""
        self.close()
        try:
            self.outbox.put_nowait(b"")
        except asyncio.QueueFull:
            if self.on_overflow is not None:
                self.on_overflow()

    # ----- in ---------------------------------------------------------------------------
    async def handle(self, line: bytes | LineTooLong) -> None:
        """One line from the client: run it and queue the answer (if any)."""
        if self.closed:
            return
        if isinstance(line, LineTooLong):
            self.send(ErrorResponse(None, INVALID_REQUEST,
                                    f"line too long ({line.length} bytes); the limit is "
                                    f"{line.limit} bytes"))
            return
        request = decode_request(line)
        if request is None:
            return
        if isinstance(request, Invalid):
            if not request.silent:
                self.send(error_for(request))
            return
        reply = await self._run(request)
        if not request.notification:
            self.send(reply)

    async def _run(self, request: Request) -> Response | ErrorResponse:
        try:
            if request.method in ("subscribe", "unsubscribe"):
                return Response(request.id, self._subscription(request))
            result = await self.methods.call(request.method, request.params)
        except RpcError as exc:
            return ErrorResponse(request.id, exc.code, exc.message, exc.data)
        except Exception as exc:  # noqa: BLE001 - a bug answers -32603, the phone serves on
            logger.exception("control method %s failed", request.method)
            return ErrorResponse(request.id, INTERNAL_ERROR,
                                 f"internal error: {type(exc).__name__}")
        return Response(request.id, result)

    def _subscription(self, request: Request) -> dict[str, Any]:
        if request.method == "unsubscribe":
            Params("unsubscribe", request.params, ())
            self.events = None
            return {"events": []}
        params = Params("subscribe", request.params, ("events",))
        names = params.names("events", EVENT_NAMES)
        self.events = frozenset(EVENT_NAMES if names is None else names)
        return {"events": sorted(self.events)}

    # ----- out --------------------------------------------------------------------------
    def _on_event(self, event: dict[str, Any]) -> None:
        if self.events is not None and event.get("event") in self.events:
            self._queue(self.bridge.line(event))

    def send(self, message: Response | ErrorResponse | Notification) -> None:
        """Queue one message; a full outbox drops the client (it stopped reading)."""
        self._queue(encode(message))

    def _queue(self, line: bytes) -> None:
        if self.closed:
            return
        try:
            self.outbox.put_nowait(line)
        except asyncio.QueueFull:
            logger.warning("control client %s dropped: it stopped reading (%d messages "
                           "waiting)", self.name, self.outbox.qsize())
            self.close()
            if self.on_overflow is not None:
                self.on_overflow()


__all__ = ["DEFAULT_QUEUE_SIZE", "ControlPeer"]
