"""The control socket itself: permissions, one instance per path, a stale socket replaced,
bad input answered without dropping the connection, many clients, a client that never
reads dropped while the phone goes on serving."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from pathlib import Path

import pytest

from agentconsole import Config
from agentconsole.control.integration import Integration
from agentconsole.control.server import ControlServerError
from tests.waiting import wait_until

from .conftest import MakeAgent


def offline_config(socket: Path, **sections: object) -> Config:
    """A phone that needs no server (no REGISTER; INVITEs go to a closed port)."""
    data: dict[str, object] = {
        "account": {"aor": "sip:1001@127.0.0.1:9", "register": False},
        "sip": {"local_host": "127.0.0.1"},
        "media": {"host_addresses": ["127.0.0.1"]},
        "audio": {"backend": "null"},
        "calls": {"dial_rate_limit_s": 0},
        "control": {"socket": str(socket)},
        **sections,
    }
    return Config.from_mapping(data, env={})


async def test_the_socket_is_for_this_user_only(make_agent: MakeAgent, short_dir: Path) -> None:
    run = short_dir / "run"
    run.mkdir(mode=0o755)
    os.chmod(run, 0o755)  # a directory others can read is made private
    agent = await make_agent(offline_config(run / "control.sock"))
    info = os.stat(agent.socket)
    assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(run).st_mode) == 0o700
    client = await agent.client()
    assert (await client.call("status"))["registered"] is False
    await client.close()


async def test_a_second_instance_on_the_same_path_refuses_to_start(
        make_agent: MakeAgent, short_dir: Path) -> None:
    config = offline_config(short_dir / "control.sock")
    first = await make_agent(config)
    second = Integration(first.phone, config)
    with pytest.raises(ControlServerError, match="another agentconsole is already running"):
        await second.start()
    client = await first.client()  # the first one is untouched
    assert (await client.call("status"))["calls"] == []
    await client.close()


async def test_a_socket_left_behind_is_replaced(make_agent: MakeAgent, short_dir: Path) -> None:
    path = short_dir / "control.sock"
    import socket

    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(path))  # what a killed process leaves: a socket nobody serves
    leftover.close()
    assert path.exists()
    agent = await make_agent(offline_config(path))
    client = await agent.client()
    assert (await client.call("status"))["account"] == "sip:1001@127.0.0.1:9"
    await client.close()
    await agent.integration.stop()
    assert not path.exists()  # a clean stop removes it


async def test_a_path_that_is_not_a_socket_is_left_alone(short_dir: Path) -> None:
    path = short_dir / "control.sock"
    path.write_text("precious")
    config = offline_config(path)
    from agentconsole import Phone

    with pytest.raises(ControlServerError, match="is not a socket"):
        await Integration(Phone(config), config).start()
    assert path.read_text() == "precious"


async def test_bad_lines_get_errors_and_the_connection_stays(
        make_agent: MakeAgent, short_dir: Path) -> None:
    agent = await make_agent(offline_config(short_dir / "control.sock"))
    client = await agent.client()
    try:
        cases = [
            (b"{not json\n", None, -32700),
            (b"\xff\xfe\n", None, -32700),
            (b'{"jsonrpc":"2.0","id":1,"method":"status","params":{"x":NaN}}\n', None, -32700),
            (b"[1,2]\n", None, -32600),
            (b'"hello"\n', None, -32600),
            (b'{"jsonrpc":"1.0","id":2,"method":"status"}\n', 2, -32600),
            (b'{"jsonrpc":"2.0","id":3,"method":"fly"}\n', 3, -32601),
            (b'{"jsonrpc":"2.0","id":4,"method":"status","params":[1]}\n', 4, -32602),
            (b'{"jsonrpc":"2.0","id":5,"method":"dial","params":{}}\n', 5, -32602),
            (b'{"jsonrpc":"2.0","id":6,"method":"hold","params":{"callid":"x"}}\n', 6, -32602),
            (b'{"jsonrpc":"2.0","id":7,"method":"dtmf","params":{"digits":"1x"}}\n', 7, -32602),
            (b'{"jsonrpc":"2.0","id":8,"method":"subscribe","params":{"events":["x"]}}\n', 8,
             -32602),
            (b'{"jsonrpc":"2.0","id":true,"method":"status"}\n', None, -32600),
        ]
        for line, request_id, code in cases:
            reply = await client.raw(line, request_id)
            assert reply["error"]["code"] == code, (line, reply)
            assert reply["jsonrpc"] == "2.0" and reply["error"]["message"]
        long_line = b'{"jsonrpc":"2.0","id":9,"method":"status","params":{"pad":"' \
            + b"x" * 70_000 + b'"}}\n'
        reply = await client.raw(long_line, None)
        assert reply["error"]["code"] == -32600 and "too long" in reply["error"]["message"]
        count = len(client.responses)
        await client.send_line(b'{"jsonrpc":"2.0","method":"status"}\n\n')  # no id: no answer
        status = await client.call("status")  # the same connection still serves
        assert status["registered"] is False
        assert len(client.responses) == count + 1
        assert not client.closed.is_set()
    finally:
        await client.close()


async def test_many_clients_each_get_every_event_they_subscribed_to(
        make_agent: MakeAgent, short_dir: Path) -> None:
    agent = await make_agent(offline_config(short_dir / "control.sock"))
    clients = [await agent.client() for _ in range(12)]
    try:
        for index, client in enumerate(clients):
            names = ["agent_state"] if index % 2 else []
            await client.call("subscribe", **({"events": names} if names else {}))
        agent.phone.set_agent_state("dnd")
        await clients[0].call("agent_state", state="available")
        for client in clients:
            await wait_until(lambda c=client: len([e for e in c.events
                                                   if e["event"] == "agent_state"]) == 2, 5)
            states = [e["state"] for e in client.events if e["event"] == "agent_state"]
            assert states == ["dnd", "available"]
        assert len(agent.integration.server.peers) == 12  # type: ignore[union-attr]
    finally:
        for client in clients:
            await client.close()


async def test_a_client_that_never_reads_is_dropped_and_the_phone_serves_on(
        make_agent: MakeAgent, short_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    agent = await make_agent(offline_config(short_dir / "control.sock"), queue_size=20)
    server = agent.integration.server
    assert server is not None
    reader, writer = await asyncio.open_unix_connection(str(agent.socket))
    request = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status"}).encode() + b"\n"
    writer.write(b'{"jsonrpc":"2.0","id":0,"method":"subscribe"}\n' + request * 4000)
    other = await agent.client()
    try:
        with caplog.at_level(logging.WARNING, logger="agentconsole.control.peer"):
            await wait_until(lambda: len(server.peers) == 1, 30,
                             "the silent client to be dropped")
        assert "stopped reading" in caplog.text
        call = await other.call("dial", number="600")  # the phone and the socket serve on
        assert call["call_status"] == "calling"
        assert (await other.call("hangup"))["call_status"] == "ended"
    finally:
        writer.close()
        await other.close()


async def test_events_of_the_last_moment_reach_clients_before_the_socket_closes(
        make_agent: MakeAgent, short_dir: Path) -> None:
    agent = await make_agent(offline_config(short_dir / "control.sock"))
    client = await agent.client()
    await client.call("subscribe", events=["agent_state"])
    agent.phone.set_agent_state("offline")  # what a stopping phone says last
    await agent.integration.stop()
    await asyncio.wait_for(client.closed.wait(), 5)
    assert [e["state"] for e in client.events] == ["offline"]
    await client.close()


async def test_stopping_with_a_client_mid_request_reports_no_error(
        make_agent: MakeAgent, short_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A connection the server ends is a normal end: asyncio must not log its handler as
    an unhandled error (Python 3.11 does for a cancelled one)."""
    agent = await make_agent(offline_config(short_dir / "control.sock"))
    server = agent.integration.server
    assert server is not None
    reader, writer = await asyncio.open_unix_connection(str(agent.socket))
    writer.write(b'{"jsonrpc":"2.0","id":1,"method":"status"}\n')
    await reader.readline()  # answered; the connection's read loop now waits for more
    with caplog.at_level(logging.ERROR):
        await agent.integration.stop()
        await asyncio.wait_for(reader.read(), 5)  # the server closed the connection
        await asyncio.sleep(0)  # asyncio's done-callbacks of the handler run now
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert not server.peers
    writer.close()
