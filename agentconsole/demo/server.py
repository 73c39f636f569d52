"""Sockets for the demo switch: UDP, TCP and WebSocket listeners around :class:`ProxyCore`.

A demo and a test fixture, not a PBX. The project's transports in
:mod:`agentconsole.transport` are client-side (one flow to one server); a switch needs
the other side: one UDP socket shared by every peer (RFC 3261 §18.1), a TCP listener
whose connections are framed with :class:`~agentconsole.sip.framing.StreamFramer`
(§18.3) and answered CRLF to a CRLFCRLF keep-alive (RFC 5626 §3.5.1), and a WebSocket
listener with the ``sip`` subprotocol (RFC 7118 §5: one message per frame). Each
connection is a :class:`Flow` keyed by the peer's address; a response or request for
a flow whose connection is gone opens a new one (TCP) or is dropped (WS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from ..sip.errors import ParseError
from ..sip.framing import FramedMessage, KeepAlivePing, StreamFramer
from .proxy import ProxyCore, Send
from .registrar import Address, Flow

logger = logging.getLogger(__name__)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: SwitchServer) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.owner._dispatch(data, Flow("udp", (str(addr[0]), int(addr[1]))))

    def error_received(self, exc: Exception) -> None:
        logger.debug("switch udp error: %s", exc)


class SwitchServer:
    """Listeners and connections of the switch; ``clock`` gives ``now`` for the core."""

    def __init__(self, core: ProxyCore, clock: Callable[[], float]) -> None:
        self.core = core
        self.clock = clock
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._ws: Any = None
        self._streams: dict[Address, asyncio.StreamWriter] = {}
        self._websockets: dict[Address, Any] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.ws_port: int | None = None

    async def start(self, host: str, port: int, *, ws_port: int | None = None) -> int:
        """Bind UDP and TCP on the same port (0: any free one) and WS on ``ws_port``
        (None: no WebSocket listener); return the UDP/TCP port."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self),
                                                         local_addr=(host, port))
            bound = int(udp.get_extra_info("sockname")[1])
            try:
                self._tcp = await asyncio.start_server(self._on_tcp, host, bound)
            except OSError:
                udp.close()
                if port:
                    raise
                continue
            self._udp = udp
            break
        else:  # pragma: no cover - twenty busy ports in a row
            raise OSError("no free port for UDP and TCP together")
        if ws_port is not None:
            self.ws_port = await self._start_ws(host, ws_port)
        return bound

    async def _start_ws(self, host: str, port: int) -> int:
        from websockets.asyncio.server import serve

        self._ws = await serve(self._on_ws, host, port, subprotocols=["sip"])  # type: ignore[list-item]
        sock = next(iter(self._ws.sockets))
        return int(sock.getsockname()[1])

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        for writer in list(self._streams.values()):
            writer.close()
        self._streams.clear()
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None
        if self._ws is not None:
            self._ws.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.wait_closed(), 2.0)
            self._ws = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)

    # ----- receiving ------------------------------------------------------------------------
    def _dispatch(self, data: bytes, flow: Flow) -> None:
        for item in self.core.receive(data, flow, self.clock()):
            self.send(item)

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address: Address = (str(peer[0]), int(peer[1]))
        self._streams[address] = writer
        await self._read_stream(reader, writer, address)

    async def _read_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           address: Address) -> None:
        flow = Flow("tcp", address)
        framer = StreamFramer()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for event in framer.feed(data):
                    if isinstance(event, FramedMessage):
                        self._dispatch(event.data, flow)
                    elif isinstance(event, KeepAlivePing):
                        writer.write(b"\r\n")
        except (ParseError, ConnectionError) as exc:
            logger.info("switch: closing %s: %s", flow, exc)
        finally:
            self._forget_stream(address, writer, flow)

    def _forget_stream(self, address: Address, writer: asyncio.StreamWriter, flow: Flow) -> None:
        if self._streams.get(address) is writer:
            del self._streams[address]
            self.core.location.drop_flow(flow)
        writer.close()

    async def _on_ws(self, conn: Any) -> None:
        peer = conn.remote_address
        address: Address = (str(peer[0]), int(peer[1]))
        flow = Flow("ws", address)
        if conn.subprotocol != "sip":
            await conn.close(1002, "sip subprotocol required")
            return
        self._websockets[address] = conn
        try:
            async for message in conn:
                data = message.encode() if isinstance(message, str) else bytes(message)
                if data.strip(b"\r\n"):
                    self._dispatch(data, flow)
        except Exception as exc:  # noqa: BLE001 - any websocket failure closes this flow only
            logger.info("switch: websocket %s closed: %s", flow, exc)
        finally:
            if self._websockets.get(address) is conn:
                del self._websockets[address]
                self.core.location.drop_flow(flow)

    # ----- sending --------------------------------------------------------------------------
    def send(self, item: Send) -> None:
        data = item.message.to_bytes()
        flow = item.flow
        if flow.transport == "udp":
            if self._udp is not None:
                self._udp.sendto(data, flow.address)
        elif flow.transport == "tcp":
            writer = self._streams.get(flow.address)
            if writer is not None and not writer.is_closing():
                writer.write(data)
            else:
                self._spawn(self._connect_and_send(flow.address, data))
        elif flow.transport == "ws":
            conn = self._websockets.get(flow.address)
            if conn is None:
                logger.info("switch: no websocket to %s; dropped", flow)
                return
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self._spawn(conn.send(data))
            else:
                self._spawn(conn.send(text))
        else:
            logger.info("switch: cannot send over %s", flow)

    async def _connect_and_send(self, address: Address, data: bytes) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*address), 5.0)
        except (OSError, TimeoutError) as exc:
            logger.info("switch: cannot connect to tcp:%s:%s: %s", *address, exc)
            return
        self._streams[address] = writer
        writer.write(data)
        await self._read_stream(reader, writer, address)

    def _spawn(self, coro: Any) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:  # noqa: BLE001 - a failed send is a lost packet
                logger.info("switch: send failed: %s", exc)

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


__all__ = ["SwitchServer"]
