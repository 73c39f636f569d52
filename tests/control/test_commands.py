"""``agentconsole serve``, ``dial`` and ``ctl`` as real processes: a number handed to the
running instance, a clear failure when none runs, a second instance refused, a killed
one's socket replaced, SIGTERM un-REGISTERs."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentconsole import cli
from agentconsole.control.commands import parse_params
from agentconsole.demo.runner import DemoRunner
from agentconsole.history import CallHistory
from tests.waiting import wait_until

SERVE_TIMEOUT = 30.0


def write_config(tmp: Path, socket: Path, *, demo: DemoRunner | None = None) -> Path:
    if demo is None:
        account = '  aor: "sip:1001@127.0.0.1:9"\n  register: false\n'
    else:
        account = (f'  aor: "sip:1001@{demo.switch.host}:{demo.switch.port}"\n'
                   '  password: "demo1001"\n')
    path = tmp / "agent.yaml"
    path.write_text(f"account:\n{account}sip: {{local_host: 127.0.0.1}}\n"
                    "media: {host_addresses: [127.0.0.1]}\naudio: {backend: \"null\"}\n"
                    "calls: {dial_rate_limit_s: 0}\n"
                    f"control: {{socket: \"{socket}\"}}\n")
    os.chmod(path, 0o600)
    return path


async def run(*argv: str, timeout: float = 30.0) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentconsole", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


class Served:
    def __init__(self, process: asyncio.subprocess.Process, first_line: str) -> None:
        self.process = process
        self.first_line = first_line

    async def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        out, _err = await asyncio.wait_for(self.process.communicate(), SERVE_TIMEOUT)
        assert self.process.returncode is not None
        return self.process.returncode, out.decode()


async def serve(config: Path) -> Served:
    """``serve`` on ``config``, its call history beside the config (never the user's)."""
    env = {**os.environ, "XDG_DATA_HOME": str(config.parent / "data")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentconsole", "--config", str(config), "serve",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), SERVE_TIMEOUT)
    return Served(process, line.decode())


@pytest.fixture
async def served(short_dir: Path) -> AsyncIterator[tuple[Served, Path]]:
    config = write_config(short_dir, short_dir / "control.sock")
    instance = await serve(config)
    try:
        assert "agentconsole serve:" in instance.first_line, instance.first_line
        yield instance, config
    finally:
        if instance.process.returncode is None:
            instance.process.kill()
            await instance.process.wait()


async def test_dial_hands_the_number_to_the_running_instance(
        served: tuple[Served, Path]) -> None:
    instance, config = served
    assert "control socket" in instance.first_line and "Ctrl-C stops" in instance.first_line
    code, out, err = await run("--config", str(config), "dial", "tel:+1-555-0100")
    assert code == 0, err
    call_id = out.strip()
    assert call_id and "\n" not in call_id
    code, out, err = await run("--config", str(config), "ctl", "status")
    assert code == 0, err
    calls = json.loads(out)["calls"]
    assert [(c["call_id"], c["number"], c["direction"]) for c in calls] == [
        (call_id, "+15550100", "outbound")]
    code, out, err = await run("--config", str(config), "ctl", "call", "hangup",
                               f"call_id={call_id}")
    assert code == 0 and json.loads(out)["call_status"] == "ended", err
    code, out, err = await run("--config", str(config), "ctl", "call", "reject",
                               "code:=603")
    assert code == 1 and "error -211" in err and "no call is ringing" in err
    code, out, err = await run("--config", str(config), "ctl", "call", "fly")
    assert code == 1 and "error -32601" in err and "unknown method" in err


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(("stop", "inherited"), [
    (signal.SIGINT, signal.SIG_DFL),  # Ctrl-C in a terminal
    (signal.SIGINT, signal.SIG_IGN),  # a background job of a script: SIGINT ignored
    (signal.SIGTERM, signal.SIG_DFL),  # a supervisor or `kill`
], ids=["ctrl-c", "ctrl-c-background-job", "sigterm"])
async def test_ctl_events_streams_json_lines(served: tuple[Served, Path], stop: int,
                                             inherited: object) -> None:
    _instance, config = served
    events = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentconsole", "--config", str(config), "ctl", "events",
        "agent_state", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=_ignore_sigint if inherited is signal.SIG_IGN else None)
    assert events.stdout is not None and events.stderr is not None
    try:
        ready = await asyncio.wait_for(events.stderr.readline(), SERVE_TIMEOUT)
        assert b"listening for agent_state" in ready  # subscribed: nothing is missed now
        for state in ("away", "available"):
            code, _out, err = await run("--config", str(config), "ctl", "call",
                                        "agent_state", f"state={state}", "reason=Break")
            assert code == 0, err
            line = await asyncio.wait_for(events.stdout.readline(), SERVE_TIMEOUT)
            event = json.loads(line)
            assert event["event"] == "agent_state" and event["state"] == state
    finally:
        events.send_signal(stop)
        await asyncio.wait_for(events.wait(), SERVE_TIMEOUT)
    assert events.returncode == 0


async def test_a_second_serve_refuses_and_a_killed_ones_socket_is_replaced(
        served: tuple[Served, Path]) -> None:
    instance, config = served
    code, _out, err = await run("--config", str(config), "serve")
    assert code == 2 and "another agentconsole is already running" in err
    code, _text = await instance.stop(signal.SIGKILL)
    socket = config.parent / "control.sock"
    assert code == -signal.SIGKILL and socket.exists()  # left behind
    code, _out, err = await run("--config", str(config), "dial", "600")
    assert code == 2 and "no agentconsole is running" in err
    again = await serve(config)
    try:
        assert "agentconsole serve:" in again.first_line
        code, out, err = await run("--config", str(config), "ctl", "status")
        assert code == 0 and json.loads(out)["calls"] == [], err
    finally:
        code, text = await again.stop()
    assert code == 0 and "stopped" in text and not socket.exists()


async def test_dial_without_a_running_instance_says_so(short_dir: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(cli.main, ["dial", "--socket",
                                              str(short_dir / "none.sock"), "600"],
                                   out=out, err=err)
    assert code == 2 and out.getvalue() == ""
    assert "no agentconsole is running" in err.getvalue()
    assert "agentconsole serve" in err.getvalue()
    code = await asyncio.to_thread(cli.main, ["dial", "--socket", "x", "http://nope"],
                                   out=out, err=err)
    assert code == 1 and "cannot dial a http: URI" in err.getvalue()


async def test_serve_registers_and_sigterm_unregisters(demo: DemoRunner,
                                                       short_dir: Path) -> None:
    config = write_config(short_dir, short_dir / "control.sock", demo=demo)
    instance = await serve(config)
    try:
        assert " registered;" in instance.first_line, instance.first_line
        assert demo.switch.is_registered("1001")
    finally:
        code, text = await instance.stop(signal.SIGTERM)
    assert code == 0 and "stopped" in text
    await wait_until(lambda: not demo.switch.is_registered("1001"), 10, "the un-REGISTER")


async def test_serve_keeps_the_call_history_with_wrapups_filed_over_the_socket(
        demo: DemoRunner, short_dir: Path) -> None:
    config = write_config(short_dir, short_dir / "control.sock", demo=demo)
    instance = await serve(config)
    try:
        code, out, err = await run("--config", str(config), "dial", "600")
        assert code == 0, err
        call_id = out.strip()

        async def talking() -> bool:
            _code, text, _err = await run("--config", str(config), "ctl", "status")
            return any(c["call_id"] == call_id and c["call_status"] == "talking"
                       for c in json.loads(text)["calls"])

        deadline = asyncio.get_running_loop().time() + SERVE_TIMEOUT
        while not await talking():
            assert asyncio.get_running_loop().time() < deadline, "600 never answered"
        code, _out, err = await run("--config", str(config), "ctl", "call", "hangup")
        assert code == 0, err
        code, out, err = await run("--config", str(config), "ctl", "call", "wrapup",
                                   "code=Resolved", "notes=echo test")
        assert code == 0 and json.loads(out)["call_id"] == call_id, err
    finally:
        code, _text = await instance.stop(signal.SIGTERM)
    assert code == 0
    history = CallHistory(short_dir / "data" / "agentconsole" / "history.sqlite3")
    try:
        entry = history.get(call_id)
        assert entry is not None and entry.number == "600" and entry.direction == "outbound"
        assert (entry.wrapup_code, entry.wrapup_notes) == ("Resolved", "echo test")
        assert entry.disposition == "answered"
    finally:
        history.close()


def test_ctl_params_are_strings_or_json() -> None:
    assert parse_params(["number=600", "code:=603", "enabled:=true", "reason=a=b"]) == {
        "number": "600", "code": 603, "enabled": True, "reason": "a=b"}
    with pytest.raises(ValueError, match="key=value"):
        parse_params(["oops"])
    with pytest.raises(ValueError, match="must be JSON"):
        parse_params(["code:=six"])
