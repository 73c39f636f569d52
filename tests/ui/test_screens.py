"""Pilot tests of the history, devices and trace screens (fake phone, frozen clock)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable, Input, OptionList, Static

from agentconsole.ui.app import AgentConsoleApp
from agentconsole.ui.screens.devices import DevicesScreen
from agentconsole.ui.screens.history import HistoryDetail, HistoryScreen
from agentconsole.ui.screens.trace import TraceBuffer, TraceScreen
from agentconsole.ui.widgets import StatusHeader

from .conftest import make_config
from .fakes import FakeDevices, FakePhone, answered_then_ended, sound_card

MakeApp = Callable[..., tuple[AgentConsoleApp, FakePhone]]

INVITE = (b"INVITE sip:1001@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1\r\n"
          b"From: \"Carol\" <sip:5551@pbx>;tag=a\r\nTo: <sip:1001@pbx>\r\n"
          b"Call-ID: abc@pbx\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
RINGING = (b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1\r\n"
           b"Call-ID: abc@pbx\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
OPTIONS = (b"OPTIONS sip:1001@10.0.0.2 SIP/2.0\r\nCall-ID: ping@pbx\r\nCSeq: 7 OPTIONS\r\n"
           b"Content-Length: 0\r\n\r\n")


def header_text(app: AgentConsoleApp) -> str:
    return str(app.main.query_one(StatusHeader).render())


def table_rows(screen: Any) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_history_badge_search_details_and_call_back(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        answered = phone.ring("5551", "Carol Customer", "Globex")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        answered.finish("ended", "Terminated")
        phone.ring("5552", "Dave Doe").finish("failed", "Canceled")
        phone.ring("5553", "Erin").finish("failed", "Canceled")
        await pilot.pause()
        assert app.missed == 2 and "2 missed" in header_text(app)
        await pilot.press("f3")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        rows = table_rows(screen)
        assert [r[2] for r in rows] == ["Erin", "Dave Doe", "Carol Customer"]
        assert [r[4] for r in rows] == ["missed", "missed", "answered"]
        assert app.missed == 0 and app.history is not None
        assert app.history.missed_count() == 0
        await pilot.press("slash", *"glob")
        await pilot.pause()
        assert [r[3] for r in table_rows(screen)] == ["5551"]
        await pilot.press("enter", "enter")  # submit the search, then open the row
        await pilot.pause()
        assert isinstance(app.screen, HistoryDetail)
        text = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "Globex" in text and "answered" in text and "Terminated" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("D")
        await pilot.pause()
        assert app.screen is app.main and phone.dialled == [("5551", None)]
        assert "missed" not in header_text(app)
        back = phone.sessions[app.main.selected or ""]  # the call back, selected
        assert (back.status.number, back.status.name, back.status.company) == (
            "5551", "Carol Customer", "Globex")  # named from the history at once
        entry = app.history.get(back.call_id)
        assert entry is not None and entry.name == "Carol Customer"


async def test_history_detail_call_back_and_escape_back(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        phone.ring("5552", "Dave").finish("failed", "Canceled")
        await pilot.press("f3", "enter")
        await pilot.pause()
        assert isinstance(app.screen, HistoryDetail)
        await pilot.press("d")
        await pilot.pause()
        assert phone.dialled == [("5552", None)] and app.screen is app.main
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("f3")  # the same key goes back
        await pilot.pause()
        assert app.screen is app.main


async def test_wrapup_is_stored_in_the_history(make_app: MakeApp) -> None:
    config = make_config(agent={"wrapup": {"codes": ["Sale", "No sale"]}})
    app, phone = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        session = await answered_then_ended(phone, pilot, "Terminated")
        await pilot.press("down", "enter", *"vip", "enter")
        await pilot.pause()
        assert app.history is not None
        entry = app.history.get(session.call_id)
        assert entry is not None
        assert (entry.disposition, entry.wrapup_code, entry.wrapup_notes) == (
            "answered", "Sale", "vip")


async def test_dial_completes_names_from_the_history(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        phone.ring("+4930123456", "Zelda Caller").finish("failed", "Canceled")
        await pilot.pause()
        await pilot.press("d", "z", "e", "l", "right", "enter")
        await pilot.pause()
        assert phone.dialled == [("+4930123456", None)]


async def test_history_survives_an_unwritable_data_dir(
        make_app: MakeApp, tmp_path: Any, monkeypatch: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    app, phone = make_app()
    assert app.history is None and app.history_problem
    async with app.run_test(size=(80, 24)) as pilot:
        session = phone.ring("5551")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert session.status.call_status == "talking"
        await pilot.press("f3")
        await pilot.pause()
        empty = app.screen.query_one(".history--empty", Static)
        assert "history is off" in str(empty.render())


async def test_devices_pick_rescan_tone_and_meter(make_app: MakeApp) -> None:
    app, phone = make_app()
    probe = phone.devices = FakeDevices(sound_card())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        inputs = screen.query_one("#devices-input", OptionList)
        outputs = screen.query_one("#devices-output", OptionList)
        assert inputs.option_count == 2 and outputs.option_count == 3
        assert str(inputs.get_option_at_index(0).prompt).startswith("● HDA")
        await pilot.press("down", "enter")  # the headset as microphone
        await pilot.pause()
        assert app.audio_choice["input"] == "Jabra EVOLVE 20 MS: USB Audio"
        assert str(inputs.get_option_at_index(1).prompt).startswith("● Jabra")
        await pilot.press("l")
        await pilot.pause()
        meter = probe.meters[-1]
        assert meter.name.startswith("Jabra")
        meter.value = 0.5
        await pilot.pause(0.25)
        assert "50%" in str(screen.query_one("#devices-meter", Static).render())
        await pilot.press("tab", "down", "t")  # output list: second entry
        await app.workers.wait_for_complete()
        assert probe.tones == ["Jabra EVOLVE 20 MS: USB Audio"]
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert probe.rescans == 1
        await pilot.press("escape")
        await pilot.pause()
        assert meter.closed and app.screen is app.main


async def test_devices_no_device_state_then_a_headset_appears(make_app: MakeApp) -> None:
    app, phone = make_app()
    probe = phone.devices = FakeDevices([])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#devices-empty").display
        assert not screen.query_one("#devices-lists").display
        assert "No audio device found" in str(screen.query_one("#devices-empty",
                                                               Static).render())
        await pilot.press("t", "l")
        await pilot.pause()
        assert probe.tones == [] and probe.meters == []
        probe.after_rescan = sound_card()
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.query_one("#devices-lists").display
        assert not screen.query_one("#devices-empty").display


async def test_trace_lists_filters_and_follows_live(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        phone.trace("in", INVITE)  # collected before the screen is opened
        phone.trace("out", RINGING)
        await pilot.press("f5")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        rows = table_rows(screen)
        assert [r[1] for r in rows] == ["← in", "→ out"]
        assert rows[0][3] == "10.0.0.5:5060" and rows[0][2] == "UDP"
        assert rows[1][4] == "180 Ringing · INVITE"
        phone.trace("in", OPTIONS)
        await pilot.pause()
        assert len(table_rows(screen)) == 3
        assert screen.query_one(DataTable).cursor_row == 2  # follows the newest
        assert "OPTIONS sip:1001" in str(screen.query_one("#trace-text", Static).render())
        await pilot.press("slash", *"invite")
        await pilot.pause()
        assert len(table_rows(screen)) == 2
        await pilot.press("enter", "up")
        await pilot.pause()
        detail = str(screen.query_one("#trace-text", Static).render())
        assert "Call-ID: abc@pbx" in detail and "received from 10.0.0.5:5060" in detail
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main and app.trace.listener is None


async def test_trace_buffer_is_capped_and_the_screen_drops_evicted_rows(
        make_app: MakeApp) -> None:
    app, phone = make_app()
    app.trace = TraceBuffer(maxlen=5)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(4):
            phone.trace("in", OPTIONS)
        await pilot.press("f5")
        await pilot.pause()
        for _ in range(4):
            phone.trace("out", RINGING)
        await pilot.pause()
        assert len(app.trace.entries) == 5 and app.trace.seq == 8
        rows = table_rows(app.screen)
        assert len(rows) == 5 and [r[1] for r in rows].count("→ out") == 4
        assert isinstance(app.screen.query_one(Input), Input)
