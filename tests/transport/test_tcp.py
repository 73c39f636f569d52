"""SIP over TCP against a loopback asyncio server: framing, keep-alive, reconnect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from agentconsole.transport.base import TransportError, TransportSettings, TransportState
from agentconsole.transport.factory import create_transport
from agentconsole.transport.stream import StreamTransport
from tests.waiting import wait_until

from .helpers import Recorder, StreamServer, attach

FAST = TransportSettings(
    keepalive_s=0, reconnect_min_s=0.05, reconnect_max_s=0.2, connect_timeout_s=2.0
)


def sip(body: bytes = b"", method: str = "OPTIONS") -> bytes:
    return (
        f"{method} sip:bob@example.com SIP/2.0\r\nCSeq: 1 {method}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@pytest.fixture
async def server() -> AsyncIterator[StreamServer]:
    srv = await StreamServer().start()
    yield srv
    await srv.stop()


async def connect(
    server: StreamServer, settings: TransportSettings = FAST
) -> tuple[StreamTransport, Recorder]:
    transport = create_transport("tcp", server.address, settings)
    assert isinstance(transport, StreamTransport)
    rec = Recorder()
    attach(transport, rec)
    await transport.start()
    return transport, rec


async def reconnect_delays_elapsed(settings: TransportSettings, attempts: int) -> None:
    """Return once a twin flow with ``settings`` has drawn ``attempts`` reconnect delays
    (``attempts - 1`` of them slept through and retried): the way to let "longer than the
    reconnect delay" pass in the transport's own terms, on a server of its own."""
    twin_server = await StreamServer().start()
    twin = create_transport("tcp", twin_server.address, settings)
    assert isinstance(twin, StreamTransport)
    try:
        await twin.start()
        await twin_server.accept()
        await twin_server.stop()
        await wait_until(lambda: twin._backoff.attempts >= attempts, 5,
                         f"{attempts} reconnect delays of the twin flow")
    finally:
        await twin.close()
        await twin_server.stop()


def buffered(transport: StreamTransport) -> int:
    """Bytes the transport read but could not frame yet (a partial message)."""
    framer = transport._framer
    return framer.buffered if framer is not None else -1


async def test_messages_both_ways_with_split_writes(server: StreamServer) -> None:
    transport, rec = await connect(server)
    try:
        reader, writer = await server.accept()
        assert transport.state is TransportState.CONNECTED
        assert transport.reliable and transport.via_transport == "TCP"
        assert transport.local_address is not None
        assert transport.via_host == "127.0.0.1"
        assert transport.via_port == transport.local_address[1]

        out = sip(b"hello")
        transport.send(out)
        assert await asyncio.wait_for(reader.readexactly(len(out)), 2) == out

        first, second = sip(b"one\r\n\r\n\x00"), sip(b"two")
        data = first + second
        assert len(first) > 60  # both cuts fall inside the first message
        # Each piece is read on its own before the next is written.
        writer.write(data[:10])
        await writer.drain()
        await wait_until(lambda: buffered(transport) == 10, 2, "the first 10 bytes read")
        writer.write(data[10:60])
        await writer.drain()
        await wait_until(lambda: buffered(transport) == 60, 2, "the first 60 bytes read")
        writer.write(data[60:])
        await writer.drain()
        assert await rec.wait_messages(2) == [first, second]
        assert rec.messages[0][1][0] == "127.0.0.1"
        assert rec.messages[0][1][1] == server.port
    finally:
        await transport.close()
    assert transport.state is TransportState.CLOSED


async def test_ping_from_server_is_answered_with_pong(server: StreamServer) -> None:
    transport, _ = await connect(server)
    try:
        reader, writer = await server.accept()
        writer.write(b"\r\n\r\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.readexactly(2), 2) == b"\r\n"
    finally:
        await transport.close()


async def test_server_close_is_noticed_and_flow_reconnects(server: StreamServer) -> None:
    transport, rec = await connect(server)
    try:
        _, writer = await server.accept()
        first_local = transport.local_address
        mark = len(rec.states)
        started = time.monotonic()
        writer.close()
        reason = await rec.wait_state(TransportState.DISCONNECTED, after=mark, timeout=1.0)
        assert time.monotonic() - started < 1.0
        assert "closed by peer" in reason
        with pytest.raises(TransportError):
            transport.send(sip())

        await rec.wait_state(TransportState.CONNECTED, after=mark, timeout=2.0)
        reader2, _ = await server.accept()
        assert transport.local_address != first_local
        out = sip(b"again")
        transport.send(out)
        assert await asyncio.wait_for(reader2.readexactly(len(out)), 2) == out
    finally:
        await transport.close()


async def test_reconnects_after_server_restart(server: StreamServer) -> None:
    transport, rec = await connect(server)
    try:
        await server.accept()
        mark = len(rec.states)
        await server.stop()
        await rec.wait_state(TransportState.DISCONNECTED, after=mark, timeout=1.0)
        # Let a few attempts hit the closed port: the third delay is drawn only after
        # the second attempt failed.
        await wait_until(lambda: transport._backoff.attempts >= 3, 2, "two failed attempts")
        assert transport.state is TransportState.DISCONNECTED
        await server.start()  # same port
        await rec.wait_state(TransportState.CONNECTED, after=mark, timeout=2.0)
        await server.accept()
    finally:
        await transport.close()


async def test_dead_flow_detected_by_keepalive_timeout(server: StreamServer) -> None:
    settings = replace(FAST, keepalive_s=0.1, keepalive_timeout_s=0.2)
    transport, rec = await connect(server, settings)
    try:
        reader, _ = await server.accept()  # reads nothing back: swallows the pings
        started = time.monotonic()
        assert await asyncio.wait_for(reader.readexactly(4), 1) == b"\r\n\r\n"
        reason = await rec.wait_state(TransportState.DISCONNECTED, timeout=2.0)
        elapsed = time.monotonic() - started
        assert "keep-alive" in reason
        assert 0.15 <= elapsed < 1.0
    finally:
        await transport.close()


async def test_pongs_keep_the_flow_alive(server: StreamServer) -> None:
    settings = replace(FAST, keepalive_s=0.05, keepalive_timeout_s=0.1)
    transport, rec = await connect(server, settings)
    try:
        reader, writer = await server.accept()
        for _ in range(5):
            assert await asyncio.wait_for(reader.readexactly(4), 1) == b"\r\n\r\n"
            writer.write(b"\r\n")
            await writer.drain()
        assert transport.state is TransportState.CONNECTED
        assert all(state is not TransportState.DISCONNECTED for state, _ in rec.states)
    finally:
        await transport.close()


async def test_framing_error_drops_the_flow(server: StreamServer) -> None:
    transport, rec = await connect(server)
    try:
        _, writer = await server.accept()
        writer.write(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n")
        reason = await rec.wait_state(TransportState.DISCONNECTED, timeout=1.0)
        assert "framing error" in reason and "Content-Length" in reason
        await rec.wait_state(TransportState.CONNECTED, after=2, timeout=2.0)
    finally:
        await transport.close()


async def test_handler_exception_does_not_stop_reading(
    server: StreamServer, caplog: pytest.LogCaptureFixture
) -> None:
    transport, rec = await connect(server)
    calls: list[bytes] = []

    def flaky(data: bytes, peer: tuple[str, int]) -> None:
        calls.append(data)
        if len(calls) == 1:
            raise RuntimeError("boom")
        rec.on_message(data, peer)

    transport.on_message = flaky
    try:
        _, writer = await server.accept()
        writer.write(sip(b"1") + sip(b"2"))
        assert await rec.wait_messages(1) == [sip(b"2")]
        assert len(calls) == 2
        assert transport.state is TransportState.CONNECTED
        assert "on_message handler failed" in caplog.text
    finally:
        await transport.close()


async def test_start_fails_with_readable_reason_and_does_not_retry() -> None:
    probe = await StreamServer().start()
    address = probe.address
    await probe.stop()  # nothing listens there now
    transport = create_transport("tcp", address, FAST)
    rec = Recorder()
    attach(transport, rec)
    with pytest.raises(TransportError, match="connection refused"):
        await transport.start()
    assert transport.state is TransportState.DISCONNECTED
    assert rec.states[-1][0] is TransportState.DISCONNECTED
    await reconnect_delays_elapsed(FAST, 4)  # a flow that does retry has retried 3 times
    assert transport._backoff.attempts == 0
    assert [s for s, _ in rec.states] == [TransportState.CONNECTING, TransportState.DISCONNECTED]
    await transport.close()


async def test_close_stops_reconnecting(server: StreamServer) -> None:
    transport, rec = await connect(server)
    await server.accept()
    await transport.close()
    assert rec.states[-1] == (TransportState.CLOSED, "closed")
    await reconnect_delays_elapsed(FAST, 4)
    assert server.pending() == 0
    with pytest.raises(TransportError):
        transport.send(sip())
    with pytest.raises(TransportError):
        await transport.start()


async def test_close_while_reconnecting(server: StreamServer) -> None:
    settings = replace(FAST, reconnect_min_s=0.1, reconnect_max_s=0.1)
    transport, rec = await connect(server, settings)
    await server.accept()
    await server.stop()
    await rec.wait_state(TransportState.DISCONNECTED, timeout=1.0)
    await transport.close()
    assert transport.state is TransportState.CLOSED
    await server.start()
    # Longer than the reconnect delay: a twin flow slept through two of them.
    await reconnect_delays_elapsed(settings, 3)
    assert server.pending() == 0
    assert rec.states[-1][0] is TransportState.CLOSED
