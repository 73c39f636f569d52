"""SIP over WebSocket (RFC 7118): WS and WSS client flows.

The handshake offers the ``sip`` subprotocol and the flow is refused unless the server
selects it (RFC 7118 §4.1). Each WebSocket message carries exactly one SIP message
(§5): we send text frames when the bytes are valid UTF-8 (what browsers' SIP stacks
do) and binary frames otherwise, and accept both. Via and Contact use a random
``<token>.invalid`` host, since the client cannot be reached at its socket address
(RFC 7118 §5.2 and the examples of §8).

Keep-alive (RFC 7118 §6 leaves the mechanism open) is a WebSocket ping every
``keepalive_s``; without a pong within ``keepalive_timeout_s`` the TCP connection is
aborted at once. (The library's own keep-alive would first wait for a closing
handshake that a dead peer never completes.) A CRLFCRLF sent as a WebSocket message is
answered with a CRLF anyway, and whitespace-only messages are ignored. Reconnection is
in :class:`~.base.FlowTransport`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import ssl
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

from .base import (
    Address,
    FlowTransport,
    TransportError,
    TransportSettings,
    TransportState,
)
from .connect import connect_errors, connection_options

logger = logging.getLogger(__name__)

_SIP = Subprotocol("sip")
_CLOSE_TIMEOUT_S = 2.0


def random_invalid_host() -> str:
    """A host name nobody resolves, for Via/Contact of a WebSocket client."""
    return f"{secrets.token_hex(6)}.invalid"


class WsTransport(FlowTransport):
    """A WebSocket flow to ``url`` (``ws://`` or ``wss://``) with subprotocol ``sip``."""

    def __init__(
        self,
        url: str,
        settings: TransportSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(settings, rng=rng)
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
        if parts.scheme == "wss" and ssl_context is None:
            raise ValueError("a wss:// URL needs an ssl context")
        if parts.scheme == "ws" and ssl_context is not None:
            raise ValueError("an ssl context was given for a plain ws:// URL")
        self.kind = parts.scheme
        self.url = url
        default_port = 443 if parts.scheme == "wss" else 80
        self._server: Address = (parts.hostname, parts.port or default_port)
        self._ssl = ssl_context
        self._server_hostname = server_hostname or parts.hostname
        self._conn: ClientConnection | None = None
        self._outgoing: asyncio.Queue[bytes] | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self._dead_reason: str | None = None
        # Stable for the life of the transport, so Contact does not change on reconnect.
        self.via_host = random_invalid_host()

    @property
    def target(self) -> str:
        return self.url

    @property
    def via_port(self) -> int | None:
        """No port in Via/Contact: the ``.invalid`` host is not reachable anyway."""
        return None

    def send(self, data: bytes, dest: Address | None = None) -> None:
        """Queue one SIP message as one WebSocket message (``dest`` is ignored)."""
        queue = self._outgoing
        if self.state is not TransportState.CONNECTED or queue is None:
            raise TransportError(f"{self.kind} transport is not connected ({self.state.value})")
        queue.put_nowait(data)

    async def _open_flow(self) -> None:
        conn = await self._handshake()
        if conn.subprotocol != _SIP:
            await conn.close(1002, "sip subprotocol required")
            raise TransportError(
                f"{self.url}: the server did not accept the 'sip' WebSocket subprotocol "
                "(RFC 7118 §4.1)"
            )
        self._conn = conn
        self.local_address = _address(conn.local_address)
        self.remote_address = _address(conn.remote_address)
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._outgoing = queue
        loop = asyncio.get_running_loop()
        self._writer_task = loop.create_task(
            self._write_loop(conn, queue), name=f"{self.kind}-writer"
        )
        self._dead_reason = None
        if self.settings.keepalive_s > 0:
            self._keepalive_task = loop.create_task(
                self._keepalive_loop(conn), name=f"{self.kind}-keepalive"
            )

    async def _handshake(self) -> ClientConnection:
        timeout = self.settings.connect_timeout_s
        try:
            with connect_errors(self.url, timeout, self._server_hostname):
                return await connect(
                    self.url,
                    subprotocols=[_SIP],
                    compression=None,
                    proxy=None,
                    open_timeout=timeout,
                    ping_interval=None,
                    ping_timeout=None,
                    close_timeout=_CLOSE_TIMEOUT_S,
                    max_size=self.settings.max_message_size,
                    **connection_options(self.settings, self._ssl, self._server_hostname),
                )
        except (InvalidHandshake, InvalidURI) as exc:
            raise TransportError(f"WebSocket handshake with {self.url} failed: {exc}") from exc

    async def _serve_flow(self) -> str:
        conn = self._conn
        assert conn is not None
        try:
            while True:
                data = await conn.recv(decode=False)
                if not data.strip():
                    if data == b"\r\n\r\n":
                        self.send(b"\r\n")
                    continue
                self._deliver(data, self._server)
        except ConnectionClosed as exc:
            return self._dead_reason or f"WebSocket closed: {exc}"

    async def _keepalive_loop(self, conn: ClientConnection) -> None:
        """Ping every ``keepalive_s``; abort the flow when a pong is late."""
        timeout = self.settings.keepalive_timeout_s
        try:
            while True:
                await asyncio.sleep(self.settings.keepalive_s)
                pong = await conn.ping()
                try:
                    await asyncio.wait_for(pong, timeout)
                except TimeoutError:
                    self._dead_reason = (
                        f"keep-alive timeout: no WebSocket pong within {timeout:g} s"
                    )
                    logger.warning("%s: %s", self.url, self._dead_reason)
                    conn.transport.abort()
                    return
        except ConnectionClosed:
            return

    @staticmethod
    async def _write_loop(conn: ClientConnection, queue: asyncio.Queue[bytes]) -> None:
        """Send queued messages in order; stop quietly when the flow closes."""
        try:
            while True:
                data = await queue.get()
                try:
                    data.decode("utf-8")
                    text = True
                except UnicodeDecodeError:
                    text = False
                await conn.send(data, text=text)
        except ConnectionClosed:
            return
        except Exception:
            logger.exception("WebSocket writer failed; the flow will be dropped")
            conn.transport.abort()

    async def _close_flow(self, *, graceful: bool) -> None:
        conn, tasks = self._conn, (self._writer_task, self._keepalive_task)
        self._conn = self._outgoing = self._writer_task = self._keepalive_task = None
        for task in tasks:
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                await asyncio.wait([task])
        if conn is None:
            return
        if graceful:
            await conn.close()
        else:
            conn.transport.abort()


def _address(sockaddr: Any) -> Address:
    return (str(sockaddr[0]), int(sockaddr[1]))
