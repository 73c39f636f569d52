"""SIP over TCP and TLS: one client flow to the configured server.

Input is cut into messages by :class:`~agentconsole.sip.framing.StreamFramer`
(Content-Length framing, RFC 3261 §18.3). Keep-alive follows RFC 5626 §4.4.1: after
``keepalive_s`` without receiving anything we send a CRLFCRLF ping; if nothing at all
arrives within ``keepalive_timeout_s`` the flow is declared dead and dropped (any byte
counts, because a message proves the flow as well as a pong does). A CRLFCRLF ping
from the peer is answered with a CRLF pong.

Reconnection and the state reports are in :class:`~.base.FlowTransport`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl

from ..sip.errors import ParseError
from ..sip.framing import FramedMessage, KeepAlivePing, StreamFramer
from .base import (
    Address,
    FlowTransport,
    TransportError,
    TransportSettings,
    TransportState,
    describe_os_error,
)
from .connect import connect_errors, connection_options
from .tls import describe_tls_error

logger = logging.getLogger(__name__)

_READ_SIZE = 65536
_PING = b"\r\n\r\n"
_PONG = b"\r\n"
_CLOSE_WAIT_S = 1.0


class StreamTransport(FlowTransport):
    """TCP (``ssl_context`` None) or TLS client transport to ``server``.

    For TLS the certificate is checked against ``server_hostname`` (default: the
    server host, which may be an IP address), and that name is sent as SNI.
    """

    def __init__(
        self,
        server: Address,
        settings: TransportSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(settings, rng=rng)
        self.kind = "tls" if ssl_context is not None else "tcp"
        self._server = server
        self._ssl = ssl_context
        self._server_hostname = server_hostname or server[0]
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._framer: StreamFramer | None = None

    @property
    def target(self) -> str:
        return f"{self.kind} {self._server[0]}:{self._server[1]}"

    def send(self, data: bytes, dest: Address | None = None) -> None:
        """Write ``data`` on the current flow (``dest`` is ignored: there is one peer)."""
        writer = self._writer
        if self.state is not TransportState.CONNECTED or writer is None or writer.is_closing():
            raise TransportError(f"{self.kind} transport is not connected ({self.state.value})")
        writer.write(data)

    async def _open_flow(self) -> None:
        host, port = self._server
        timeout = self.settings.connect_timeout_s
        kwargs = connection_options(self.settings, self._ssl, self._server_hostname)
        kwargs["limit"] = _READ_SIZE
        if self._ssl is not None:
            kwargs["ssl_handshake_timeout"] = timeout
        with connect_errors(self.target, timeout, self._server_hostname):
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, **kwargs), timeout
            )
        sockname = writer.get_extra_info("sockname")
        peername = writer.get_extra_info("peername")
        self._reader, self._writer = reader, writer
        self._framer = StreamFramer(max_message_size=self.settings.max_message_size)
        self.local_address = (str(sockname[0]), int(sockname[1]))
        self.remote_address = (str(peername[0]), int(peername[1])) if peername else self._server
        self.via_host = self.local_address[0]

    async def _serve_flow(self) -> str:
        reader, writer, framer = self._reader, self._writer, self._framer
        assert reader is not None and writer is not None and framer is not None
        peer = self.remote_address or self._server
        awaiting_pong = False
        while True:
            try:
                data = await self._read(reader, awaiting_pong)
            except TimeoutError:
                if awaiting_pong:
                    return (
                        "keep-alive timeout: nothing received within "
                        f"{self.settings.keepalive_timeout_s:g} s of a CRLF ping"
                    )
                writer.write(_PING)
                awaiting_pong = True
                continue
            except ssl.SSLError as exc:
                return describe_tls_error(exc)
            except OSError as exc:
                return describe_os_error(exc)
            if not data:
                return "connection closed by peer"
            awaiting_pong = False
            try:
                events = framer.feed(data)
            except ParseError as exc:
                return f"framing error: {exc}"
            for event in events:
                if isinstance(event, FramedMessage):
                    self._deliver(event.data, peer)
                elif isinstance(event, KeepAlivePing):
                    writer.write(_PONG)

    async def _read(self, reader: asyncio.StreamReader, awaiting_pong: bool) -> bytes:
        """Read what is there, or raise TimeoutError at the next keep-alive step."""
        if self.settings.keepalive_s <= 0:
            return await reader.read(_READ_SIZE)
        timeout = self.settings.keepalive_timeout_s if awaiting_pong else self.settings.keepalive_s
        return await asyncio.wait_for(reader.read(_READ_SIZE), timeout)

    async def _close_flow(self, *, graceful: bool) -> None:
        writer = self._writer
        self._reader = self._writer = self._framer = None
        if writer is None:
            return
        if not graceful:
            writer.transport.abort()
            return
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), _CLOSE_WAIT_S)
        except (TimeoutError, OSError, ssl.SSLError):
            writer.transport.abort()
