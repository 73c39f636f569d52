"""Pilot tests of the main actions on a fake phone: keys in, phone/session calls and state out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agentconsole.errors import ConfigError
from agentconsole.softphone.agent import AgentStatus
from agentconsole.ui.app import AgentConsoleApp
from agentconsole.ui.screens.dialogs import AgentStateMenu, ConfirmQuit, WrapupForm
from agentconsole.ui.screens.help import HelpScreen
from agentconsole.ui.widgets import CallPanel, IncomingQueue, StatusHeader
from tests.waiting import wait_until

from .conftest import make_config
from .fakes import FakePhone, Refused, answered_then_ended

MakeApp = Callable[..., tuple[AgentConsoleApp, FakePhone]]


def header_text(app: AgentConsoleApp) -> str:
    return str(app.main.query_one(StatusHeader).render())


def panel(app: AgentConsoleApp, call_id: str) -> CallPanel:
    return next(p for p in app.main.query(CallPanel) if p.call_id == call_id)


async def test_idle_screen_shows_registration_and_agent_state(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert phone.started
        text = header_text(app)
        assert "Agent 1001" in text and "Registered" in text and "WSS" in text
        assert "Available 00:00" in text and "09:26:53" in text
        assert app.main.query_one(IncomingQueue).has_class("-empty")


async def test_answer_takes_the_selected_ringing_call(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        first = phone.ring("5551", "Carol")
        second = phone.ring("5552", "Dave")
        await pilot.pause()
        assert app.main.query_one(IncomingQueue).row_count == 2
        await pilot.press("down", "a")
        await pilot.pause()
        assert ("answer", ()) in second.actions and not first.actions
        assert second.status.call_status == "talking"
        assert "TALKING" in str(panel(app, second.call_id).border_title)
        assert app.main.query_one(IncomingQueue).row_count == 1


async def test_reject_uses_the_default_code(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        session = phone.ring("5551", "Carol")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert session.actions == [("reject", (None,))]
        assert not phone.sessions


async def test_hangup_of_a_talking_call_needs_a_second_press(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        session = phone.ring("5551", "Carol")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
        assert ("hangup", ()) not in session.actions
        await pilot.press("h")
        await pilot.pause()
        assert ("hangup", ()) in session.actions
        assert not app.main.query(CallPanel)


async def test_hold_resume_and_mute_toggle(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        session = phone.ring("5551", "Carol")
        await pilot.pause()
        await pilot.press("a", "space")
        await pilot.pause()
        assert session.status.is_hold
        assert "HELD" in str(panel(app, session.call_id).border_title)
        await pilot.press("space", "m")
        await pilot.pause()
        assert not session.status.is_hold and session.status.is_mute
        assert "MUTED" in str(panel(app, session.call_id).render())
        await pilot.press("m")
        await pilot.pause()
        names = [name for name, _ in session.actions]
        assert names == ["answer", "hold", "unhold", "mute", "unmute"]


async def test_dial_completes_a_directory_name_and_dials_its_number(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d", "a", "l", "i", "right", "enter")
        await pilot.pause()
        assert phone.dialled == [("1002", None)]
        assert "CALLING" in str(panel(app, "call-1").border_title)
        assert app.recent_numbers[0] == "1002"


async def test_escape_in_the_dial_bar_cancels_without_dialling(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d", "5", "escape")
        await pilot.pause()
        assert phone.dialled == [] and app.focused is None


async def test_digits_with_no_call_start_dialling_and_redial_repeats(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7", "0", "0", "enter")
        await pilot.pause()
        phone.sessions["call-1"].hangup()
        await pilot.pause()
        await pilot.press("D")
        await pilot.pause()
        assert phone.dialled == [("700", None), ("700", None)]


async def test_next_and_prev_move_the_selection_over_all_calls(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        calls = [phone.ring(f"555{i}") for i in range(3)]
        await pilot.pause()
        assert app.main.selected == calls[0].call_id
        await pilot.press("down", "down")
        assert app.main.selected == calls[2].call_id
        await pilot.press("down")
        assert app.main.selected == calls[0].call_id
        await pilot.press("up")
        assert app.main.selected == calls[2].call_id
        assert app.main.query_one(IncomingQueue).cursor_row == 2


async def test_help_lists_the_active_keymap(make_app: MakeApp) -> None:
    app, _phone = make_app(make_config(ui={"keymap": {"call.answer": "ctrl+a"}}))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("DataTable")
        assert table.get_row("call.answer")[0] == "ctrl+a"  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_offers_each_line_and_selects_it(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        calls = [phone.ring(f"555{i}", f"Caller {i}") for i in range(3)]
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.main)]
        assert "Line 3: Caller 2 (alt+3)" in titles
        assert not any(t.startswith("Line (") for t in titles)  # no generic "line 1"
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"Line 3")
        palette = app.screen

        def top_hit() -> str:  # the palette searches in a worker; wait for its answer
            options: Any = palette.query_one("CommandList")
            return str(options.get_option_at_index(0).prompt) if options.option_count else ""

        await wait_until(lambda: "Line 3" in top_hit())
        await pilot.press("enter")
        await pilot.pause()
        assert app.main.selected == calls[2].call_id


async def test_quit_without_calls_stops_the_phone(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert phone.stopped and app.return_code == 0


async def test_quit_with_a_call_up_asks_and_escape_stays(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        session = phone.ring("5551")
        await pilot.pause()
        await pilot.press("a", "ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuit)
        await pilot.press("escape")
        await pilot.pause()
        assert not phone.stopped and session.status.call_status == "talking"
        await pilot.press("ctrl+q", "y")
        await pilot.pause()
    assert phone.stopped and ("hangup", ()) in session.actions


async def test_keymap_from_config_remaps_an_action(make_app: MakeApp) -> None:
    config = make_config(ui={"keymap": {"call.answer": "enter", "call.reject": "x"}})
    app, phone = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        session = phone.ring("5551")
        await pilot.pause()
        await pilot.press("a")  # the old key does nothing now
        await pilot.pause()
        assert session.actions == []
        await pilot.press("enter")
        await pilot.pause()
        assert session.actions == [("answer", ())]


@pytest.mark.parametrize(("keymap", "needle"), [
    ({"call.answer": "h"}, "also bound to"),
    ({"call.hangup": "escape"}, "plain escape"),
    ({"call.nope": "z"}, "unknown action id"),
])
def test_bad_keymap_is_a_config_error(keymap: dict[str, str], needle: str) -> None:
    config = make_config(ui={"keymap": keymap})
    with pytest.raises(ConfigError) as info:
        AgentConsoleApp(config, phone=FakePhone(config))
    assert needle in str(info.value)
    assert "ui.keymap." in str(info.value)


async def test_dnd_refuses_new_calls_with_the_configured_code(make_app: MakeApp) -> None:
    app, phone = make_app(make_config(agent={"dnd_code": 480}))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, AgentStateMenu)
        options = app.screen.query_one("OptionList")
        labels = [str(options.get_option_at_index(i).prompt)  # type: ignore[attr-defined]
                  for i in range(options.option_count)]  # type: ignore[attr-defined]
        await pilot.press(*(["down"] * labels.index("Do not disturb")), "enter")
        await pilot.pause()
        assert app.agent_state.status is AgentStatus.DND
        with pytest.raises(Refused):  # the phone turns it away before it rings
            phone.ring("5551")
        await pilot.pause()
        assert [(r["code"], r["reason"]) for r in phone.refused] == [(480, "Do not disturb")]
        assert phone.sessions == {}
        assert "DND" in header_text(app)
        assert any("Do not disturb (480)" in n.message for n in app._notifications)


async def test_wrapup_after_an_answered_call_returns_to_previous_state(
        make_app: MakeApp) -> None:
    config = make_config(agent={"wrapup": {"codes": ["Sale", "No sale"], "required": True}})
    app, phone = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await answered_then_ended(phone, pilot)  # the caller hangs up
        assert isinstance(app.screen, WrapupForm)
        assert app.agent_state.status is AgentStatus.ACW
        await pilot.press("ctrl+s")  # required: refused without a code
        assert isinstance(app.screen, WrapupForm)
        await pilot.press("down", "down", "enter")
        await pilot.press("o", "k", "enter")
        await pilot.pause()
        assert app.wrapup.filed[-1].code == "No sale" and app.wrapup.filed[-1].notes == "ok"
        assert app.agent_state.status is AgentStatus.AVAILABLE


async def test_wrapup_files_the_highlighted_code(make_app: MakeApp) -> None:
    """What the agent sees highlighted is what ctrl+s files, without pressing enter."""
    config = make_config(agent={"wrapup": {"codes": ["Sale", "No sale", "Callback"]}})
    app, phone = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await answered_then_ended(phone, pilot)
        await pilot.press("down", "down", "down", "up", "ctrl+s")
        await pilot.pause()
        assert app.wrapup.filed[-1].code == "No sale"


async def test_two_calls_ending_together_each_get_a_wrapup_and_consult_legs_none(
        make_app: MakeApp) -> None:
    config = make_config(agent={"wrapup": {"codes": ["Sale", "No sale"]}},
                         calls={"max_calls": 3})
    app, phone = make_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        first = phone.ring("5551", "Carol")
        second = phone.ring("5552", "Dave")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("T", "1", "0", "0", "3", "enter")  # consult on Dave's call
        await pilot.pause()
        consult = next(s for s in phone.sessions.values() if s.status.is_transfer)
        assert app.main.selected == consult.call_id  # keys now act on the new call
        await consult.answer()
        await pilot.pause()
        consult.finish("ended", "Terminated")  # the colleague hangs up: no wrap-up
        first.finish("ended", "Normal")
        second.finish("ended", "Normal")
        await pilot.pause()
        assert isinstance(app.screen, WrapupForm)
        assert "Carol" in str(app.screen.query_one("Label").render())
        await pilot.press("down", "ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, WrapupForm)  # the next one, for Dave
        assert "Dave" in str(app.screen.query_one("Label").render())
        assert app.agent_state.status is AgentStatus.ACW
        await pilot.press("down", "down", "ctrl+s")
        await pilot.pause()
        assert [(w.name, w.code) for w in app.wrapup.filed] == [("Carol", "Sale"),
                                                           ("Dave", "No sale")]
        assert app.agent_state.status is AgentStatus.AVAILABLE


async def test_in_call_features_call_the_session_methods(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        session = phone.ring("5551")
        await pilot.pause()
        await pilot.press("a", "R", "P", "P", "4", "t", "1", "0", "0", "3", "enter")
        await pilot.pause()
        assert session.actions == [
            ("answer", ()), ("start_record", ()), ("pause_record", ()), ("resume_record", ()),
            ("dtmf", ("4",)), ("blind_transfer", ("1003",))]
        await pilot.press("T", "B", "o", "b", " ", "S", "a", "l", "e", "s", "enter")
        await pilot.pause()
        assert phone.dialled == [("1003", session.call_id)]
        consult: Any = phone.sessions["call-2"]
        consult.remote_answer()
        await pilot.pause()
        assert "Consult for" in str(panel(app, consult.call_id).render())
        await pilot.press("s", "c")
        await pilot.pause()
        assert consult.actions == [("set_static_status", ("Bob Sales", None)),  # directory
                                   ("swap", ()), ("attended_transfer", ())]


async def test_call_report_feeds_quality_and_sparkline(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        session = phone.ring("5551")
        await pilot.pause()
        await pilot.press("a")
        for mos in (4.5, 3.0, 1.0):
            session.report(mos, loss=0.02, jitter=12)
        await pilot.pause()
        body = str(panel(app, session.call_id).render())
        assert "MOS 1.0" in body and "loss 2.0%" in body and "jit 12ms" in body
        assert "█" in body and "▁" in body


async def test_one_tick_refreshes_ring_and_talk_timers(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        ringing = phone.ring("5551", ring_s=5)
        await pilot.pause()
        ringing.set_timer(ring_duration=65)
        app._tick()
        await pilot.pause()
        assert app.main.query_one(IncomingQueue).cell(ringing.call_id, "ring") == "01:05"
        timers = [t for t in app._timers if t.name == "console-tick"]
        assert len(timers) == 1


async def test_no_color_keeps_every_state_readable(make_app: MakeApp,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app, phone = make_app()
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        session = phone.ring("5551", "Carol")
        await pilot.pause()
        assert app.main.query_one(IncomingQueue).cell(session.call_id, "line") == "▶1"
        await pilot.press("a", "m", "space")
        await pilot.pause()
        body = str(panel(app, session.call_id).render())
        assert "MUTED" in body and "HELD" in body


@pytest.mark.parametrize(("name", "expected"), [
    ("agentconsole-high-contrast", "agentconsole-high-contrast"),
    ("agentconsole-light", "agentconsole-light"),
    ("no-such-theme", "agentconsole-dark"),
])
async def test_theme_comes_from_config(make_app: MakeApp, name: str, expected: str) -> None:
    app, _phone = make_app(make_config(ui={"theme": name}))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == expected
        if name != expected:
            assert any("not found" in n.message for n in app._notifications)


async def test_registration_failure_shows_in_the_header(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        phone.fail_registration("Rejected (403 Forbidden)")
        await pilot.pause()
        assert "Failed: Rejected (403 Forbidden)" in header_text(app)


async def test_away_state_rejects_with_away_code_and_timer_runs(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_agent_state(AgentStatus.AWAY, "Lunch")
        app.clock.advance(125)  # type: ignore[attr-defined]
        app._tick()
        await pilot.pause()
        assert "Away: Lunch 02:05" in header_text(app)
        with pytest.raises(Refused):
            phone.ring("5551")
        assert [(r["code"], r["reason"]) for r in phone.refused] == [(480, "Away (Lunch)")]


async def test_phone_side_agent_state_change_shows_in_the_header(make_app: MakeApp) -> None:
    """Auto-Away after a missed call is decided by the phone; the header follows it."""
    app, phone = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        phone.agent.set("away", "Missed call")  # what a ring-out does with auto-Away
        await pilot.pause()
        assert app.agent_state.status is AgentStatus.AWAY
        assert app.agent_state.reason == "Missed call"
        assert "Away: Missed call" in header_text(app)


def test_osc9_notification_cannot_be_broken_out_of() -> None:
    from agentconsole.ui.view import osc9_sequence

    seq = osc9_sequence("Incoming call: Eve\x07\x1b]52;c;ZXZpbA==\x07 +1555")
    assert seq.startswith("\x1b]9;") and seq.endswith("\x07")
    assert seq.count("\x07") == 1 and seq.count("\x1b") == 1
    assert "Incoming call: Eve" in seq and "+1555" in seq
