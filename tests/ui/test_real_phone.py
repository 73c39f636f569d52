"""The console driving a real :class:`~agentconsole.softphone.phone.Phone` over loopback UDP.

Phone A is the agent's (the app starts it); phone B, in the same process, plays the
caller. Keys go in through Pilot; the assertions read the Phone/Session state on both
sides and the history database, not only the screen text. No PBX, no rig.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentconsole import Phone, parse_config
from agentconsole.history import CallHistory
from agentconsole.softphone.session import Session
from agentconsole.ui.app import AgentConsoleApp
from agentconsole.ui.screens.dialogs import WrapupForm
from agentconsole.ui.screens.history import HistoryScreen
from agentconsole.ui.screens.trace import TraceScreen
from agentconsole.ui.widgets import IncomingQueue
from tests.interop.test_calls_baresip import wait_for
from tests.test_two_phones import phone_config

from .conftest import frozen_clock

BASE = "calls:\n  dial_rate_limit_s: 0\n  max_calls: 2\n"
WRAPUP = BASE + "agent:\n  wrapup:\n    codes: [Sale, No sale]\n"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def caller(tmp_path: Path) -> AsyncIterator[Phone]:
    """Phone B on a known port, so phone A can use it as its outbound proxy."""
    port = free_udp_port()
    text = phone_config(tmp_path, "1002", 880, BASE).replace(
        "  local_host: 127.0.0.1", f"  local_host: 127.0.0.1\n  local_port: {port}")
    phone = Phone(parse_config(text))
    await phone.start()
    try:
        yield phone
    finally:
        await phone.stop()


def agent_app(tmp_path: Path, caller: Phone, extra: str = WRAPUP
              ) -> tuple[AgentConsoleApp, Phone, CallHistory]:
    assert caller.transport is not None and caller.transport.local_address is not None
    port = caller.transport.local_address[1]
    text = phone_config(tmp_path, "1001", 440, extra).replace(
        "  register: false", f'  register: false\n  outbound_proxy: "sip:127.0.0.1:{port}"')
    config = parse_config(text)
    phone = Phone(config)
    history = CallHistory(tmp_path / "history.sqlite3")
    # The frozen clock holds the double-press window of hang-up open: under live media a
    # Pilot press takes longer than the window's real two seconds.
    app = AgentConsoleApp(config, phone=phone, history=history,
                          clock=frozen_clock())
    return app, phone, history


def agent_uri(phone: Phone) -> str:
    assert phone.transport is not None and phone.transport.local_address is not None
    return f"sip:1001@127.0.0.1:{phone.transport.local_address[1]}"


async def ready(app: AgentConsoleApp) -> None:
    await wait_for(lambda: app.registration[1] is True, 10)


async def test_take_a_call_hold_mute_hang_up_and_file_the_wrapup(
        tmp_path: Path, caller: Phone) -> None:
    app, phone, history = agent_app(tmp_path, caller)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(app)
            out = await caller.call(agent_uri(phone))
            await wait_for(lambda: bool(phone.incoming_list), 10)
            await pilot.pause()
            inbound = phone.incoming_list[0]
            queue = app.main.query_one(IncomingQueue)
            assert queue.row_count == 1
            assert queue.cell(inbound.call_id, "number") == "1002"
            row = history.get(inbound.call_id)
            assert row is not None and row.is_open  # the row exists from the first ring

            await pilot.press("a")
            await wait_for(lambda: inbound.status.call_status == "talking"
                           and out.status.call_status == "talking", 10)
            await pilot.pause()
            assert queue.row_count == 0 and app.main.selected == inbound.call_id

            await pilot.press("space")
            await wait_for(lambda: inbound.status.is_hold and out.status.remote_hold, 10)
            await pilot.press("space")
            await wait_for(lambda: not inbound.status.is_hold and not out.status.remote_hold, 10)
            await pilot.press("m")
            await pilot.pause()
            assert inbound.status.is_mute

            await pilot.press("h")
            await pilot.pause()
            assert not inbound.is_ended  # a talking call asks for a second press
            await pilot.press("h")
            await pilot.pause()
            await wait_for(lambda: out.is_ended and inbound.is_ended, 10)
            assert inbound.end_cause == "Terminated" and phone.sessions == {}
            await wait_for(lambda: isinstance(app.screen, WrapupForm), 5)
            await pilot.press("down", "down", "enter", *"callback", "enter")
            await pilot.pause()
            assert not isinstance(app.screen, WrapupForm)

            entry = history.get(inbound.call_id)
            assert entry is not None and entry.disposition == "answered"
            assert (entry.wrapup_code, entry.wrapup_notes) == ("No sale", "callback")
            assert entry.direction == "inbound" and entry.number == "1002"
            assert entry.answered_at is not None and entry.ended_at is not None
            assert any(e.direction == "in" and e.data.startswith(b"INVITE ")
                       for _seq, e in app.trace.entries)
    finally:
        await phone.stop()
        history.close()


async def test_a_missed_call_is_called_back_from_the_history(
        tmp_path: Path, caller: Phone) -> None:
    app, phone, history = agent_app(tmp_path, caller, BASE)
    answered: list[Session] = []

    async def pick_up(session: Session) -> None:
        await session.answer()
        answered.append(session)

    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(app)
            out = await caller.call(agent_uri(phone))
            await wait_for(lambda: bool(phone.incoming_list), 10)
            out.hangup()  # the caller gives up before the agent answers
            await wait_for(lambda: not phone.sessions, 10)
            await pilot.pause()
            assert app.missed == 1
            caller.on("incoming", lambda s: asyncio.ensure_future(pick_up(s)))
            await pilot.press("f3")
            await pilot.pause()
            assert isinstance(app.screen, HistoryScreen)
            assert app.screen.entries[0].disposition == "missed"
            await pilot.press("D")
            await wait_for(lambda: bool(answered), 10)
            back = next(iter(phone.sessions.values()))
            await wait_for(lambda: back.status.call_status == "talking", 10)
            assert back.status.communication_type == "outbound"
            answered[0].hangup()
            await wait_for(lambda: back.is_ended, 10)
            rows = history.recent()
            assert [(r.direction, r.disposition) for r in rows] == [
                ("outbound", "answered"), ("inbound", "missed")]
            assert app.missed == 0
    finally:
        await phone.stop()
        history.close()


class Registrar(asyncio.DatagramProtocol):
    """Just enough of a registrar: 401 with a digest challenge, then 200."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.authorizations: list[str] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        text = data.decode()
        head = text.split("\r\n\r\n", 1)[0].split("\r\n")
        keep = [h for h in head[1:] if h.split(":", 1)[0].lower() in
                ("via", "from", "to", "call-id", "cseq")]
        auth = [h for h in head if h.lower().startswith("authorization:")]
        if auth:
            self.authorizations.append(auth[0])
            status = "200 OK"
            extra = [next(h for h in head if h.lower().startswith("contact:")) + ";expires=600"]
        else:
            status = "401 Unauthorized"
            extra = ['WWW-Authenticate: Digest realm="loop", nonce="n0nce", algorithm=MD5']
        keep = [h + ";tag=reg" if h.lower().startswith("to:") else h for h in keep]
        reply = "\r\n".join([f"SIP/2.0 {status}", *keep, *extra, "Content-Length: 0", "", ""])
        self.transport.sendto(reply.encode(), addr)


async def test_the_trace_shows_a_real_registration_with_credentials_redacted(
        tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    transport, registrar = await loop.create_datagram_endpoint(
        Registrar, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    password = "Tr4ce-Secret-pw"
    config = parse_config(f"""
account:
  aor: "sip:1001@127.0.0.1"
  registrar: "sip:127.0.0.1:{port}"
  password: "{password}"
  transport: udp
sip:
  local_host: 127.0.0.1
audio:
  backend: "null"
""")
    phone = Phone(config)
    history = CallHistory(tmp_path / "history.sqlite3")
    app = AgentConsoleApp(config, phone=phone, history=history)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: app.registration == ("Registered", True), 10)
            assert registrar.authorizations
            response = re.search(r'response="([0-9a-f]+)"', registrar.authorizations[0])
            assert response is not None  # the wire carried the real digest
            await pilot.press("f5")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, TraceScreen)
            wire = b"".join(e.data for _seq, e in app.trace.entries)
            assert wire.count(b"REGISTER sip:") == 2 and b"401 Unauthorized" in wire
            assert response.group(1).encode() not in wire and password.encode() not in wire
            await pilot.press("slash", *"authorization", "enter")
            await pilot.pause()
            detail = str(screen.query_one("#trace-text").render())
            assert "Authorization: Digest" in detail and 'response="******"' in detail
            assert response.group(1) not in detail and password not in detail
    finally:
        await phone.stop()
        transport.close()
        history.close()
