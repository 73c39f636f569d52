"""Hooks on real calls from the demo switch: a program and HTTP requests to a local server
get the call's fields; a hook that hangs or fails never holds up the next call and is
reported (``hook_failed`` on the socket, a notice for the console)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from agentconsole.control.hooks import hook_variables
from agentconsole.demo.runner import DemoRunner
from tests.waiting import wait_until

from .conftest import MakeAgent, demo_agent

RECORDER = """\
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("AGENTCONSOLE_")}
with open(sys.argv[1], "a") as out:
    out.write(json.dumps({"argv": sys.argv[2:], "env": env}) + "\\n")
"""


@dataclass
class HttpRecorder:
    """A tiny HTTP/1.1 server: records each request; ``hang`` paths never get answered."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (h.partition(":") for h in header_lines if h)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append({"method": method, "target": target, "headers": headers,
                              "body": body})
        if target.startswith("/hang"):
            await asyncio.Event().wait()  # never answers (cancelled when the server stops)
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def http() -> AsyncIterator[HttpRecorder]:
    recorder = HttpRecorder()
    recorder.server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    recorder.port = recorder.server.sockets[0].getsockname()[1]
    try:
        yield recorder
    finally:
        recorder.server.close()


async def customer_call(demo: DemoRunner) -> Any:
    assert demo.caller is not None and demo.caller.call_now()
    return next(iter(demo.caller.active.values()))


async def test_a_program_and_http_hooks_get_the_calls_fields(
        demo: DemoRunner, make_agent: MakeAgent, short_dir: Path, http: HttpRecorder) -> None:
    script = short_dir / "record.py"
    script.write_text(RECORDER)
    out = short_dir / "hook.jsonl"
    base = f"http://127.0.0.1:{http.port}"
    hooks = [
        {"event": "incoming", "run": [sys.executable, str(script), str(out), "{number}",
                                      "{name}", "{company}", "{queue}", "{did}", "{direction}"]},
        {"event": "confirmed", "url": base + "/pop?n={number}&who={name}&q={queue}&id={call_id}"},
        {"event": "ended", "url": base + "/log/{call_id}", "method": "POST",
         "headers": {"X-Agent": "1001 {event}"}},
        {"event": "wrapup", "run": [sys.executable, str(script), str(out), "{wrapup_code}",
                                    "{notes}", "{queue}"]},
    ]
    agent = await make_agent(demo_agent(demo, short_dir, hooks=hooks))
    client = await agent.client()
    try:
        await client.call("subscribe")
        call = await customer_call(demo)
        ring = await client.event("incoming")
        call_id = ring["call_id"]
        await wait_until(lambda: out.exists() and out.read_text().count("\n") == 1, 15,
                         "the incoming program hook")
        first = json.loads(out.read_text().splitlines()[0])
        customer, queue = call.customer, call.queue
        assert first["argv"] == [customer.number, customer.name, customer.company, queue.name,
                                 queue.did, "inbound"]
        assert first["env"]["AGENTCONSOLE_CALL_ID"] == call_id
        assert first["env"]["AGENTCONSOLE_EVENT"] == "incoming"

        await client.call("answer")
        await client.event("confirmed", call_id)
        await wait_until(lambda: len(http.requests) == 1, 15, "the confirmed HTTP hook")
        pop = http.requests[0]
        assert pop["method"] == "GET"
        query = parse_qs(urlsplit(pop["target"]).query)
        assert query == {"n": [customer.number], "who": [customer.name], "q": [queue.name],
                         "id": [call_id]}
        assert " " not in pop["target"] and "+" not in pop["target"]  # percent-encoded

        await client.call("hangup")
        await client.event("ended", call_id)
        await wait_until(lambda: len(http.requests) == 2, 15, "the ended HTTP hook")
        log = http.requests[1]
        assert log["method"] == "POST" and unquote(log["target"]) == f"/log/{call_id}"
        assert log["headers"]["x-agent"] == "1001 ended"
        assert log["headers"]["content-type"] == "application/json"
        body = json.loads(log["body"])
        assert body["call_id"] == call_id and body["answered"] == "true"
        assert body["cause"] == "Terminated" and body["duration"].isdigit()
        assert body["name"] == customer.name and body["event"] == "ended"

        await client.call("wrapup", code="Sale", notes="upsold; call back friday")
        await wait_until(lambda: out.read_text().count("\n") == 2, 15, "the wrapup hook")
        wrapup = json.loads(out.read_text().splitlines()[1])
        assert wrapup["argv"] == ["Sale", "upsold; call back friday", queue.name]
        assert not [e for e in client.events if e["event"] == "hook_failed"]
    finally:
        await client.close()


async def test_a_hanging_hook_does_not_delay_the_next_call_and_is_reported(
        demo: DemoRunner, make_agent: MakeAgent, short_dir: Path, http: HttpRecorder) -> None:
    hooks = [
        {"event": "incoming", "run": ["tail", "-f", "/dev/null"], "timeout_s": 120},
        {"event": "incoming", "url": f"http://127.0.0.1:{http.port}/hang", "timeout_s": 0.5},
        {"event": "confirmed", "run": ["false"]},
    ]
    agent = await make_agent(demo_agent(demo, short_dir, hooks=hooks))
    notices: list[tuple[str, str]] = []
    agent.integration.on("notice", lambda title, text, *_: notices.append((title, text)))
    client = await agent.client()
    runner = agent.integration.hooks
    try:
        await client.call("subscribe")
        for _ in range(2):
            ring = await _next_incoming(client, demo)
            answered = await client.call("answer", call_id=ring["call_id"])
            assert answered["call_status"] == "talking"
            assert runner.running >= 1  # the first call's program still hangs
            await client.call("hangup", call_id=ring["call_id"])
            await client.event("ended", ring["call_id"])
        failed = await client.event("hook_failed", error="timed out after 0.5 s")
        assert failed["hook_event"] == "incoming" and failed["target"] == "127.0.0.1"
        await client.event("hook_failed", error="exited with status 1")
        await wait_until(lambda: any("timed out" in text for _t, text in notices), 5)
        assert all(title == "Hook failed" for title, _text in notices)
    finally:
        await client.close()


async def _next_incoming(client: Any, demo: DemoRunner) -> dict[str, Any]:
    """A new customer call, as the socket announces it."""
    count = len([e for e in client.events if e["event"] == "incoming"])
    await customer_call(demo)
    await wait_until(lambda: len([e for e in client.events if e["event"] == "incoming"])
                     > count, 15, "the next incoming call")
    return [e for e in client.events if e["event"] == "incoming"][-1]


def test_hook_variables_from_events() -> None:
    values = hook_variables({"event": "failed", "call_id": "c", "number": "+1", "cause":
                             "Canceled", "code": 487, "duration": 0.0, "answer_time": None,
                             "time": 0})
    assert values["event"] == "ended" and values["answered"] == "false"
    assert values["code"] == "487" and values["duration"] == "0"
    assert values["time"] == "1970-01-01T00:00:00+00:00" and values["wrapup_code"] == ""
    state = hook_variables({"event": "agent_state", "state": "away", "reason": None})
    assert state["state"] == "away" and state["reason"] == "" and state["answered"] == ""
