"""Every call action by key against real phones over loopback UDP (issue 5, item 2).

The app drives phone A (the agent's); B (the customer) and C (a colleague) are real
:class:`~agentconsole.softphone.phone.Phone` objects in the same process, with real SIP (REFER,
Replaces, RFC 4733 DTMF) and real media. Keys go in through Pilot; the assertions read
Phone/Session state on every side, plus the recording file on disk. No PBX, no rig.

Once media flows, keys go in with :func:`keys` rather than ``pilot.press``: Pilot waits
after each key for the process to go CPU-idle (at most 1 s), which it never does while
three phones encode audio, so a typed URI would cost a minute. :func:`keys` posts the
same key events in order and the test then waits for the state the keys should cause.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual._xterm_parser import XTermParser
from textual.keys import _character_to_key
from textual.widgets import Input

from agentconsole import Phone, parse_config
from agentconsole.history import CallHistory
from agentconsole.softphone.session import Session
from agentconsole.ui.app import AgentConsoleApp
from agentconsole.ui.widgets import DialBar
from tests.test_two_phones import phone_config
from tests.waiting import wait_until

from .conftest import frozen_clock

CALLS = "calls:\n  dial_rate_limit_s: 0\n  max_calls: 2\n"
# B takes REFERs from loopback without asking (a customer's phone that follows transfers).
TRUSTING = CALLS + '  trusted_refer_sources: ["127.0.0.1"]\n'


def uri(phone: Phone, user: str) -> str:
    assert phone.transport is not None and phone.transport.local_address is not None
    return f"sip:{user}@127.0.0.1:{phone.transport.local_address[1]}"


@dataclass
class Peers:
    """B and C, with the sessions each was offered, in order."""

    b: Phone
    c: Phone
    incoming_b: list[Session]
    incoming_c: list[Session]

    @property
    def uri_b(self) -> str:
        return uri(self.b, "1002")

    @property
    def uri_c(self) -> str:
        return uri(self.c, "1003")


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[Peers]:
    b = Phone(parse_config(phone_config(tmp_path, "1002", 880, TRUSTING)))
    c = Phone(parse_config(phone_config(tmp_path, "1003", 660, CALLS)))
    await b.start()
    await c.start()
    got = Peers(b, c, [], [])
    b.on("incoming", got.incoming_b.append)
    c.on("incoming", got.incoming_c.append)
    try:
        yield got
    finally:
        await b.stop()
        await c.stop()


def agent_app(tmp_path: Path, proxy: Phone | None = None
              ) -> tuple[AgentConsoleApp, Phone, CallHistory]:
    """The console on phone A; with ``proxy``, A sends every request to that phone (so a
    short number such as ``1002`` reaches B), else targets are full loopback URIs."""
    extra = CALLS + f'recording:\n  directory: "{tmp_path / "rec"}"\n'
    text = phone_config(tmp_path, "1001", 440, extra)
    if proxy is not None:
        assert proxy.transport is not None and proxy.transport.local_address is not None
        text = text.replace("  register: false", "  register: false\n  outbound_proxy: "
                            f'"sip:127.0.0.1:{proxy.transport.local_address[1]}"')
    config = parse_config(text)
    phone = Phone(config)
    history = CallHistory(tmp_path / "history.sqlite3")
    app = AgentConsoleApp(config, phone=phone, history=history,
                          clock=frozen_clock())
    return app, phone, history


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[tuple[AgentConsoleApp, Phone]]:
    app, phone, history = agent_app(tmp_path)
    try:
        yield app, phone
    finally:
        await phone.stop()
        history.close()


def keys(app: AgentConsoleApp, *names: str) -> None:
    """Post key events as a terminal would (``"T"``, ``"enter"``, or any character)."""
    for name in names:
        key = _character_to_key(name) if len(name) == 1 else name
        char = name if len(name) == 1 else {"number_sign": "#", "asterisk": "*"}.get(name)
        app.post_message(events.Key(key, char))


async def started(app: AgentConsoleApp) -> Phone:
    await wait_until(lambda: app.registration[1] is True, 10, "phone A to start")
    return app.phone  # type: ignore[no-any-return]


async def take_call_from_b(app: AgentConsoleApp, pilot: Any, p: Peers
                           ) -> tuple[Session, Session]:
    """B calls the agent, the agent answers with ``a``: (A's session, B's session)."""
    a = await started(app)
    out = await p.b.call(uri(a, "1001"))
    await wait_until(lambda: bool(a.incoming_list), 10, "the call to ring at A")
    await pilot.pause()
    inbound = a.incoming_list[0]
    await pilot.press("a")
    await wait_until(lambda: inbound.status.call_status == "talking"
                     and out.status.call_status == "talking", 10, "A and B talking")
    assert app.main.selected == inbound.call_id
    return inbound, out


async def type_target(app: AgentConsoleApp, key: str, target: str) -> None:
    """Open the dial bar in a mode (``t``, ``T``, ``d``), type the target, submit."""
    field = app.main.query_one("#dial-input", Input)
    keys(app, key)
    await wait_until(lambda: app.main.focused is field, 5, f"the dial bar after {key}")
    keys(app, *target)
    await wait_until(lambda: field.value == target, 5, f"{target} typed")
    keys(app, "enter")
    await wait_until(lambda: not field.value, 5, "the dial bar to submit")


async def consult_c(app: AgentConsoleApp, pilot: Any, p: Peers, parent: Session
                    ) -> tuple[Session, Session]:
    """``T`` + C's URI: the consult leg at A, answered by C: (A's leg, C's session)."""
    a: Phone = app.phone  # type: ignore[assignment]
    await type_target(app, "T", p.uri_c)
    await wait_until(lambda: bool(p.incoming_c), 10, "the consult call to ring at C")
    at_c = p.incoming_c[0]
    await at_c.answer()
    legs: list[Session] = []

    def consult_up() -> bool:
        legs[:] = [s for s in a.sessions.values() if s.status.is_transfer]
        return bool(legs) and legs[0].status.call_status == "talking"

    await wait_until(consult_up, 10, "the consult leg to be talking")
    assert parent.status.is_hold and legs[0].call_id != parent.call_id
    return legs[0], at_c


def talking(phone: Phone) -> list[Session]:
    return [s for s in phone.sessions.values() if s.status.call_status == "talking"]


async def test_blind_transfer_by_key_hands_b_to_c(
        agent: tuple[AgentConsoleApp, Phone], peers: Peers) -> None:
    app, _ = agent
    async with app.run_test(size=(100, 30)) as pilot:
        inbound, out = await take_call_from_b(app, pilot, peers)
        await type_target(app, "t", peers.uri_c)
        await wait_until(lambda: bool(peers.incoming_c), 10, "B's call to ring at C")
        at_c = peers.incoming_c[0]
        assert "1002" in at_c.status.number  # the referred call comes from B, not A
        await at_c.answer()
        await wait_until(lambda: inbound.is_ended, 10, "A's call to end")
        assert inbound.end_cause == "Transferred"
        await wait_until(lambda: out.is_ended and len(talking(peers.b)) == 1
                         and at_c.status.call_status == "talking", 10, "B talking to C")
        assert app.phone.sessions == {}
        await wait_until(lambda: app.main.selected is None, 5, "the selection to clear")


async def test_consult_then_complete_connects_b_and_c(
        agent: tuple[AgentConsoleApp, Phone], peers: Peers) -> None:
    app, _ = agent
    async with app.run_test(size=(100, 30)) as pilot:
        parent, out = await take_call_from_b(app, pilot, peers)
        leg, at_c = await consult_c(app, pilot, peers, parent)
        keys(app, "c")
        await wait_until(lambda: parent.is_ended and leg.is_ended, 15, "A's two legs to end")
        assert parent.end_cause == "Transferred"
        assert app.phone.sessions == {}
        await wait_until(lambda: out.is_ended and at_c.is_ended
                         and len(talking(peers.b)) == 1 and len(talking(peers.c)) == 1,
                         10, "B and C talking on the replacing dialog")
        (new_c,) = peers.c.sessions.values()
        assert new_c.replaced_call_id == at_c.call_id


async def test_consult_swap_twice_then_cancel_resumes_the_customer(
        agent: tuple[AgentConsoleApp, Phone], peers: Peers) -> None:
    app, _ = agent
    async with app.run_test(size=(100, 30)) as pilot:
        parent, out = await take_call_from_b(app, pilot, peers)
        leg, at_c = await consult_c(app, pilot, peers, parent)
        assert not leg.status.is_hold
        keys(app, "s")
        await wait_until(lambda: not parent.status.is_hold and leg.status.is_hold, 10,
                         "the swap to the customer")
        await wait_until(lambda: at_c.status.remote_hold and not out.status.remote_hold, 10,
                         "C held, B resumed on the wire")
        await wait_until(lambda: app.main.selected == parent.call_id, 5,
                         "the selection to follow the customer")
        keys(app, "s")
        await wait_until(lambda: parent.status.is_hold and not leg.status.is_hold, 10,
                         "the swap back to the colleague")
        await wait_until(lambda: app.main.selected == leg.call_id, 5,
                         "the selection to follow the colleague")
        keys(app, "X")
        await wait_until(lambda: leg.is_ended and at_c.is_ended, 10, "the consult to end")
        await wait_until(lambda: not parent.status.is_hold and not out.status.remote_hold, 10,
                         "the customer resumed")
        assert not parent.is_ended and list(app.phone.sessions) == [parent.call_id]
        await wait_until(lambda: app.main.selected == parent.call_id, 5, "the parent selected")


async def test_record_pause_resume_stop_writes_a_wav(
        agent: tuple[AgentConsoleApp, Phone], peers: Peers, tmp_path: Path) -> None:
    app, _ = agent
    async with app.run_test(size=(100, 30)) as pilot:
        inbound, _out = await take_call_from_b(app, pilot, peers)
        seen: list[str] = []
        for key, state in (("R", "recording"), ("P", "pause"), ("P", "recording"),
                           ("R", "stop")):
            keys(app, key)
            await wait_until(lambda s=state: inbound.status.record_status == s, 10,  # type: ignore[misc]
                             f"record_status {state} after {key}")
            seen.append(inbound.status.record_status)
        assert seen == ["recording", "pause", "recording", "stop"]
        path = inbound.recording_path
        assert path is not None and Path(path).parent == tmp_path / "rec"
        assert Path(path).suffix == ".wav" and Path(path).stat().st_size > 44  # past the header


async def test_digit_keys_send_dtmf_to_the_selected_call(
        agent: tuple[AgentConsoleApp, Phone], peers: Peers) -> None:
    app, _ = agent
    async with app.run_test(size=(100, 30)) as pilot:
        _inbound, out = await take_call_from_b(app, pilot, peers)
        digits: list[str] = []
        out.on("dtmf_received", lambda info: digits.append(str(info["digit"])))
        keys(app, "1", "2", "#")
        await wait_until(lambda: len(digits) >= 3, 10, "three digits at B")
        assert "".join(digits) == "12#"
        assert not app.main.query_one(DialBar).has_class("-active")  # no dialling started


async def test_dial_then_redial_rings_b_twice(tmp_path: Path, peers: Peers) -> None:
    """``d`` + ``1002`` + Enter, as an agent dials an extension (A's outbound proxy is B),
    B refuses; ``D`` dials 1002 again."""
    app, a, history = agent_app(tmp_path, proxy=peers.b)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await started(app)
            await type_target(app, "d", "1002")
            await wait_until(lambda: bool(peers.incoming_b), 10, "the dialled call at B")
            (first,) = a.sessions.values()
            assert first.status.communication_type == "outbound"
            assert first.status.number == "1002" and app.recent_numbers[0] == "1002"
            assert peers.incoming_b[0].reject()
            await wait_until(lambda: first.is_ended and not a.sessions, 10, "the busy call")
            await pilot.press("D")
            await wait_until(lambda: len(peers.incoming_b) == 2, 10, "the redial at B")
            (again,) = a.sessions.values()
            assert again.call_id != first.call_id and again.status.number == "1002"
            assert again.status.communication_type == "outbound"
            assert peers.incoming_b[1].reject()
            await wait_until(lambda: again.is_ended, 10, "the redialled call to end")
    finally:
        await a.stop()
        history.close()


async def test_select_calls_by_arrow_tab_and_line_number(
        agent: tuple[AgentConsoleApp, Phone], peers: Peers) -> None:
    """Two ringing calls (B, then C): lines 1 and 2 of the queue."""
    app, _ = agent
    async with app.run_test(size=(100, 30)) as pilot:
        a = await started(app)
        await peers.b.call(uri(a, "1001"))
        await wait_until(lambda: len(a.incoming_list) == 1, 10, "B's call at A")
        await peers.c.call(uri(a, "1001"))
        await wait_until(lambda: len(a.incoming_list) == 2, 10, "C's call at A")
        await pilot.pause()
        line1, line2 = (s.call_id for s in app.main.sessions())
        main = app.main
        assert main.selected == line1
        steps = [("down", line2), ("down", line1), ("up", line2), ("up", line1),
                 ("tab", line2), ("tab", line1), ("shift+tab", line2),
                 ("alt+1", line1), ("alt+2", line2), ("alt+1", line1),
                 ("alt+3", line1)]  # no line 3: nothing moves
        for key, expected in steps:
            await pilot.press(key)
            await pilot.pause()
            assert main.selected == expected, key
        # A terminal (xterm, tmux, SSH) sends alt+2 as ESC 2, which Textual's parser reads
        # as the character macOS types for Option+2 ("™"). It is a line key, not a DTMF
        # digit that would open the dial bar; fed through the real parser here.
        for event in XTermParser().feed("\x1b2"):
            app.post_message(event)
        await pilot.pause()
        assert main.selected == line2
        assert not main.query_one(DialBar).has_class("-active")
        for event in XTermParser().feed("\x1b1"):
            app.post_message(event)
        await pilot.pause()
        assert main.selected == line1
        await pilot.press("alt+2")
        # The selected ringing call is the one answered.
        await pilot.press("a")
        await wait_until(lambda: a.sessions[line2].status.call_status == "talking", 10,
                         "C's call answered")
        assert a.sessions[line1].status.call_status != "talking"


async def test_tab_in_the_dial_bar_keeps_the_typed_text(
        agent: tuple[AgentConsoleApp, Phone], peers: Peers) -> None:
    """With one call up Tab is Textual's focus cycling: in the dial bar (the only focusable
    widget) focus and text stay where they are."""
    app, _ = agent
    async with app.run_test(size=(100, 30)) as pilot:
        a = await started(app)
        await peers.b.call(uri(a, "1001"))
        await wait_until(lambda: len(a.incoming_list) == 1, 10, "B's call at A")
        await pilot.pause()
        await pilot.press("d", "5", "5")
        await pilot.press("tab")
        await pilot.pause()
        field = app.main.query_one("#dial-input", Input)
        assert app.main.focused is field and field.value == "55"
        assert app.main.selected == a.incoming_list[0].call_id
