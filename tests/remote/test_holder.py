"""The holder with a real pty, a real child and a real socket (tests/remote/conftest.py):
what it relays, what it tells the console, how it ends, and what a crash leaves."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from agentconsole.remote.protocol import DETACHED, EXIT, WINCH, json_frame
from agentconsole.remote.registry import lock_held, lock_path, query, remove_if_stale

from .conftest import Client, Holder


def test_a_terminal_sees_the_console_and_sizes_its_pty(holder: Holder) -> None:
    assert holder.start(rows=24, cols=80) == "ready"
    client = Client(holder.sock).hello(rows=33, cols=111)
    client.wait_text('"event": "attached"')  # the console heard of the terminal
    client.type("size\n")
    client.wait_text("size 33x111")  # the pty took the terminal's size
    client.conn.sendall(json_frame(WINCH, {"rows": 40, "cols": 120}))
    client.type("size\n")
    client.wait_text("size 40x120")  # and follows its SIGWINCH


def test_the_console_exit_status_reaches_the_terminal_and_nothing_is_left(
        holder: Holder) -> None:
    assert holder.start() == "ready"
    client = Client(holder.sock).hello()
    client.wait_text("attached")
    client.type("exit 3\n")
    client.read_until(lambda c: any(kind == EXIT for kind, _ in c.frames))
    assert (EXIT, {"status": 3}) in client.frames
    assert holder.wait() == 3  # the holder exits with the console's status, reaped
    assert not holder.sock.exists() and not lock_path(holder.sock).exists()


def test_a_dropped_terminal_leaves_the_console_running(holder: Holder) -> None:
    assert holder.start() == "ready"
    first = Client(holder.sock).hello(tty="first")
    first.wait_text("attached")
    first.close()  # SSH dropped: the client is gone without a word
    second = Client(holder.sock).hello(tty="second")
    second.wait_text("attached")
    second.type("history\n")
    second.wait_text("end")
    history = second.output.decode(errors="replace")
    assert '"event": "detached", "reason": "hangup"' in history, history
    assert history.count('"event": "attached"') >= 2, history
    assert holder.proc is not None and holder.proc.poll() is None


def test_a_second_terminal_takes_over_and_the_first_is_told(holder: Holder) -> None:
    assert holder.start() == "ready"
    first = Client(holder.sock).hello(tty="first")
    first.wait_text("attached")
    second = Client(holder.sock).hello(tty="second")
    first.read_until(lambda c: c.closed)  # let go: told why, then closed
    assert (DETACHED, {"reason": "another terminal attached (second)"}) in first.frames
    second.wait_text('"takeover": true')
    found = query(holder.sock)
    assert found is not None and found.attached and found.tty == "second"


def test_the_detach_key_lets_the_terminal_go_and_the_console_stays(holder: Holder) -> None:
    assert holder.start() == "ready"
    client = Client(holder.sock).hello()
    client.wait_text("attached")
    client.type("detach\n")  # what the console's detach key sends on the side channel
    client.read_until(lambda c: c.closed)
    assert client.frames == [(DETACHED, {"reason": "detached"})]
    again = Client(holder.sock).hello()
    again.type("history\n")
    again.wait_text("end")
    assert '"reason": "detach key"' in again.output.decode(), again.output
    found = query(holder.sock)
    assert found is not None and found.attached


def test_status_describes_the_instance(holder: Holder) -> None:
    assert holder.start() == "ready"
    found = query(holder.sock)
    assert found is not None and not found.attached and found.tty == ""
    assert found.config == "/configs/test.yaml"
    assert holder.proc is not None and found.holder_pid == holder.proc.pid
    assert found.pid != found.holder_pid  # the console is the holder's child
    assert oct(holder.sock.stat().st_mode & 0o777) == "0o600"
    assert oct(holder.sock.parent.stat().st_mode & 0o777) == "0o700"


def test_sigterm_asks_the_console_to_shut_down_cleanly(holder: Holder) -> None:
    assert holder.start() == "ready"
    client = Client(holder.sock).hello()
    client.wait_text("attached")
    assert holder.proc is not None
    holder.proc.send_signal(signal.SIGTERM)
    client.read_until(lambda c: any(kind == EXIT for kind, _ in c.frames))
    assert (EXIT, {"status": 5}) in client.frames  # the fake console's clean exit
    assert holder.wait() == 5


def test_one_holder_per_config(holder: Holder, short_dir: object) -> None:
    assert holder.start() == "ready"
    other = Holder(holder.sock, holder.state)
    try:
        assert other.start() == "busy"
        assert other.wait() == 0
    finally:
        other.stop()
    assert query(holder.sock) is not None  # the first one is untouched


def test_a_killed_holder_leaves_nothing_that_blocks_the_next_start(holder: Holder) -> None:
    assert holder.start() == "ready"
    Client(holder.sock).hello().wait_text("attached")  # the console is up and running
    found = query(holder.sock)
    assert found is not None
    os.kill(found.holder_pid, signal.SIGKILL)
    holder.wait()
    assert holder.sock.exists() and not lock_held(holder.sock)  # stale: nobody answers
    assert query(holder.sock) is None
    assert remove_if_stale(holder.sock) and not holder.sock.exists()
    assert holder.start() == "ready"  # a new start on the same config
    assert query(holder.sock) is not None


def test_an_exit_reported_twice_keeps_its_status(short_dir: Path) -> None:
    """The pty's end of file and SIGCHLD both report the console's exit, often in one
    select batch: the second report must not turn status 7 into 0 (no child left)."""
    from agentconsole.remote.holder import Holder as RealHolder

    held = RealHolder(short_dir / "console-x.sock", ["true"], rows=24, cols=80, label="x")
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    held.child_pid = pid
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # a zombie now, not yet reaped
    held._reap()
    held._reap()
    assert held.status == 7
