"""The console in a holder (issue 15), seen from the console: the side channel's news
changes the header and the agent state (``remote.on_detach``), the detach key asks the
holder to let go, and the header says where the audio goes.

The holder is played by the test through a socketpair (its end of the side channel);
the phone is a real, unstarted :class:`Phone`, whose agent state the policy uses — or,
for the header's audio parts, a fake phone whose devices say where the audio goes.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from agentconsole import Phone, parse_config
from agentconsole.media.audio import NullBackend
from agentconsole.remote.link import ConsoleLink
from agentconsole.remote.protocol import LineReader, line
from agentconsole.softphone.api import AudioRoute
from agentconsole.ui.app import AgentConsoleApp
from agentconsole.ui.widgets import HeaderView, StatusHeader
from tests.waiting import wait_until

from .conftest import frozen_clock
from .fakes import FakePhone

CONFIG = """
account:
  aor: "sip:1001@127.0.0.1"
  display_name: "Agent 1001"
  register: false
remote:
  on_detach: {policy}
"""


@pytest.fixture
def side() -> Iterator[tuple[socket.socket, socket.socket]]:
    holder_end, console_end = socket.socketpair()
    try:
        yield holder_end, console_end
    finally:
        holder_end.close()
        console_end.close()


def console(console_end: socket.socket | None, policy: str = "away", *,
            over_ssh: bool = False, extra: str = "") -> AgentConsoleApp:
    """The console as ui_main builds it in a holder: the link on the same phone."""
    config = parse_config(CONFIG.format(policy=policy) + extra, env={})
    phone = Phone(config)
    link = ConsoleLink(console_end, phone, policy) if console_end is not None else None
    return AgentConsoleApp(config, phone=phone, clock=frozen_clock(), autostart=False,
                           remote=link, over_ssh=over_ssh)


def header(app: AgentConsoleApp) -> str:
    return str(app.main.query_one(StatusHeader).render())


async def test_detach_goes_away_and_attach_comes_back(
        side: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch) -> None:
    holder_end, console_end = side
    app = console(console_end)
    repaints: list[int] = []
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        monkeypatch.setattr(app.remote_view, "repaint", lambda: repaints.append(1))
        app.phone.agent.set("dnd")  # the console mirrors the phone's state
        await wait_until(lambda: "DND" in header(app), what="DND in the header")
        assert "⇄ attached" in header(app)
        holder_end.send(line({"event": "detached", "reason": "hangup"}))
        await wait_until(lambda: "⇄ detached" in header(app), what="detached in the header")
        assert "Away: detached" in header(app)
        assert app.phone.agent.state.label == "Away: detached"
        holder_end.send(line({"event": "attached", "ssh": True, "rows": 30, "cols": 120}))
        await wait_until(lambda: "⇄ attached" in header(app) and repaints,
                         what="attached and a full repaint")
        assert "DND" in header(app) and app.phone.agent.state.status == "dnd"
        assert app.remote_view.over_ssh  # the new terminal is an SSH one


async def test_a_wrapup_started_while_detached_returns_to_the_state_before(
        side: tuple[socket.socket, socket.socket]) -> None:
    """A call ended while detached: its wrap-up (ACW) waits for the agent; filing it
    after the re-attach ends in the state before the detach, not in "Away: detached"."""
    holder_end, console_end = side
    app = console(console_end)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        app.phone.agent.set("dnd")
        holder_end.send(line({"event": "detached", "reason": "hangup"}))
        await wait_until(lambda: "Away: detached" in header(app), what="away while detached")
        app.enter_acw()  # what the wrap-up of a call that ended meanwhile does
        holder_end.send(line({"event": "attached", "ssh": False}))
        await wait_until(lambda: "⇄ attached" in header(app), what="attached")
        assert "After-call work" in header(app)  # still the agent's to file
        app.leave_acw()  # what filing the wrap-up does
        await wait_until(lambda: "DND" in header(app), what="back to DND after the wrap-up")
        assert app.phone.agent.state.status == "dnd"


async def test_keep_policy_leaves_the_agent_available(
        side: tuple[socket.socket, socket.socket]) -> None:
    holder_end, console_end = side
    app = console(console_end, "keep")
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        holder_end.send(line({"event": "detached", "reason": "detach key"}))
        await wait_until(lambda: "⇄ detached" in header(app), what="detached in the header")
        assert "Available" in header(app) and app.phone.agent.state.status == "available"


@pytest.mark.parametrize(("keymap", "key"), [
    ("", "ctrl+backslash"),  # the default
    ("ui:\n  keymap: {detach: f10}\n", "f10"),  # remappable like every binding
])
async def test_the_detach_key_asks_the_holder(
        side: tuple[socket.socket, socket.socket], keymap: str, key: str) -> None:
    holder_end, console_end = side
    app = console(console_end, extra=keymap)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press(key)
        holder_end.settimeout(5)
        assert LineReader().feed(holder_end.recv(4096)) == [{"request": "detach"}]


async def test_without_a_holder_detach_says_why_not() -> None:
    app = console(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+backslash")
        await pilot.pause()
        assert any("--no-detach" in n.message for n in app._notifications)
        assert "⇄" not in header(app)  # nothing to attach or detach


async def test_terminate_from_the_holder_shuts_the_console_down(
        side: tuple[socket.socket, socket.socket]) -> None:
    holder_end, console_end = side
    app = console(console_end)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        holder_end.send(line({"event": "terminate"}))
        await wait_until(lambda: app.return_code is not None, what="the console to exit")
    assert app.return_code == 0


async def test_over_ssh_without_audio_the_header_says_how_to_forward_it() -> None:
    app = console(None, over_ssh=True)
    async with app.run_test(size=(160, 30)) as pilot:
        app.phone.devices.use(NullBackend())  # as with audio.backend: null
        app.main.refresh_views()
        await pilot.pause()
        text = header(app)
        assert "⚠ no audio device · forward it: ssh -R 4713:localhost:4713" in text, text


# ----- the header's remote parts, at every width ---------------------------------------------
def view(**parts: Any) -> HeaderView:
    base: dict[str, Any] = dict(account="Agent 1001", registration="Registered",
                                registration_ok=True, transport="wss", agent="Available",
                                agent_style="success", agent_timer="00:12", clock="09:26:53")
    return HeaderView(**{**base, **parts})


def fitted(v: HeaderView, width: int) -> str:
    return str(StatusHeader.fitted(v, width))


def test_audio_route_and_attached_mark_give_way_in_order() -> None:
    v = view(audio="audio: pulse via SSH tunnel", audio_short="pulse/ssh", remote="attached")
    wide, mid, narrow = fitted(v, 120), fitted(v, 90), fitted(v, 76)
    assert "♪ audio: pulse via SSH tunnel │ ⇄ attached │ 09:26:53" in wide
    assert "♪ pulse/ssh │ ⇄ attached" in mid and "via SSH" not in mid
    assert "♪ pulse/ssh" in narrow and "⇄" not in narrow
    for text, width in ((wide, 120), (mid, 90), (narrow, 76)):
        assert len(text) <= width and text.endswith("09:26:53")


def test_the_hint_goes_before_the_warning() -> None:
    v = view(notice="no audio device", hint="forward it: ssh -R 4713:localhost:4713",
             remote="detached")
    assert "⚠ no audio device · forward it" in fitted(v, 160)
    narrow = fitted(v, 80)
    assert "⚠ no audio device" in narrow and "forward it" not in narrow
    assert narrow.endswith("09:26:53")


def fake_console(*, route: AudioRoute | None, silent: bool, notice: str | None
                 ) -> tuple[AgentConsoleApp, FakePhone]:
    """Over SSH, on a phone whose devices play through a PulseAudio server."""
    config = parse_config(CONFIG.format(policy="away"), env={})
    phone = FakePhone(config)
    phone.devices.name = "pulse"
    phone.devices.route, phone.devices.silent = route, silent
    phone.audio_notice = notice  # a sound server's notice comes and goes with its tunnel
    app = AgentConsoleApp(config, phone=phone, clock=frozen_clock(), autostart=False,
                          over_ssh=True)
    return app, phone


@pytest.mark.parametrize(("answers", "shown", "hidden"), [
    (True, "♪ audio: pulse via SSH tunnel", "no audio device"),
    (False, "⚠ no audio device · forward it: ssh -R", "♪"),
])
async def test_the_header_follows_the_sound_server(answers: bool, shown: str,
                                                   hidden: str) -> None:
    notice = None if answers else ("no audio device: PulseAudio at tcp:localhost:4713 does "
                                   "not answer (Connection refused) — forward it: …")
    app, _phone = fake_console(route=AudioRoute("pulse via SSH tunnel", "pulse/ssh")
                               if answers else None, silent=not answers, notice=notice)
    async with app.run_test(size=(170, 30)) as pilot:
        app.main.refresh_views()
        await pilot.pause()
        assert shown in header(app) and hidden not in header(app), header(app)


async def test_the_header_sees_the_tunnel_come_back() -> None:
    """No event tells the console the tunnel is back: the header reads the phone on its
    tick, so the warning goes and the route shows without a restart."""
    app, phone = fake_console(route=None, silent=True, notice="no audio device: PulseAudio "
                              "at tcp:localhost:4713 does not answer (Connection refused)")
    async with app.run_test(size=(170, 30)) as pilot:
        await wait_until(lambda: "⚠ no audio device" in header(app), what="the warning")
        phone.devices.route = AudioRoute("pulse via SSH tunnel", "pulse/ssh")
        phone.devices.silent, phone.audio_notice = False, None
        app._tick()
        await pilot.pause()
        await wait_until(lambda: "♪ audio: pulse via SSH tunnel" in header(app),
                         what="the route after the tunnel came back")
        assert "no audio device" not in header(app)
