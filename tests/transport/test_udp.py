"""SIP over UDP between two loopback transports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agentconsole.transport.base import TransportError, TransportSettings, TransportState
from agentconsole.transport.factory import create_transport
from agentconsole.transport.udp import UdpTransport

from .helpers import Recorder, attach

LOOPBACK = TransportSettings(local_host="127.0.0.1")
MSG = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture
async def pair() -> AsyncIterator[tuple[UdpTransport, Recorder, UdpTransport, Recorder]]:
    a, b = UdpTransport(LOOPBACK), UdpTransport(LOOPBACK)
    rec_a, rec_b = Recorder(), Recorder()
    attach(a, rec_a)
    attach(b, rec_b)
    await a.start()
    await b.start()
    yield a, rec_a, b, rec_b
    await a.close()
    await b.close()


async def test_send_and_receive(
    pair: tuple[UdpTransport, Recorder, UdpTransport, Recorder],
) -> None:
    a, rec_a, b, rec_b = pair
    assert a.state is TransportState.CONNECTED and not a.reliable
    assert a.local_address is not None and b.local_address is not None
    assert a.via_transport == "UDP" and a.via_host == "127.0.0.1"
    a.send(MSG, b.local_address)
    assert await rec_b.wait_messages(1) == [MSG]
    assert rec_b.messages[0][1] == a.local_address
    b.send(MSG + b"reply", rec_b.messages[0][1])
    assert await rec_a.wait_messages(1) == [MSG + b"reply"]


async def test_crlf_only_datagrams_are_dropped(
    pair: tuple[UdpTransport, Recorder, UdpTransport, Recorder],
) -> None:
    a, _, b, rec_b = pair
    assert b.local_address is not None
    a.send(b"\r\n\r\n", b.local_address)
    a.send(b"\r\n", b.local_address)
    a.send(MSG, b.local_address)
    assert await rec_b.wait_messages(1) == [MSG]
    assert len(rec_b.messages) == 1


async def test_default_destination_is_the_server_and_wildcard_bind_advertises_real_ip(
    pair: tuple[UdpTransport, Recorder, UdpTransport, Recorder],
) -> None:
    _, _, b, rec_b = pair
    assert b.local_address is not None
    client = create_transport("udp", b.local_address, TransportSettings())
    assert isinstance(client, UdpTransport)
    await client.start()
    try:
        assert client.via_host == "127.0.0.1"  # not 0.0.0.0: the source IP towards the server
        client.send(MSG)
        assert await rec_b.wait_messages(1) == [MSG]
    finally:
        await client.close()


async def test_send_needs_destination_and_bound_socket() -> None:
    transport = UdpTransport(LOOPBACK)
    with pytest.raises(TransportError):
        transport.send(MSG, ("127.0.0.1", 5060))
    await transport.start()
    with pytest.raises(TransportError, match="destination"):
        transport.send(MSG)
    await transport.close()
    assert transport.state is TransportState.CLOSED
    with pytest.raises(TransportError):
        transport.send(MSG, ("127.0.0.1", 5060))


async def test_handler_exception_is_contained(
    pair: tuple[UdpTransport, Recorder, UdpTransport, Recorder],
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, _, b, rec_b = pair
    assert b.local_address is not None
    seen: list[bytes] = []

    def flaky(data: bytes, peer: tuple[str, int]) -> None:
        seen.append(data)
        if len(seen) == 1:
            raise ValueError("bad")
        rec_b.on_message(data, peer)

    b.on_message = flaky
    a.send(MSG + b"1", b.local_address)
    a.send(MSG + b"2", b.local_address)
    assert await rec_b.wait_messages(1) == [MSG + b"2"]
    assert "on_message handler failed" in caplog.text


async def test_bind_failure_is_reported() -> None:
    first = UdpTransport(LOOPBACK)
    await first.start()
    assert first.local_address is not None
    try:
        clash = UdpTransport(
            TransportSettings(local_host="127.0.0.1", local_port=first.local_address[1])
        )
        with pytest.raises(TransportError, match="cannot bind"):
            await clash.start()
        assert clash.state is TransportState.DISCONNECTED
    finally:
        await first.close()
