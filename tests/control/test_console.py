"""The console and a socket client on one phone: each acts on the same call and each sees
what the other did (Pilot drives the console; the phone is real, on the demo switch)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentconsole import Phone
from agentconsole.control.integration import Integration
from agentconsole.demo.runner import DemoRunner
from agentconsole.history import CallHistory
from agentconsole.ui.app import AgentConsoleApp
from agentconsole.ui.screens.dialogs import WrapupForm
from agentconsole.ui.widgets import CallList, IncomingQueue
from tests.ui.conftest import frozen_clock
from tests.waiting import wait_until

from .conftest import demo_agent
from .rpc import RpcClient


@pytest.fixture
async def console(demo: DemoRunner, short_dir: Path
                  ) -> AsyncIterator[tuple[AgentConsoleApp, Integration]]:
    """What ``agentconsole`` builds (ui_main.console_app), with a test history and clock."""
    config = demo_agent(demo, short_dir, agent={"wrapup": {"codes": ["Resolved", "Follow-up"]}},
                        hooks=[{"event": "confirmed", "run": ["false"]}])
    phone = Phone(config)
    integration = Integration(phone, config)
    history = CallHistory(short_dir / "history.sqlite3")
    app = AgentConsoleApp(config, phone=phone, integration=integration, history=history,
                          clock=frozen_clock())
    await integration.start()
    try:
        yield app, integration
    finally:
        await phone.stop()
        await integration.stop()
        history.close()


def panel_state(app: AgentConsoleApp, call_id: str) -> str | None:
    panel = app.main.query_one(CallList).panel(call_id)
    return panel.view.state if panel is not None and panel.view is not None else None


async def test_socket_and_console_keys_act_on_one_outgoing_call(
        console: tuple[AgentConsoleApp, Integration]) -> None:
    app, integration = console
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(lambda: app.registration[1] is True, 10, "registration")
        client = await RpcClient.connect(integration.socket_path)
        try:
            await client.call("subscribe")
            call_id = (await client.call("dial", number="600"))["call_id"]  # socket dials
            await client.event("confirmed", call_id)
            await wait_until(lambda: panel_state(app, call_id) == "TALKING", 10,
                             "the console to show the socket's call")
            assert app.main.selected == call_id
            await client.event("hook_failed", error="exited with status 1")
            await wait_until(lambda: any(n.title == "Hook failed" and "false" in n.message
                                         for n in app._notifications), 5,
                             "the failed hook's toast")

            await pilot.press("space")  # the console holds: the socket sees it
            held = await client.event("hold", call_id)
            assert held["is_hold"] is True
            await wait_until(lambda: panel_state(app, call_id) == "HELD", 10)
            await client.call("unhold")  # the socket resumes: the console shows it
            await wait_until(lambda: panel_state(app, call_id) == "TALKING", 10,
                             "the console to show the resume")

            await pilot.press("f6")  # auto-answer from the console key
            assert (await client.event("auto_answer"))["enabled"] is True
            await pilot.pause()
            assert app.main.header_view().auto_answer.startswith("AUTO")
            await client.call("auto_answer", enabled=False)  # and off from the socket
            await wait_until(lambda: app.main.header_view().auto_answer == "", 5)

            await pilot.press("h", "h")
            ended = await client.event("ended", call_id)
            assert ended["cause"] == "Terminated"
            await wait_until(lambda: isinstance(app.screen, WrapupForm), 10, "the wrap-up form")
            await pilot.press("down", "down", "enter", *"crm", "enter")
            wrapup = await client.event("wrapup", call_id)
            assert (wrapup["wrapup_code"], wrapup["notes"]) == ("Follow-up", "crm")
            assert wrapup["number"] == "600"
            assert client.names(call_id) == ["outgoing", "confirmed", "hook_failed", "hold",
                                              "unhold", "ended", "wrapup"]
        finally:
            await client.close()


async def test_an_incoming_call_popped_on_the_socket_and_answered_by_key(
        demo: DemoRunner, console: tuple[AgentConsoleApp, Integration]) -> None:
    app, integration = console
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(lambda: app.registration[1] is True, 10, "registration")
        client = await RpcClient.connect(integration.socket_path)
        try:
            await client.call("subscribe", events=["incoming", "confirmed", "ended",
                                                   "agent_state"])
            assert demo.caller is not None and demo.caller.call_now()
            ring = await client.event("incoming")
            call_id = ring["call_id"]
            customer = next(iter(demo.caller.active.values()))
            assert (ring["name"], ring["queue"], ring["did"]) == (
                customer.customer.name, customer.queue.name, customer.queue.did)
            await wait_until(lambda: app.main.query_one(IncomingQueue).row_count == 1, 10)
            await pilot.press("a")  # the console answers
            await client.event("confirmed", call_id)
            await wait_until(lambda: panel_state(app, call_id) == "TALKING", 10)
            await client.call("hangup", call_id=call_id)  # the socket hangs up
            await client.event("ended", call_id)
            await wait_until(lambda: isinstance(app.screen, WrapupForm), 10,
                             "the console's wrap-up after the socket's hang-up")
            state = await client.event("agent_state", state="acw")  # the console's ACW
            assert state["reason"] in (None, "")
            await client.call("agent_state", state="dnd")  # the socket: the header follows
            await wait_until(lambda: app.agent_state.label.startswith("DND")
                             or "Do not" in app.agent_state.label, 5)
        finally:
            await client.close()
