"""SIP over TLS: certificate checks at start() and message exchange on a good chain."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from agentconsole.transport import tls as tls_module
from agentconsole.transport.base import TransportError, TransportSettings, TransportState
from agentconsole.transport.factory import create_transport
from agentconsole.transport.tls import build_client_context, describe_tls_error

from .conftest import CertFiles, Pki
from .helpers import Recorder, StreamServer, attach

BASE = TransportSettings(keepalive_s=0, reconnect_min_s=0.05, reconnect_max_s=0.2)


@pytest.fixture
async def tls_servers() -> AsyncIterator[list[StreamServer]]:
    servers: list[StreamServer] = []
    yield servers
    for srv in servers:
        await srv.stop()


async def serve(certs: CertFiles, servers: list[StreamServer]) -> StreamServer:
    srv = await StreamServer(certs.server_context()).start()
    servers.append(srv)
    return srv


def settings_for(pki: Pki, **changes: object) -> TransportSettings:
    return replace(BASE, tls_ca_file=str(pki.ca_file), **changes)  # type: ignore[arg-type]


async def test_good_chain_connects_and_exchanges_messages(
    pki: Pki, tls_servers: list[StreamServer]
) -> None:
    srv = await serve(pki.good, tls_servers)
    transport = create_transport("tls", srv.address, settings_for(pki))
    rec = Recorder()
    attach(transport, rec)
    await transport.start()
    try:
        assert transport.kind == "tls" and transport.via_transport == "TLS"
        reader, writer = await srv.accept()
        msg = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 2\r\n\r\nhi"
        transport.send(msg)
        assert await asyncio.wait_for(reader.readexactly(len(msg)), 2) == msg
        writer.write(msg)
        assert await rec.wait_messages(1) == [msg]
    finally:
        await transport.close()


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        ("self_signed", "self-signed certificate"),
        ("expired", "certificate has expired"),
        ("wrong_san", "mismatch"),
    ],
)
async def test_bad_certificates_fail_at_start(
    pki: Pki, tls_servers: list[StreamServer], which: str, expected: str
) -> None:
    srv = await serve(getattr(pki, which), tls_servers)
    transport = create_transport("tls", srv.address, settings_for(pki))
    rec = Recorder()
    attach(transport, rec)
    with pytest.raises(TransportError) as info:
        await transport.start()
    message = str(info.value)
    assert message.startswith("TLS certificate verify failed for 127.0.0.1")
    assert expected in message
    assert transport.state is TransportState.DISCONNECTED
    assert rec.states[-1] == (TransportState.DISCONNECTED, message)
    await transport.close()


async def test_verify_false_connects_to_self_signed(
    pki: Pki, tls_servers: list[StreamServer], caplog: pytest.LogCaptureFixture
) -> None:
    srv = await serve(pki.self_signed, tls_servers)
    tls_module._warned_unverified = False
    with caplog.at_level(logging.WARNING, logger="agentconsole.transport.tls"):
        transport = create_transport("tls", srv.address, replace(BASE, tls_verify=False))
    assert "verification is disabled" in caplog.text
    await transport.start()
    try:
        await srv.accept()
        assert transport.state is TransportState.CONNECTED
    finally:
        await transport.close()


async def test_server_name_override_is_checked(pki: Pki, tls_servers: list[StreamServer]) -> None:
    srv = await serve(pki.good, tls_servers)
    ok = create_transport("tls", srv.address, settings_for(pki, tls_server_name="localhost"))
    await ok.start()
    await ok.close()
    bad = create_transport("tls", srv.address, settings_for(pki, tls_server_name="evil.test"))
    with pytest.raises(TransportError, match="evil.test"):
        await bad.start()
    await bad.close()


def test_client_context_defaults() -> None:
    ctx = build_client_context()
    assert ctx.verify_mode is ssl.CERT_REQUIRED
    assert ctx.check_hostname
    assert ctx.minimum_version is ssl.TLSVersion.TLSv1_2


def test_missing_ca_file_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="CA file"):
        build_client_context("/nonexistent/ca.pem")


def test_describe_plain_ssl_error() -> None:
    text = describe_tls_error(ssl.SSLError(1, "wrong version number"), "pbx")
    assert text.startswith("TLS handshake failed for pbx")
