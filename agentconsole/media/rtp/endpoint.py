"""The UDP sockets of one call: RTP on an even port, RTCP on the next (RFC 3550 §11).

Both sockets are bound before anything is offered, in a configurable port range (a
firewall opens that range), on the address written into our SDP. With rtcp-mux (RFC
5761) both kinds arrive on the RTP socket and are told apart by their second byte
(:func:`~.packet.is_rtcp`); the RTCP socket is still open for peers that ignore it.

Nothing here decodes or decides: datagrams go to the ``on_rtp`` / ``on_rtcp``
callbacks with their source address (STUN answers to :mod:`.stun`), sends go straight
to the kernel. No thread.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Callable
from typing import Any

from .packet import is_rtcp
from .stun import StunClient

log = logging.getLogger(__name__)

Address = tuple[str, int]
Handler = Callable[[bytes, Address], None]

#: Attempts at a free even/odd port pair before giving up.
BIND_ATTEMPTS = 64


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, endpoint: RtpEndpoint, rtcp_socket: bool) -> None:
        self._endpoint = endpoint
        self._rtcp_socket = rtcp_socket

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        endpoint = self._endpoint
        source = (addr[0], addr[1])
        if data and data[0] < 2:  # STUN (RFC 7983 §7): our public-address query
            (endpoint.stun_rtcp if self._rtcp_socket else endpoint.stun_rtp).received(data)
        elif self._rtcp_socket or is_rtcp(data):
            endpoint.on_rtcp(data, source)
        else:
            endpoint.on_rtp(data, source)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable while the far end is not listening yet: not fatal.
        log.debug("media socket error: %s", exc)


def route_source(toward: str) -> str | None:
    """The local address the kernel would use to reach ``toward`` (no packet is sent)."""
    family = socket.AF_INET6 if ":" in toward else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((toward, 9))
            host: str = probe.getsockname()[0]
            return host
    except OSError:
        return None


def _bind_pair(host: str, low: int, high: int,
               rng: random.Random) -> tuple[socket.socket, socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    last: OSError | None = None
    for _ in range(BIND_ATTEMPTS):
        port = rng.randrange(low, high) & ~1
        if port < low:
            port += 2
        rtp = socket.socket(family, socket.SOCK_DGRAM)
        rtcp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            rtp.bind((host, port))
            rtcp.bind((host, port + 1))
        except OSError as exc:
            rtp.close()
            rtcp.close()
            last = exc
            continue
        rtp.setblocking(False)
        rtcp.setblocking(False)
        return rtp, rtcp
    raise OSError(f"no free RTP port pair on {host} in {low}-{high}: {last}")


class RtpEndpoint:
    """A bound RTP/RTCP socket pair with callbacks for what arrives."""

    def __init__(self, host: str, rtp_port: int, rtcp_port: int) -> None:
        self.host = host
        self.rtp_port = rtp_port
        self.rtcp_port = rtcp_port
        self.on_rtp: Handler = _drop
        self.on_rtcp: Handler = _drop
        self._rtp: asyncio.DatagramTransport | None = None
        self._rtcp: asyncio.DatagramTransport | None = None
        self._sockets: tuple[socket.socket, socket.socket] | None = None
        self.stun_rtp = StunClient(lambda data, target: self.send_rtp(data, target))
        self.stun_rtcp = StunClient(lambda data, target: self.send_rtcp(data, target, False))

    @classmethod
    def bind(cls, host: str, low: int, high: int,
             rng: random.Random | None = None) -> RtpEndpoint:
        """Bind a free even port and the next one in [low, high] on ``host`` (at once:
        the ports go into the SDP before the event loop reads from them)."""
        rtp, rtcp = _bind_pair(host, low, high, rng or random.Random())
        endpoint = cls(host, rtp.getsockname()[1], rtcp.getsockname()[1])
        endpoint._sockets = (rtp, rtcp)
        return endpoint

    async def start(self) -> None:
        """Start reading (idempotent)."""
        if self._sockets is None or self._rtp is not None:
            return
        loop = asyncio.get_running_loop()
        rtp_sock, rtcp_sock = self._sockets
        self._rtp, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self, rtcp_socket=False), sock=rtp_sock)
        self._rtcp, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self, rtcp_socket=True), sock=rtcp_sock)

    async def public_addresses(self, servers: list[Address], timeout: float = 1.0
                               ) -> tuple[Address, Address] | None:
        """Where a STUN server sees our RTP and RTCP sockets (the NAT's mappings), from
        the first server that answers both; None when none does."""
        await self.start()
        for server in servers:
            rtp = await self.stun_rtp.mapped_address(server, timeout)
            rtcp = await self.stun_rtcp.mapped_address(server, timeout) if rtp else None
            if rtp and rtcp:
                return rtp, rtcp
        return None

    def send_rtp(self, data: bytes, target: Address) -> None:
        if self._rtp is not None:
            self._rtp.sendto(data, target)

    def send_rtcp(self, data: bytes, target: Address, mux: bool) -> None:
        transport = self._rtp if mux else self._rtcp
        if transport is not None:
            transport.sendto(data, target)

    def close(self) -> None:
        started = self._rtp is not None
        for transport in (self._rtp, self._rtcp):
            if transport is not None:
                transport.close()  # closes its socket
        self._rtp = self._rtcp = None
        if self._sockets is not None and not started:
            for sock in self._sockets:
                sock.close()
        self._sockets = None
        self.on_rtp = self.on_rtcp = _drop


def _drop(data: bytes, source: Address) -> None:
    """Before the stream is wired (or after it closed) datagrams are dropped."""
