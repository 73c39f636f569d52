"""The SDK's Phone-level surface (``reference/sdk-parity.md`` §1.2–1.3) on two phones over
loopback: per-call methods by call id, ``get_sessions``, ``set_session_static_status``,
``answer`` options, ``destroy`` freeing its place, and the call id every Session event
carries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from agentconsole import AgentConsoleError, Phone, Session, TimerType
from agentconsole.transport.driver import TraceEntry
from tests.test_two_phones import make_pair
from tests.waiting import wait_until

UNKNOWN = "no-such-call"


@asynccontextmanager
async def phones(tmp_path: Path, calls_b: str = "") -> AsyncIterator[tuple[Phone, Phone, str]]:
    """Two started phones (``calls_b``: the callee's config), stopped afterwards."""
    a, b, target = await make_pair(tmp_path, calls_b=calls_b)
    try:
        yield a, b, target
    finally:
        await a.stop()
        await b.stop()


async def ringing(a: Phone, b: Phone, target: str,
                  progress: list[Any] | None = None) -> tuple[Session, Session]:
    incoming: list[Session] = []
    b.on("incoming", incoming.append)
    out = await a.call(target)
    if progress is not None:
        out.on("progress", progress.append)
    await wait_until(lambda: bool(incoming) and progress != [], 10)
    return out, incoming[0]


async def test_per_call_methods_by_call_id(tmp_path: Path) -> None:
    extra = f"calls:\n  dial_rate_limit_s: 0\nrecording:\n  directory: \"{tmp_path}\"\n"
    async with phones(tmp_path, extra) as (a, b, target):
        wire: list[TraceEntry] = []
        a.add_trace_hook(wire.append)
        progress: list[Any] = []
        out, inbound = await ringing(a, b, target, progress)
        for unknown in (b.hangup(UNKNOWN), b.reject(UNKNOWN), b.mute(UNKNOWN),
                        await b.hold(UNKNOWN), await b.dtmf(UNKNOWN, "1"),
                        await b.blind_transfer(UNKNOWN, "1003"),
                        b.set_session_static_status(UNKNOWN, name="x")):
            assert unknown is False  # the SDK's answer for a call id nobody has
        with pytest.raises(AgentConsoleError) as info:
            await b.answer(UNKNOWN)
        assert info.value.code == -211
        assert b.get_sessions() == [inbound]
        assert await b.answer(inbound.call_id, extra_headers=["X-Agent-Desk: 12"]) is inbound
        await wait_until(lambda: out.status.call_status == "talking", 10)
        ok = [e.data for e in wire if e.direction == "in" and e.data.startswith(b"SIP/2.0 200")
              and b" INVITE\r\n" in e.data]
        assert ok and b"X-Agent-Desk: 12\r\n" in ok[0]
        assert b.mute(inbound.call_id) and inbound.status.is_mute
        assert b.unmute(inbound.call_id) and not inbound.status.is_mute
        assert await b.hold(inbound.call_id) and inbound.status.is_hold
        assert await b.unhold(inbound.call_id) and not inbound.status.is_hold
        assert await b.start_record(inbound.call_id) and inbound.status.record_status == \
            "recording"
        assert await b.pause_record(inbound.call_id) and inbound.status.record_status == "pause"
        assert b.set_session_static_status(inbound.call_id, name="Ann", manual=True)
        assert inbound.status.name == "Ann"
        assert await b.dtmf(inbound.call_id, "5")
        assert b.hangup(inbound.call_id) and inbound.is_ended and b.get_sessions() == []
        await wait_until(lambda: out.is_ended, 10)
        assert 180 in progress and progress[0].call_id == out.call_id  # an int that names


async def test_destroy_frees_the_place_a_call_took(tmp_path: Path) -> None:
    full = "calls:\n  dial_rate_limit_s: 0\n  max_calls: 1\n"
    async with phones(tmp_path, full) as (a, b, target):
        deleted: list[dict[str, Any]] = []
        b.on("delete_session", deleted.append)
        _, inbound = await ringing(a, b, target)
        assert b.is_max_call
        inbound.destroy()
        assert deleted == [{"call_id": inbound.call_id, "cause": "Destroyed"}]
        assert b.sessions == {} and not b.is_max_call and b.incoming_list == []
        inbound.destroy()  # twice is harmless
        assert len(deleted) == 1


async def test_every_timer_tick_names_its_call(tmp_path: Path) -> None:
    async with phones(tmp_path) as (a, b, target):
        out, inbound = await ringing(a, b, target)
        ticks: list[TimerType] = []
        inbound.on("update_timer", ticks.append)
        await wait_until(lambda: bool(ticks), 5)
        assert ticks[0].call_id == inbound.call_id and ticks[0].ring_duration > 0
        assert inbound.timer.call_id == inbound.call_id
        out.hangup()
