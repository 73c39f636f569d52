"""Snapshot tests (pytest-textual-snapshot) at 80×24 and 120×40 with a frozen clock.

Update after an intended visual change with ``pytest tests/ui --snapshot-update`` and
review the SVGs in ``tests/ui/__snapshots__/``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from agentconsole.ui.app import AgentConsoleApp

from .conftest import frozen_clock, make_config
from .fakes import FakePhone

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
Setup = Callable[[AgentConsoleApp, FakePhone], Awaitable[None]]


def build() -> tuple[AgentConsoleApp, FakePhone]:
    config = make_config()
    phone = FakePhone(config)
    return AgentConsoleApp(config, phone=phone, clock=frozen_clock()), phone


def run_before(app: AgentConsoleApp, phone: FakePhone, setup: Setup | None) -> Any:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        if setup is not None:
            await setup(app, phone)
        await pilot.pause()
        app.clear_notifications()  # toasts would hide the layout under test
        await pilot.pause()

    return before


async def three_ringing(app: AgentConsoleApp, phone: FakePhone) -> None:
    phone.ring("+4930123456", "Carol Customer", "Globex", queue="Support", ring_s=42)
    phone.ring("+4930999888", "Dave Doe", "", did="800100", ring_s=17)
    phone.ring("5553", "", "Initech", queue="Sales", did="800200", ring_s=3)


async def talking_and_held(app: AgentConsoleApp, phone: FakePhone) -> None:
    first = phone.ring("+4930123456", "Carol Customer", "Globex", queue="Support")
    second = phone.ring("+4930999888", "Dave Doe", did="800100")
    await first.answer()
    await second.answer()  # auto-holds the first
    first.mute()
    first.set_timer(call_duration=312, hold_duration=45)
    second.set_timer(call_duration=75)
    for mos in (4.3, 4.1, 3.6, 2.9, 3.8, 4.2):
        second.report(mos, loss=0.004, jitter=7)
    app.main.selected = second.call_id
    app.main.sync()


@pytest.mark.parametrize("size", SIZES)
def test_idle(snap_compare: Any, size: tuple[int, int]) -> None:
    app, phone = build()
    assert snap_compare(app, terminal_size=size, run_before=run_before(app, phone, None))


@pytest.mark.parametrize("size", SIZES)
def test_three_ringing_calls(snap_compare: Any, size: tuple[int, int]) -> None:
    app, phone = build()
    assert snap_compare(app, terminal_size=size,
                        run_before=run_before(app, phone, three_ringing))


@pytest.mark.parametrize("size", SIZES)
def test_talking_and_held(snap_compare: Any, size: tuple[int, int]) -> None:
    app, phone = build()
    assert snap_compare(app, terminal_size=size,
                        run_before=run_before(app, phone, talking_and_held))


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Any, size: tuple[int, int]) -> None:
    app, phone = build()
    assert snap_compare(app, terminal_size=size, press=["question_mark"],
                        run_before=run_before(app, phone, None))
