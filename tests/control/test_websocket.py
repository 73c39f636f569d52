"""The optional WebSocket endpoint: loopback only, a token, an Origin allow-list, and then
the same JSON-RPC as the Unix socket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from agentconsole import Config

from .conftest import MakeAgent

TOKEN = "ws-token-5e1f0c"
CRM = "https://crm.example.com"


def ws_config(socket: Path, **websocket: object) -> Config:
    data = {
        "account": {"aor": "sip:1001@127.0.0.1:9", "register": False},
        "sip": {"local_host": "127.0.0.1"}, "audio": {"backend": "null"},
        "control": {"socket": str(socket),
                    "websocket": {"enabled": True, "port": 0, "token_env": "CRM_TOKEN",
                                  "origins": [CRM], **websocket}},
    }
    return Config.from_mapping(data, env={"CRM_TOKEN": TOKEN})


async def test_a_browser_crm_with_the_token_gets_the_same_api(
        make_agent: MakeAgent, short_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    agent = await make_agent(ws_config(short_dir / "control.sock"))
    endpoint = agent.integration.websocket
    assert endpoint is not None and endpoint.port
    assert endpoint._server.sockets[0].getsockname()[0] == "127.0.0.1"
    url = f"ws://127.0.0.1:{endpoint.port}/"
    async with connect(url + f"?token={TOKEN}", origin=CRM) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscribe",
                                  "params": {"events": ["agent_state"]}}))
        assert json.loads(await ws.recv())["result"] == {"events": ["agent_state"]}
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "agent_state",
                                  "params": {"state": "dnd"}}))
        first, second = json.loads(await ws.recv()), json.loads(await ws.recv())
        assert first["method"] == "event" and first["params"]["state"] == "dnd"
        assert second == {"jsonrpc": "2.0", "id": 2, "result": {"state": "dnd",
                                                                 "reason": None}}
        await ws.send("{broken")
        assert json.loads(await ws.recv())["error"]["code"] == -32700
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with connect(url, additional_headers=headers) as ws:  # a local script: no Origin
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status"}))
        assert json.loads(await ws.recv())["result"]["agent_state"]["state"] == "dnd"
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(("query", "origin", "status"), [
    ("", CRM, 401),
    ("?token=wrong", CRM, 401),
    (f"?token={TOKEN}", "https://evil.example", 403),
    (f"?token={TOKEN}", "http://crm.example.com", 403),
])
async def test_without_the_token_or_from_another_origin_it_is_refused(
        query: str, origin: str, status: int, make_agent: MakeAgent, short_dir: Path) -> None:
    agent = await make_agent(ws_config(short_dir / "control.sock"))
    endpoint = agent.integration.websocket
    assert endpoint is not None
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"ws://127.0.0.1:{endpoint.port}/{query}",
                           origin=origin):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == status


def test_the_endpoint_needs_a_token_and_warns_beyond_loopback() -> None:
    from agentconsole.errors import ConfigError

    base = {"account": {"aor": "sip:1@x", "register": False}}
    with pytest.raises(ConfigError, match="needs token or token_env"):
        Config.from_mapping({**base, "control": {"websocket": {"enabled": True}}}, env={})
    with pytest.raises(ConfigError, match="environment variable NOPE is not set"):
        Config.from_mapping({**base, "control": {"websocket": {"enabled": True,
                                                               "token_env": "NOPE"}}}, env={})
    config = Config.from_mapping({**base, "control": {"websocket": {
        "enabled": True, "token": "t", "host": "0.0.0.0"}}}, env={})
    assert any("beyond this machine" in w.message for w in config.warnings)
    assert "t" not in repr(config.control.websocket.token)
