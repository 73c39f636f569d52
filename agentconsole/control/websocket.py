"""The optional WebSocket endpoint: the control socket's JSON-RPC for browser CRMs.

Off by default (``control.websocket.enabled``). When on, it listens on
``ws://127.0.0.1:PORT`` (``host`` may widen that, with a config warning) and each
WebSocket text message is one JSON-RPC object, exactly as a line on the Unix socket;
responses and events come back one per message.

A browser lets any page open a WebSocket to localhost, so two checks run before the
handshake completes (RFC 6455 §10.2 leaves origin policy to the server):

* ``Origin``: a browser always sends it; it must be one of ``control.websocket.origins``
  (an empty list admits no browser page). A client without an Origin (a script on this
  machine, which could use the Unix socket anyway) is not a browser and passes on to:
* the token (``token`` or ``token_env``): ``?token=...`` in the URL (browsers cannot
  set headers on a WebSocket) or ``Authorization: Bearer ...``, compared in constant
  time. Without it: 401. The token never reaches a log: the server's protocol logger
  is held at INFO, where request lines are not written.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..config_integration import WebSocketConfig
from .bridge import EventBridge
from .methods import Methods
from .peer import DEFAULT_QUEUE_SIZE, ControlPeer
from .protocol import MAX_LINE
from .server import ControlServerError

logger = logging.getLogger(__name__)
_protocol_logger = logging.getLogger(__name__ + ".protocol")
_protocol_logger.setLevel(logging.INFO)  # request lines (with ?token=) stay unlogged


class WebSocketEndpoint:
    """Serves ``methods`` and ``bridge`` events over WebSocket (see the module doc)."""

    def __init__(self, config: WebSocketConfig, methods: Methods, bridge: EventBridge, *,
                 queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.config = config
        self.methods = methods
        self.bridge = bridge
        self.queue_size = queue_size
        self.origins = frozenset(config.origins)
        self._token = config.token.reveal().encode() if config.token is not None else b""
        self._server: Any = None
        self._count = 0

    @property
    def port(self) -> int | None:
        """The port listened on (useful with ``port: 0``), None when stopped."""
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        if not self._token:
            raise ControlServerError("control.websocket needs a token")
        from websockets.asyncio.server import serve

        try:
            self._server = await serve(
                self._handle, self.config.host, self.config.port,
                process_request=self._check, max_size=MAX_LINE, compression=None,
                logger=_protocol_logger)
        except OSError as exc:
            raise ControlServerError(
                f"cannot listen on ws://{self.config.host}:{self.config.port}: "
                f"{exc.strerror or exc} (control.websocket.port)") from exc
        logger.info("control WebSocket listening on ws://%s:%s", self.config.host, self.port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    # ----- the handshake checks -----------------------------------------------------------
    def _check(self, connection: Any, request: Any) -> Any:
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.origins:
            logger.warning("control WebSocket: refused a page from %s (not in "
                           "control.websocket.origins)", origin)
            return connection.respond(HTTPStatus.FORBIDDEN, "origin not allowed\n")
        if not self._token_ok(request):
            logger.warning("control WebSocket: refused a client without the right token")
            return connection.respond(HTTPStatus.UNAUTHORIZED, "token required\n")
        return None

    def _token_ok(self, request: Any) -> bool:
        given = ""
        auth = request.headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        else:
            given = (parse_qs(urlsplit(request.path).query).get("token") or [""])[0]
        return bool(given) and hmac.compare_digest(given.encode(), self._token)

    # ----- one client ----------------------------------------------------------------------
    async def _handle(self, connection: Any) -> None:
        self._count += 1
        peer = ControlPeer(self.methods, self.bridge, name=f"ws#{self._count}",
                           queue_size=self.queue_size)
        peer.on_overflow = connection.transport.abort
        sender = asyncio.get_running_loop().create_task(_send_loop(peer, connection))
        try:
            async for message in connection:
                data = message.encode("utf-8") if isinstance(message, str) else message
                for line in data.split(b"\n"):
                    await peer.handle(line)
                if peer.closed:
                    break
        except Exception as exc:  # noqa: BLE001 - a dropped client is normal
            logger.debug("control WebSocket client %s: %s", peer.name, exc)
        finally:
            peer.close()
            sender.cancel()


async def _send_loop(peer: ControlPeer, connection: Any) -> None:
    try:
        while True:
            data = await peer.outbox.get()
            if not data:
                return
            await connection.send(data.decode("utf-8").rstrip("\n"))
    except Exception:  # noqa: BLE001 - the connection went away
        peer.close()


__all__ = ["WebSocketEndpoint"]
