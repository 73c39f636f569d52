"""SIP over WebSocket (RFC 7118) against a loopback ``websockets`` server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

from agentconsole.transport.base import TransportError, TransportSettings, TransportState
from agentconsole.transport.factory import create_transport
from agentconsole.transport.ws import WsTransport

from .conftest import Pki
from .helpers import Recorder, attach

FAST = TransportSettings(
    keepalive_s=0, reconnect_min_s=0.05, reconnect_max_s=0.2, connect_timeout_s=2.0
)
MSG = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/WS x.invalid\r\nContent-Length: 0\r\n\r\n"


@dataclass
class WsServer:
    server: Server
    conns: asyncio.Queue[ServerConnection] = field(default_factory=asyncio.Queue)

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])

    async def accept(self, timeout: float = 2.0) -> ServerConnection:
        return await asyncio.wait_for(self.conns.get(), timeout)


async def start_ws_server(subprotocols: list[str] | None, **kwargs: object) -> WsServer:
    queue: asyncio.Queue[ServerConnection] = asyncio.Queue()

    async def handler(conn: ServerConnection) -> None:
        await queue.put(conn)
        await conn.wait_closed()

    protos = [Subprotocol(p) for p in subprotocols] if subprotocols is not None else None
    kwargs.setdefault("close_timeout", 0.5)
    server = await serve(handler, "127.0.0.1", 0, subprotocols=protos, **kwargs)  # type: ignore[arg-type]
    return WsServer(server, queue)


@pytest.fixture
async def sip_server() -> AsyncIterator[WsServer]:
    srv = await start_ws_server(["sip"])
    yield srv
    srv.server.close()
    await srv.server.wait_closed()


async def open_ws(url: str, settings: TransportSettings = FAST) -> tuple[WsTransport, Recorder]:
    transport = create_transport(url.split(":", 1)[0], None, settings, ws_url=url)
    assert isinstance(transport, WsTransport)
    rec = Recorder()
    attach(transport, rec)
    await transport.start()
    return transport, rec


async def test_messages_both_ways(sip_server: WsServer) -> None:
    url = f"ws://127.0.0.1:{sip_server.port}/ws"
    transport, rec = await open_ws(url)
    try:
        conn = await sip_server.accept()
        assert conn.subprotocol == "sip"
        assert transport.via_host.endswith(".invalid")
        assert transport.via_port is None and transport.via_transport == "WS"

        transport.send(MSG)
        transport.send(MSG + b"second")
        assert await asyncio.wait_for(conn.recv(), 2) == MSG.decode()  # text frame
        assert await asyncio.wait_for(conn.recv(), 2) == (MSG + b"second").decode()
        transport.send(b"\xff\xfe not utf-8")
        assert await asyncio.wait_for(conn.recv(), 2) == b"\xff\xfe not utf-8"  # binary

        await conn.send(MSG.decode())
        await conn.send(b"\r\n")  # whitespace only: ignored
        await conn.send(MSG + b"bin")
        assert await rec.wait_messages(2) == [MSG, MSG + b"bin"]
        assert rec.messages[0][1] == ("127.0.0.1", sip_server.port)
    finally:
        await transport.close()
    assert transport.state is TransportState.CLOSED


async def test_crlf_ping_message_gets_pong(sip_server: WsServer) -> None:
    transport, _ = await open_ws(f"ws://127.0.0.1:{sip_server.port}/")
    try:
        conn = await sip_server.accept()
        await conn.send("\r\n\r\n")
        assert await asyncio.wait_for(conn.recv(), 2) == "\r\n"
    finally:
        await transport.close()


@pytest.mark.parametrize(
    ("offered", "expected"),
    [(None, "did not accept the 'sip' WebSocket subprotocol"), (["chat"], "HTTP 400")],
)
async def test_server_without_sip_subprotocol_fails_start(
    offered: list[str] | None, expected: str
) -> None:
    srv = await start_ws_server(offered)
    try:
        transport = create_transport("ws", None, FAST, ws_url=f"ws://127.0.0.1:{srv.port}/")
        with pytest.raises(TransportError, match=expected):
            await transport.start()
        assert transport.state is TransportState.DISCONNECTED
        await transport.close()
    finally:
        srv.server.close()
        await srv.server.wait_closed()


async def test_http_error_fails_start() -> None:
    def reject(conn: ServerConnection, request: object) -> object:
        return conn.respond(404, "no such path\n")

    srv = await start_ws_server(["sip"], process_request=reject)
    try:
        transport = create_transport("ws", None, FAST, ws_url=f"ws://127.0.0.1:{srv.port}/")
        with pytest.raises(TransportError, match="404"):
            await transport.start()
    finally:
        srv.server.close()
        await srv.server.wait_closed()


async def test_server_close_then_reconnect(sip_server: WsServer) -> None:
    transport, rec = await open_ws(f"ws://127.0.0.1:{sip_server.port}/")
    try:
        conn = await sip_server.accept()
        first_local = transport.local_address
        mark = len(rec.states)
        started = time.monotonic()
        await conn.close(1001, "going away")
        reason = await rec.wait_state(TransportState.DISCONNECTED, after=mark, timeout=1.0)
        assert time.monotonic() - started < 1.0
        assert "1001" in reason
        await rec.wait_state(TransportState.CONNECTED, after=mark, timeout=2.0)
        conn2 = await sip_server.accept()
        assert transport.local_address != first_local
        transport.send(MSG)
        assert await asyncio.wait_for(conn2.recv(), 2) == MSG.decode()
    finally:
        await transport.close()


async def test_wss_good_chain(pki: Pki) -> None:
    srv = await start_ws_server(["sip"], ssl=pki.good.server_context())
    try:
        settings = replace(FAST, tls_ca_file=str(pki.ca_file))
        transport, rec = await open_ws(f"wss://127.0.0.1:{srv.port}/ws", settings)
        conn = await srv.accept()
        assert transport.via_transport == "WSS"
        transport.send(MSG)
        assert await asyncio.wait_for(conn.recv(), 2) == MSG.decode()
        await conn.send(MSG)
        assert await rec.wait_messages(1) == [MSG]
        await transport.close()
    finally:
        srv.server.close()
        await srv.server.wait_closed()


async def test_wss_expired_certificate_fails_start(pki: Pki) -> None:
    srv = await start_ws_server(["sip"], ssl=pki.expired.server_context())
    try:
        settings = replace(FAST, tls_ca_file=str(pki.ca_file))
        transport = create_transport("wss", None, settings, ws_url=f"wss://127.0.0.1:{srv.port}/")
        with pytest.raises(TransportError, match="certificate has expired"):
            await transport.start()
    finally:
        srv.server.close()
        await srv.server.wait_closed()


async def test_ws_keepalive_ping_timeout_drops_flow(sip_server: WsServer) -> None:
    settings = replace(FAST, keepalive_s=0.1, keepalive_timeout_s=0.2)
    transport, rec = await open_ws(f"ws://127.0.0.1:{sip_server.port}/", settings)
    try:
        conn = await sip_server.accept()
        conn.transport.pause_reading()  # the server stops answering pings
        reason = await rec.wait_state(TransportState.DISCONNECTED, timeout=2.0)
        assert "keep-alive timeout" in reason
        conn.transport.resume_reading()  # lets the server see the abort and finish
    finally:
        await transport.close()
