"""Snapshot tests (pytest-textual-snapshot) at 80×24 and 120×40 with a frozen clock.

Update after an intended visual change with ``pytest tests/ui --snapshot-update`` and
review the SVGs in ``tests/ui/__snapshots__/``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from agentconsole.config import Config
from agentconsole.media.audio_sd import NO_CARD
from agentconsole.ui.app import AgentConsoleApp

from .conftest import frozen_clock, make_config
from .fakes import FakePhone, FakeSession

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
Setup = Callable[[AgentConsoleApp, FakePhone], Awaitable[None]]


def build(config: Config | None = None, session_class: type[FakeSession] = FakeSession,
          ) -> tuple[AgentConsoleApp, FakePhone]:
    config = config or make_config()
    phone = FakePhone(config, session_class=session_class)
    app = AgentConsoleApp(config, phone=phone, clock=frozen_clock())
    return app, phone


def run_before(app: AgentConsoleApp, phone: FakePhone, setup: Setup | None,
               keys: tuple[str, ...] = ()) -> Any:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        if setup is not None:
            await setup(app, phone)
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
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


async def consult_transfer(app: AgentConsoleApp, phone: FakePhone) -> None:
    first = phone.ring("+4930123456", "Carol Customer", "Globex", queue="Support")
    await first.answer()
    first.set_timer(call_duration=201)
    consult = await phone.call("1003", transfer_parent=first.call_id)
    consult.remote_answer()
    consult.set_timer(call_duration=14)
    first.set_timer(call_duration=215, hold_duration=14)
    app.main.selected = consult.call_id
    app.main.sync()


async def wrapup_due(app: AgentConsoleApp, phone: FakePhone) -> None:
    session = phone.ring("+4930123456", "Carol Customer", "Globex")
    await session.answer()
    session.finish("ended", "Terminated")


async def no_audio(app: AgentConsoleApp, phone: FakePhone) -> None:
    phone.audio_notice = NO_CARD
    phone.emit("audio_notice", NO_CARD)


async def registration_failed(app: AgentConsoleApp, phone: FakePhone) -> None:
    phone.fail_registration("Rejected (403 Forbidden)")


async def some_history(app: AgentConsoleApp, phone: FakePhone) -> None:
    history = app.history
    assert history is not None
    t0 = app.clock.now().timestamp()
    rows = [  # (direction, number, name, company, start offset, talk, disposition, wrap-up)
        ("inbound", "+4930123456", "Carol Customer", "Globex", -7200, 312, "answered", "Sale"),
        ("inbound", "+4930999888", "Dave Doe", "", -5400, 0, "missed", ""),
        ("outbound", "1003", "Bob Sales", "", -3600, 0, "busy", ""),
        ("inbound", "5553", "Initech Desk", "Initech", -1800, 95, "transferred", "Escalated"),
        ("outbound", "+4930123456", "Carol Customer", "Globex", -600, 48, "answered",
         "Follow-up"),
        ("inbound", "+4940111222", "Erin Example", "", -90000, 61, "interrupted", ""),
    ]
    for i, (direction, number, name, company, offset, talk, disposition, code) in \
            enumerate(rows):
        call_id = f"h{i}"
        history.start_call(call_id, direction, number, name=name, company=company,
                           at=t0 + offset)
        if talk:
            history.answer_call(call_id, at=t0 + offset + 5)
        history.end_call(call_id, disposition, at=t0 + offset + 5 + talk)
        if code:
            history.set_wrapup(call_id, code, "customer happy", at=t0 + offset + 200 + talk)
    app.refresh_history()


INVITE = (b"INVITE sip:1001@10.0.0.2:5060 SIP/2.0\r\n"
          b"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-524287-1\r\n"
          b"From: \"Carol Customer\" <sip:+4930123456@pbx.example.com>;tag=9fxced76sl\r\n"
          b"To: <sip:1001@pbx.example.com>\r\nCall-ID: 3848276298220188511@pbx\r\n"
          b"CSeq: 1 INVITE\r\nContact: <sip:pbx@10.0.0.5:5060>\r\n"
          b"Content-Type: application/sdp\r\nContent-Length: 0\r\n\r\n")


def reply(status: str, method: str = "INVITE") -> bytes:
    return (f"SIP/2.0 {status}\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-524287-1\r\n"
            f"Call-ID: 3848276298220188511@pbx\r\nCSeq: 1 {method}\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


async def some_trace(app: AgentConsoleApp, phone: FakePhone) -> None:
    t0 = app.clock.now().timestamp()
    register = (b"REGISTER sip:pbx.example.com SIP/2.0\r\nCall-ID: reg1@10.0.0.2\r\n"
                b"CSeq: 2 REGISTER\r\nAuthorization: Digest username=\"1001\", "
                b"realm=\"pbx\", nonce=\"n1\", response=\"******\"\r\n"
                b"Content-Length: 0\r\n\r\n")
    messages = [("out", register), ("in", reply("200 OK", "REGISTER")), ("in", INVITE),
                ("out", reply("100 Trying")), ("out", reply("180 Ringing")),
                ("out", reply("200 OK"))]
    for i, (direction, data) in enumerate(messages):
        phone.trace(direction, data, timestamp=t0 + i * 0.25)


@pytest.mark.parametrize("size", SIZES)
def test_consult_transfer(snap_compare: Any, size: tuple[int, int]) -> None:
    app, phone = build()
    assert snap_compare(app, terminal_size=size,
                        run_before=run_before(app, phone, consult_transfer))


@pytest.mark.parametrize("size", SIZES)
def test_wrapup_form(snap_compare: Any, size: tuple[int, int]) -> None:
    app, phone = build(make_config(agent={"wrapup": {"codes": ["Sale", "No sale", "Callback"],
                                                     "required": True}}))
    assert snap_compare(app, terminal_size=size, run_before=run_before(app, phone, wrapup_due))


@pytest.mark.parametrize("size", SIZES)
def test_no_audio_device(snap_compare: Any, size: tuple[int, int]) -> None:
    app, phone = build()
    assert snap_compare(app, terminal_size=size, run_before=run_before(app, phone, no_audio))


@pytest.mark.parametrize("size", SIZES)
def test_devices_screen_without_a_device(snap_compare: Any, size: tuple[int, int]) -> None:
    app, phone = build()
    assert snap_compare(app, terminal_size=size,
                        run_before=run_before(app, phone, no_audio, ("f4",)))


@pytest.mark.parametrize("size", SIZES)
def test_registration_failed(snap_compare: Any, size: tuple[int, int]) -> None:
    app, phone = build()
    assert snap_compare(app, terminal_size=size,
                        run_before=run_before(app, phone, registration_failed))


@pytest.mark.parametrize("size", SIZES)
def test_history_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    app, phone = build()
    assert snap_compare(app, terminal_size=size,
                        run_before=run_before(app, phone, some_history, ("f3",)))


@pytest.mark.parametrize("size", SIZES)
def test_trace_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    app, phone = build()
    assert snap_compare(app, terminal_size=size,
                        run_before=run_before(app, phone, some_trace, ("f5",)))


@pytest.mark.parametrize("theme", ["agentconsole-dark", "agentconsole-light",
                                   "agentconsole-high-contrast"])
@pytest.mark.parametrize("size", SIZES)
def test_talking_in_each_theme(snap_compare: Any, size: tuple[int, int], theme: str) -> None:
    app, phone = build(make_config(ui={"theme": theme}))
    assert app.theme == theme
    assert snap_compare(app, terminal_size=size,
                        run_before=run_before(app, phone, talking_and_held))
