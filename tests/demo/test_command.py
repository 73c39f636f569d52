"""``agentconsole demo --headless`` as a real process: it prints where to register, a phone
registers and calls through it, and SIGTERM stops it cleanly. Plus baresip against it
(interop: only where baresip is installed and the shared rig is free)."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentconsole.demo.data import account
from agentconsole.demo.parties import party_config
from agentconsole.softphone.phone import Phone
from agentconsole.softphone.session import Session
from tests.interop.test_calls_baresip import wait_for


def read_until(proc: subprocess.Popen[str], pattern: str, timeout: float = 30.0) -> str:
    """stdout lines until one matches ``pattern``; the whole text read so far."""
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen += line
        if re.search(pattern, seen):
            return seen
    raise AssertionError(f"no {pattern!r} in the output: {seen!r}")


def start_headless(*extra: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentconsole", "demo", "--headless", "--port", "0",
         "--rate", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env)
    try:
        text = read_until(proc, r"Ctrl-C stops")
        match = re.search(r"port (\d+): udp, tcp", text)
        assert match, text
        assert "1001   demo1001" in text and "600    demo600" in text
        yield proc, int(match.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def headless() -> Iterator[tuple[subprocess.Popen[str], int]]:
    yield from start_headless()


@pytest.fixture
def headless_md5() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """The switch offering only MD5 digest: baresip 1.0.0 fails on a SHA-256 challenge."""
    yield from start_headless("--digest", "md5")


async def test_headless_serves_calls_and_stops_on_sigterm(
        headless: tuple[subprocess.Popen[str], int]) -> None:
    proc, port = headless
    agent = account("1001")
    assert agent is not None
    phone = Phone(party_config("127.0.0.1", port, agent))
    await phone.start()
    try:
        assert phone.is_registered
        session = await phone.call("2003")
        await wait_for(lambda: session.status.call_status == "talking", 15)
        session.hangup()
    finally:
        await phone.stop()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err[-2000:]
    assert "demo switch stopped" in out
    assert "Traceback" not in err


def test_headless_refuses_a_busy_port(headless: tuple[subprocess.Popen[str], int]) -> None:
    _, port = headless
    result = subprocess.run(
        [sys.executable, "-m", "agentconsole", "demo", "--headless", "--port", str(port)],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.interop
async def test_baresip_registers_to_the_headless_demo_and_calls_the_agent(
        headless_md5: tuple[subprocess.Popen[str], int], tmp_path: Path) -> None:
    from tests.interop.baresip import Baresip
    from tests.interop.rig import rig_lock

    with rig_lock():  # baresip's SIP/ctrl ports are the rig's
        await _baresip_calls_agent(headless_md5[1], tmp_path, Baresip)


async def _baresip_calls_agent(port: int, tmp_path: Path, baresip: type) -> None:

    agent_account = account("1001")
    assert agent_account is not None
    phone = Phone(party_config("127.0.0.1", port, agent_account))
    incoming: list[Session] = []
    phone.on("incoming", incoming.append)
    await phone.start()
    peer = baresip("1002", tmp_path, answer="manual")
    (peer.conf / "accounts").write_text(
        f"<sip:1002@127.0.0.1:{port};transport=udp>;auth_pass=demo1002;answermode=manual;"
        "regint=600;audio_codecs=pcmu,pcma,opus/48000/2;medianat=ice;mediaenc=dtls_srtp\n")
    # the demo switch relays SIP only (no media gateway): baresip must offer WebRTC media
    # itself (ICE + DTLS-SRTP, rtcp-mux) for the agent to accept the call
    config = (peer.conf / "config").read_text().replace("rtcp_mux\t\tno", "rtcp_mux\t\tyes")
    (peer.conf / "config").write_text(config)
    try:
        peer.start()  # waits for "200 OK": registered with digest to the demo switch
        peer.command("dial", f"sip:1001@127.0.0.1:{port}")
        await wait_for(lambda: bool(incoming), 15)
        assert incoming[0].status.number == "1002"
        incoming[0].reject(486)
        await wait_for(lambda: incoming[0].is_ended, 5)
        peer.wait_log("486", 10)
    finally:
        peer.stop()
        await phone.stop()


def test_console_demo_needs_a_terminal() -> None:
    import io

    from agentconsole import cli

    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["demo", "--port", "0"], out=out, err=err) == 2
    assert "needs a terminal" in err.getvalue() and "--headless" in err.getvalue()


def test_the_demo_moves_its_control_socketwith_free_control_socket(tmp_path: Path) -> None:
    """The agent's console holds the default control socket: the demo's console takes
    ``demo-control.sock`` beside it (and says so) instead of refusing to start."""
    import io

    from agentconsole.control.server import InstanceLock
    from agentconsole.demo.runner import agent_config
    from agentconsole.ui_main import with_free_control_socket

    socket = tmp_path / "run" / "control.sock"
    base = agent_config("127.0.0.1", 5060)
    config = dataclasses.replace(base, control=dataclasses.replace(base.control,
                                                                   socket=str(socket)))
    err = io.StringIO()
    assert with_free_control_socket(config, err).control.socket_path == socket
    assert err.getvalue() == ""
    running = InstanceLock(socket)  # what a running console's control server holds
    running.acquire()
    try:
        moved = with_free_control_socket(config, err).control.socket_path
    finally:
        running.release()
    assert moved == socket.with_name("demo-control.sock")
    assert str(moved) in err.getvalue() and str(socket) in err.getvalue()
