"""The public address of a media socket behind NAT: one STUN Binding (RFC 8489 §3).

A plain-RTP SDP names the address the far end must send to (RFC 3264 §5). Behind a
NAT the socket's own address is private; asking a STUN server from *that socket*
(``media.ice_servers``, the same setting WebRTC uses) returns the NAT's mapping, which
goes into our SDP instead. The answer arrives on the media socket, told apart from RTP
and RTCP by its first byte (0 or 1: RFC 7983 §7), and is matched by transaction id.

Messages are aioice's (aiortc's ICE library, already installed); only the Binding
request and its XOR-MAPPED-ADDRESS are used. Retransmitted as RFC 8489 §6.2.1 says
(doubling from 100 ms here: set-up time matters and the server is usually near); no
answer within ``timeout`` leaves the local address in the SDP, logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from aioice import stun

log = logging.getLogger(__name__)

Address = tuple[str, int]
DEFAULT_PORT = 3478  # RFC 8489 §18.5


def stun_servers(urls: tuple[str, ...]) -> list[Address]:
    """``stun:host[:port]`` entries of ``media.ice_servers`` (TURN ones are for ICE)."""
    out: list[Address] = []
    for url in urls:
        if not url.lower().startswith("stun:"):
            continue
        parts = urlsplit("//" + url.split(":", 1)[1])
        if parts.hostname:
            out.append((parts.hostname, parts.port or DEFAULT_PORT))
    return out


def is_stun(data: bytes) -> bool:
    """A STUN message starts with two zero bits (RFC 7983 §7, RFC 8489 §5)."""
    return len(data) >= 20 and data[0] < 2


class StunClient:
    """Binding requests sent through ``send`` and answered through :meth:`received`."""

    def __init__(self, send: Callable[[bytes, Address], None]) -> None:
        self._send = send
        self._waiting: dict[bytes, asyncio.Future[Address]] = {}

    def received(self, data: bytes) -> None:
        try:
            message = stun.parse_message(data)
        except ValueError:
            return
        future = self._waiting.get(message.transaction_id)
        mapped = message.attributes.get("XOR-MAPPED-ADDRESS")
        if future is not None and not future.done() and mapped is not None:
            future.set_result((str(mapped[0]), int(mapped[1])))

    async def mapped_address(self, server: Address, timeout: float = 1.0) -> Address | None:
        """The server-reflexive address of our socket, None on no answer."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(server[0], server[1], type=2)  # SOCK_DGRAM
        except OSError as exc:
            log.warning("STUN server %s: %s", server[0], exc)
            return None
        target = (str(infos[0][4][0]), int(infos[0][4][1]))
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        future: asyncio.Future[Address] = loop.create_future()
        self._waiting[request.transaction_id] = future
        deadline = loop.time() + timeout
        wait = 0.1
        try:
            while loop.time() < deadline:
                self._send(bytes(request), target)
                try:
                    return await asyncio.wait_for(asyncio.shield(future),
                                                  min(wait, deadline - loop.time()))
                except TimeoutError:
                    wait *= 2
        finally:
            self._waiting.pop(request.transaction_id, None)
        log.warning("no answer from STUN server %s:%d: the SDP names the local address",
                    *target)
        return None
