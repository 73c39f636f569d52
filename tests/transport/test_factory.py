"""create_transport: kinds, required arguments, no silent downgrade."""

from __future__ import annotations

import ssl

import pytest

from agentconsole.transport.base import TransportSettings
from agentconsole.transport.factory import create_transport
from agentconsole.transport.stream import StreamTransport
from agentconsole.transport.udp import UdpTransport
from agentconsole.transport.ws import WsTransport

S = TransportSettings()


def test_kinds_map_to_classes() -> None:
    assert isinstance(create_transport("UDP", None, S), UdpTransport)
    tcp = create_transport("tcp", ("127.0.0.1", 5060), S)
    assert isinstance(tcp, StreamTransport) and tcp.kind == "tcp"
    tls = create_transport("tls", ("127.0.0.1", 5061), S)
    assert isinstance(tls, StreamTransport) and tls.kind == "tls"
    ws = create_transport("ws", ("127.0.0.1", 8080), S)
    assert isinstance(ws, WsTransport) and ws.url == "ws://127.0.0.1:8080/"
    wss = create_transport("wss", None, S, ws_url="wss://pbx.example.com/ws")
    assert isinstance(wss, WsTransport) and wss.kind == "wss"
    assert wss.target == "wss://pbx.example.com/ws"


def test_tls_context_verifies_by_default() -> None:
    tls = create_transport("tls", ("127.0.0.1", 5061), S)
    assert isinstance(tls, StreamTransport)
    ctx = tls._ssl
    assert ctx is not None and ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname


@pytest.mark.parametrize(
    ("kind", "server", "url"),
    [
        ("sctp", ("h", 1), None),
        ("tcp", None, None),
        ("tls", None, None),
        ("ws", None, None),
        ("wss", None, "ws://pbx.example.com/ws"),  # no silent downgrade
        ("ws", None, "wss://pbx.example.com/ws"),
    ],
)
def test_bad_combinations_raise(kind: str, server: tuple[str, int] | None, url: str | None) -> None:
    with pytest.raises(ValueError):
        create_transport(kind, server, S, ws_url=url)


def test_ws_via_host_is_random_invalid_and_stable() -> None:
    a = create_transport("ws", ("127.0.0.1", 8080), S)
    b = create_transport("ws", ("127.0.0.1", 8080), S)
    assert a.via_host.endswith(".invalid") and b.via_host.endswith(".invalid")
    assert a.via_host != b.via_host
