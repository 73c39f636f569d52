"""``examples/crm.js`` — a CRM script that knows only the socket's contract — against the
demo switch: it sees the agent, pops the caller on ``incoming``, dials, logs each call's
end and wrap-up."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agentconsole.demo.runner import DemoRunner
from tests.interop.rig import require
from tests.waiting import wait_until

from .conftest import MakeAgent, demo_agent

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "crm.js"


class Lines:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        assert process.stdout is not None
        self.task = asyncio.get_running_loop().create_task(self._read(process.stdout))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode().rstrip("\n"))

    async def wait(self, text: str, timeout: float = 15.0) -> str:
        await wait_until(lambda: any(text in line for line in self.lines), timeout,
                         f"crm.js to print {text!r} (so far: {self.lines})")
        return next(line for line in self.lines if text in line)

    async def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()


async def test_the_node_crm_script_pops_dials_and_logs(
        demo: DemoRunner, make_agent: MakeAgent, short_dir: Path) -> None:
    node = require("node")  # nodejs: a missing package skips here and fails in CI
    agent = await make_agent(demo_agent(demo, short_dir))
    log = short_dir / "calls.log"
    process = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), "--socket", str(agent.socket), "--log", str(log),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    crm = Lines(process)
    helper = await agent.client()
    try:
        await crm.wait("registered, agent available")
        await crm.wait("subscribed to")
        await helper.call("agent_state", state="away", reason="Coffee")
        await crm.wait("agent is away (Coffee)")
        await helper.call("agent_state", state="available")

        assert demo.caller is not None and demo.caller.call_now()
        customer = next(iter(demo.caller.active.values()))
        pop = await crm.wait("POP ")
        assert customer.customer.name in pop and customer.queue.name in pop
        assert "phone=%2B1555" in pop  # the number percent-encoded into the CRM link
        await helper.call("answer")  # the agent answers (in the console, say)
        await crm.wait(f"talking with {customer.customer.name}")
        await crm.send("hangup")
        await crm.wait("call with " + customer.customer.name)
        await crm.send("wrapup Resolved refund sent")
        await crm.wait("filed the wrap-up")
        wrapup = await crm.wait(": Resolved - refund sent")
        assert wrapup.split(" ", 1)[1].startswith("wrap-up of " + customer.customer.name)

        await crm.send("dial 600")  # click-to-dial
        dialled = await crm.wait("dialled 600: call ")
        call_id = dialled.rsplit(" ", 1)[1]
        await crm.wait("talking with 600")
        await crm.send("hangup")
        await wait_until(lambda: log.exists() and log.read_text().count("\n") == 3, 15)
        records = [json.loads(line) for line in log.read_text().splitlines()]
        assert [r["type"] for r in records] == ["call", "wrapup", "call"]
        assert records[0]["number"] == customer.customer.number and records[0]["answered"]
        assert records[0]["queue"] == customer.queue.name
        assert records[1]["code"] == "Resolved" and records[1]["notes"] == "refund sent"
        assert records[2]["call_id"] == call_id and records[2]["direction"] == "outbound"
    finally:
        await helper.close()
        process.kill()
        await process.wait()
        crm.task.cancel()
