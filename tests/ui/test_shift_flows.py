"""What an agent ran into working a shift: each test is one of those situations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentconsole.softphone.agent import AgentStatus
from agentconsole.ui.app import AgentConsoleApp
from agentconsole.ui.screens.dialogs import WrapupForm
from agentconsole.ui.widgets import KeyFooter, StatusHeader

from .conftest import make_config
from .fakes import FakePhone

MakeApp = Callable[..., tuple[AgentConsoleApp, FakePhone]]
WRAPUP = {"wrapup": {"codes": ["Sale", "No sale"]}}


def toasts(app: AgentConsoleApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


async def test_reject_acts_on_the_selected_ringing_call_only(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        talking = phone.ring("5551", "Kwame")
        await pilot.pause()
        await pilot.press("a")
        ringing = phone.ring("5552", "Ivan")
        await pilot.pause()
        app.main.select_call(talking.call_id)
        await pilot.press("r")
        await pilot.pause()
        assert ringing.status.is_ring and not ringing.actions  # not rejected
        assert "call_reject" not in {a for _k, a, _e in app.main.query_one(KeyFooter).shown()}
        await pilot.press("down", "r")
        await pilot.pause()
        assert ringing.actions == [("reject", (None,))] or ringing.actions[0][0] == "reject"


async def test_one_consult_at_a_time(make_app: MakeApp) -> None:
    app, phone = make_app(make_config(calls={"max_calls": 4}))
    async with app.run_test(size=(100, 30)) as pilot:
        customer = phone.ring("5551", "Carol")
        await pilot.pause()
        await pilot.press("a", "T", *"2002", "enter")
        await pilot.pause()
        app.main.select_call(customer.call_id)
        await pilot.pause()
        assert "call_consult" not in {a for _k, a, _e in app.main.query_one(KeyFooter).shown()}
        await pilot.press("T")
        await pilot.pause()
        assert phone.dialled == [("2002", customer.call_id)]
        assert app.focused is None  # the dial bar did not open for a second consult


async def test_tab_with_one_call_stays_on_the_calls(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        session = phone.ring("5551", "Carol")
        await pilot.pause()
        await pilot.press("tab", "a")
        await pilot.pause()
        assert app.focused is None and session.status.call_status == "talking"


async def test_wrapup_waits_until_the_calls_are_over_and_keeps_a_draft(
        make_app: MakeApp) -> None:
    app, phone = make_app(make_config(agent=WRAPUP))
    async with app.run_test(size=(100, 30)) as pilot:
        first = phone.ring("5551", "Carol")
        second = phone.ring("5552", "Dave")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("a")  # Carol is held
        await pilot.pause()
        first.finish("ended", "Normal")  # the held caller hangs up, Dave still talking
        await pilot.pause()
        assert not isinstance(app.screen, WrapupForm)
        assert app.agent_state.status is AgentStatus.AVAILABLE  # callers still ring
        assert "1 wrap-up (w)" in str(app.main.query_one(StatusHeader).render())
        await pilot.press("w")  # the agent may open it now anyway
        await pilot.pause()
        assert isinstance(app.screen, WrapupForm)
        await pilot.press("down", "down", "enter", *"half done", "escape")  # later
        await pilot.pause()
        assert not isinstance(app.screen, WrapupForm) and app.wrapup.filed == []
        second.finish("ended", "Normal")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, WrapupForm) and app.agent_state.status is AgentStatus.ACW
        assert "Carol" in form.about and "1 of 2" in form.about
        assert form.chosen == "No sale"  # the draft is back
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.wrapup.filed[-1].code == "No sale" and app.wrapup.filed[-1].notes == "half done"
        assert isinstance(app.screen, WrapupForm) and "Dave" in app.screen.about
        assert app.agent_state.status is AgentStatus.ACW
        await pilot.press("down", "ctrl+s")
        await pilot.pause()
        assert app.agent_state.status is AgentStatus.AVAILABLE


async def test_the_footer_under_a_popup_shows_the_popups_keys(make_app: MakeApp) -> None:
    app, phone = make_app(make_config(agent=WRAPUP))
    async with app.run_test(size=(100, 30)) as pilot:
        session = phone.ring("5551", "Carol")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        phone.ring("5552", "Dave")  # rings on while the agent wraps up Carol's call
        session.finish("ended", "Normal")
        await pilot.pause()
        assert isinstance(app.screen, WrapupForm)
        shown = {action for _k, action, _e in app.main.query_one(KeyFooter).shown()}
        assert {"later", "file"} <= shown and "call_answer" not in shown
        await pilot.press("escape")
        await pilot.pause()
        shown = {action for _k, action, _e in app.main.query_one(KeyFooter).shown()}
        assert "call_answer" in shown


async def test_turned_away_calls_are_shown_and_kept(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        phone.emit("refused", {"call_id": "r-1", "number": "+15550100108",
                               "name": "Hana Sato", "code": 480, "reason": "Away (Meeting)"})
        await pilot.pause()
        assert any("Hana Sato (+15550100108): Away (Meeting) (480)" in t for t in toasts(app))
        assert app.history is not None
        (entry,) = app.history.recent()
        assert (entry.name, entry.disposition, entry.end_code) == ("Hana Sato", "refused", 480)
        assert app.missed == 1  # to call back


async def test_a_failed_dial_says_why(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("d", *"9999", "enter")
        await pilot.pause()
        (session,) = phone.sessions.values()
        session.end_code = 404
        session.finish("failed", "Not Found")
        await pilot.pause()
        assert any(t == "Call failed: 9999: Not Found (404)" for t in toasts(app))


async def test_a_named_call_back_keeps_its_name_in_the_history(make_app: MakeApp) -> None:
    app, phone = make_app(make_config(directory=[{"name": "Dana Ortiz", "number": "2001"}]))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("d", *"2001", "enter")
        await pilot.pause()
        (session,) = phone.sessions.values()
        assert session.status.name == "Dana Ortiz"
        assert app.history is not None
        entry: Any = app.history.get(session.call_id)
        assert entry.name == "Dana Ortiz"


async def test_toggle_keys_say_what_they_do_now(make_app: MakeApp) -> None:
    app, phone = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        phone.ring("5551", "Carol")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        footer = app.main.query_one(KeyFooter)

        def line() -> str:
            return str(footer.render())

        assert "Hold" in line() and "Mute" in line() and "Unmute" not in line()
        await pilot.press("m", "space")
        await pilot.pause()
        assert "Unmute" in line() and "Resume" in line()
