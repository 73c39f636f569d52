"""SIP over UDP: one datagram socket, one message per datagram (RFC 3261 §18.1/§18.2).

Each datagram is handed whole to ``on_message``; the parser frames it. Datagrams that
hold only whitespace (CRLF keep-alives, RFC 5626 §4.4.1 mentions them for UDP too) are
dropped here. UDP has no connection, so the transport is CONNECTED once bound.

When bound to the wildcard address, Via and Contact still need a reachable IP, so we
ask the kernel which source address it would use towards the server (a connected
throwaway UDP socket sends nothing) and advertise that.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from .base import Address, Transport, TransportError, TransportSettings, TransportState

logger = logging.getLogger(__name__)

_WILDCARDS = ("0.0.0.0", "::", "")


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: UdpTransport) -> None:
        self._owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self._owner._on_datagram(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable …) arrive here; a transaction timer covers them.
        logger.debug("udp socket error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner._on_lost(exc)


class UdpTransport(Transport):
    """A bound UDP socket; ``send`` goes to ``dest`` (or the configured server)."""

    kind = "udp"
    reliable = False

    def __init__(self, settings: TransportSettings, server: Address | None = None) -> None:
        super().__init__(settings)
        self._server = server
        self._resolved_server: Address | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._closing = False

    async def start(self) -> None:
        if self._closing:
            raise TransportError("udp transport is closed")
        if self._transport is not None:
            raise TransportError("udp transport already started")
        loop = asyncio.get_running_loop()
        self._set_state(TransportState.CONNECTING, "binding")
        family = socket.AF_UNSPEC
        if self._server is not None:
            try:
                self._resolved_server = await self._resolve(self._server)
            except TransportError as exc:
                self._set_state(TransportState.DISCONNECTED, str(exc))
                raise
            family = socket.AF_INET6 if ":" in self._resolved_server[0] else socket.AF_INET
        host = self.settings.local_host or ("::" if family == socket.AF_INET6 else "0.0.0.0")
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), local_addr=(host, self.settings.local_port)
            )
        except OSError as exc:
            reason = f"cannot bind udp {host}:{self.settings.local_port}: {exc.strerror or exc}"
            self._set_state(TransportState.DISCONNECTED, reason)
            raise TransportError(reason) from exc
        self._transport = transport
        sockname = transport.get_extra_info("sockname")
        bound_host, port = str(sockname[0]), int(sockname[1])
        if bound_host in _WILDCARDS:
            bound_host = self._source_ip_towards(self._resolved_server)
        self.local_address = (bound_host, port)
        self.via_host = bound_host
        self._set_state(TransportState.CONNECTED, f"bound udp {bound_host}:{port}")

    def send(self, data: bytes, dest: Address | None = None) -> None:
        """Send one datagram to ``dest`` (default: the server given at creation).

        ``dest`` should be numeric; the server's name was resolved once at start().
        """
        transport = self._transport
        if transport is None or self.state is not TransportState.CONNECTED:
            raise TransportError(f"udp transport is not bound ({self.state.value})")
        if dest is None or dest == self._server:
            dest = self._resolved_server
        if dest is None:
            raise TransportError("udp send needs a destination address")
        transport.sendto(data, dest)

    async def close(self) -> None:
        if self.state is TransportState.CLOSED:
            return
        self._closing = True
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        self._set_state(TransportState.CLOSED, "closed")

    def _on_datagram(self, data: bytes, peer: Address) -> None:
        if not data.strip():
            return  # keep-alive or padding: nothing for the parser
        self._deliver(data, peer)

    def _on_lost(self, exc: Exception | None) -> None:
        if self._closing:
            return
        self._transport = None
        self._set_state(TransportState.DISCONNECTED, f"udp socket lost: {exc or 'closed'}")

    @staticmethod
    async def _resolve(server: Address) -> Address:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(server[0], server[1], type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise TransportError(f"cannot resolve {server[0]}: {exc}") from exc
        sockaddr = infos[0][4]
        return (str(sockaddr[0]), int(sockaddr[1]))

    @staticmethod
    def _source_ip_towards(server: Address | None) -> str:
        """The local IP the kernel would use to reach ``server`` (no packet is sent)."""
        if server is None:
            return "127.0.0.1"
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect(server)
                return str(probe.getsockname()[0])
        except OSError as exc:
            logger.warning("cannot find a local address towards %s: %s", server, exc)
            return "127.0.0.1" if family == socket.AF_INET else "::1"
