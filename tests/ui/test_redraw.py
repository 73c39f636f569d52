"""The console redraws only what changed: the tick touches timers, a selection move two
panels, a call event one panel, and the footer follows the selected call's state at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from rich.cells import cell_len
from textual.geometry import Region

from agentconsole.ui.app import AgentConsoleApp
from agentconsole.ui.widgets import CallPanel, IncomingQueue, KeyFooter
from agentconsole.ui.widgets.queue import QueueLine, column_widths, ring_x

from .fakes import FakePhone, FakeSession

MakeApp = Callable[..., tuple[AgentConsoleApp, FakePhone]]


def footer_actions(app: AgentConsoleApp) -> set[str]:
    return {action for _key, action, enabled in app.main.query_one(KeyFooter).shown()
            if enabled}


def panels(app: AgentConsoleApp) -> dict[str, CallPanel]:
    return {p.call_id: p for p in app.main.query(CallPanel)}


async def two_talking_one_ringing(app: AgentConsoleApp, phone: FakePhone, pilot: object
                                  ) -> list[FakeSession]:
    first = phone.ring("2001", "Ann", "Acme")
    second = phone.ring("2002", "Ben", "Acme")
    await first.answer()
    await second.answer()
    third = phone.ring("3001", "Cat", "Initech", queue="sales")
    return [first, second, third]


class SlowAnswer(FakeSession):
    """A session whose answer takes a while before the call is up (media set-up, as the
    real Session prepares its SDP answer before it sends the 200 OK)."""

    release: asyncio.Event

    async def answer(self) -> FakeSession:
        await self.release.wait()
        return await super().answer()


async def test_tick_rewrites_timers_only(make_app: MakeApp,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    app, phone = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        first, second, third = await two_talking_one_ringing(app, phone, pilot)
        await pilot.pause()
        before = {cid: p.view for cid, p in panels(app).items()}
        first.set_timer(call_duration=61)
        third.set_timer(ring_duration=7)
        refreshes: list[tuple[str, bool]] = []
        original = CallPanel.refresh

        def spy(self: CallPanel, *regions: Region, **kwargs: Any) -> CallPanel:
            refreshes.append((self.call_id, bool(kwargs.get("layout")) or not regions))
            return original(self, *regions, **kwargs)

        monkeypatch.setattr(CallPanel, "refresh", spy)
        app._tick()
        await pilot.pause()
        monkeypatch.setattr(CallPanel, "refresh", original)
        after = {cid: p.view for cid, p in panels(app).items()}
        assert after[first.call_id].timers.startswith("Talk 01:01")
        assert after[second.call_id] == before[second.call_id]  # untouched
        # one partial repaint (the timer row) of the one panel whose timer moved
        assert refreshes == [(first.call_id, False)]
        assert app.main.query_one(IncomingQueue).cell(third.call_id, "ring") == "00:07"
        assert "Talk 01:01" in str(panels(app)[first.call_id].render())


async def test_moving_the_selection_restyles_two_panels(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        calls = [phone.ring(f"20{i:02d}", f"Talker {i}") for i in range(4)]
        for call in calls:
            await call.answer()
        await pilot.pause()
        app.main.select_call(calls[0].call_id)
        await pilot.pause()
        before = {cid: p.view for cid, p in panels(app).items()}
        await pilot.press("down")
        after = {cid: p.view for cid, p in panels(app).items()}
        changed = {cid for cid in before if before[cid] != after[cid]}
        assert changed == {calls[0].call_id, calls[1].call_id}
        assert panels(app)[calls[1].call_id].has_class("-selected")
        assert not panels(app)[calls[0].call_id].has_class("-selected")
        assert str(panels(app)[calls[1].call_id].border_title).startswith("▶ 2")


async def test_a_status_change_redraws_that_call_and_keeps_the_footer(
        make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        first, second, _third = await two_talking_one_ringing(app, phone, pilot)
        app.main.select_call(second.call_id)
        await pilot.pause()
        footer = app.main.query_one(KeyFooter)
        keys_before = footer.shown()
        builds: list[int] = []
        original = footer._build
        footer._build = lambda width: builds.append(width) or original(width)  # type: ignore[method-assign]
        before = panels(app)[first.call_id].view
        second.report(4.1, loss=0.01, jitter=3)  # a call report: the panel only
        await pilot.pause()
        assert "MOS 4.1" in str(panels(app)[second.call_id].render())
        assert footer.shown() == keys_before and builds == []  # same bindings: not rebuilt
        await pilot.press("m")
        await pilot.pause()
        assert "MUTED" in str(panels(app)[second.call_id].render())
        assert panels(app)[first.call_id].view == before
        assert footer.shown() == keys_before and len(builds) == 1  # "Mute" -> "Unmute"
        assert "Unmute" in str(footer.render())


async def test_queue_rows_are_reused_when_a_call_leaves(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        calls = [phone.ring(f"30{i:02d}", f"Caller {i}") for i in range(3)]
        await pilot.pause()
        queue = app.main.query_one(IncomingQueue)
        kept = {line.row.call_id: line for line in queue.query(QueueLine)}
        calls[0].reject()
        await pilot.pause()
        assert queue.row_count == 2
        assert queue.row_ids() == [calls[1].call_id, calls[2].call_id]
        now = {line.row.call_id: line for line in queue.query(QueueLine)}
        assert now[calls[2].call_id] is kept[calls[2].call_id]  # the same widget, reused
        assert queue.cell(calls[2].call_id, "line").strip() == "2"  # renumbered 3 -> 2
        assert queue.cell(calls[2].call_id, "name") == "Caller 2"


async def test_the_tick_repaints_only_the_ring_cells_of_a_queue_line(
        make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    app, phone = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        calls = [phone.ring(f"30{i:02d}", f"Caller {i}") for i in range(3)]
        await pilot.pause()
        calls[1].set_timer(ring_duration=12)
        refreshes: list[tuple[str, tuple[Region, ...]]] = []
        original = QueueLine.refresh

        def spy(self: QueueLine, *regions: Region, **kwargs: Any) -> QueueLine:
            refreshes.append((self.row.call_id, regions))
            return original(self, *regions, **kwargs)

        monkeypatch.setattr(QueueLine, "refresh", spy)
        app.main.refresh_timers()
        monkeypatch.setattr(QueueLine, "refresh", original)
        line = next(q for q in app.main.query(QueueLine) if q.row.call_id == calls[1].call_id)
        x = ring_x(line.size.width)
        assert refreshes == [(calls[1].call_id, (Region(x, 0, 6, 1),))]
        await pilot.pause()
        assert str(line.render())[x:x + 5] == "00:12"


def test_queue_columns_share_out_a_wide_terminal() -> None:
    narrow = column_widths(75)  # the minimum: 80 columns less borders and a scrollbar
    assert narrow == {"line": 3, "name": 16, "number": 14, "company": 14, "queue": 11,
                      "ring": 6}
    wide = column_widths(200)
    assert wide["name"] == 32 and wide["company"] == 30 and wide["queue"] == 24
    assert wide["number"] == 20 and wide["ring"] == 6
    middle = column_widths(106)
    assert sum(middle.values()) + 2 * 5 + 1 == 106  # every spare cell is used
    assert middle["name"] > narrow["name"] and middle["company"] > narrow["company"]


async def test_footer_drops_answer_while_the_answer_is_in_progress(make_app: MakeApp) -> None:
    """An answer that takes seconds (media set-up) must not leave Answer/Reject in the
    footer: the call is taken as soon as the key is pressed, and the console stays live."""
    app, phone = make_app(session_class=SlowAnswer)
    SlowAnswer.release = asyncio.Event()
    async with app.run_test(size=(120, 40)) as pilot:
        session = phone.ring("5551", "Carol")
        await pilot.pause()
        assert "call_answer" in footer_actions(app)
        press = asyncio.create_task(pilot.press("a"))
        try:
            shown = footer_actions(app)
            for _ in range(100):  # the answer is held back by SlowAnswer.release
                await pilot.pause()  # let the app process what the key press queued
                shown = footer_actions(app)
                if shown and "call_answer" not in shown:
                    break
            assert session.status.is_ring and not SlowAnswer.release.is_set()
            assert shown and "call_answer" not in shown and "call_reject" not in shown
        finally:
            SlowAnswer.release.set()
            await press
        await pilot.pause()
        assert session.status.call_status == "talking"
        assert "call_mute" in footer_actions(app)
        assert session.actions == [("answer", ())]


async def test_call_ids_that_look_alike_do_not_collide(make_app: MakeApp,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Call-IDs come from the network: two that differ only in characters a DOM id cannot
    hold ("a@b" and "a_b") must both be shown, in the queue and as panels."""
    app, phone = make_app()
    ids = iter(["x@pbx", "x_pbx", "x.pbx"])
    monkeypatch.setattr(phone, "_next_id", lambda: next(ids))
    async with app.run_test(size=(120, 40)) as pilot:
        calls = [phone.ring(f"30{i:02d}", f"Caller {i}") for i in range(3)]
        await pilot.pause()
        assert app.main.query_one(IncomingQueue).row_ids() == ["x@pbx", "x_pbx", "x.pbx"]
        await calls[0].answer()
        await calls[1].answer()
        await pilot.pause()
        assert set(panels(app)) == {"x@pbx", "x_pbx"}


async def test_wide_characters_keep_the_queue_columns_aligned(make_app: MakeApp) -> None:
    """Column widths are terminal cells: a CJK name (two cells a character) is cut to
    its column like any other, so every line's Ring time starts in the same cell."""
    app, phone = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        phone.ring("3001", "山田太郎山田太郎山田太郎山田太郎", "株式会社テスト商事ホールディングス")
        phone.ring("3002", "Ann", "Acme")
        await pilot.pause()
        lines = list(app.main.query(QueueLine))
        x = ring_x(lines[0].size.width)
        for line in lines:
            text = line.render()
            assert text.cell_length <= line.size.width
            cells = "".join(ch + ("\0" if cell_len(ch) == 2 else "") for ch in str(text))
            assert cells[x:x + 5] == "00:00", str(text)
