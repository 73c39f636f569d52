"""Steps for the detach/attach end-to-end tests: the runtime dir where the running
console's socket lives, the console over ``ssh -t``, killing the SSH client, reading
the history (the e2e conftest stops any console a test leaves held)."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil
import pytest

from ..interop.polling import poll_until
from .conftest import console_binary, home_env
from .sshd import Sshd


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    """A loopback OpenSSH server for this test (tests/e2e/sshd.py)."""
    work = tmp_path / "sshd"
    work.mkdir()
    server = Sshd(work)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def runtime_dir(tmp_path: Path) -> Path:
    """The ``$XDG_RUNTIME_DIR`` the console of this test uses (conftest's
    private_runtime_dir, which stops any console still held there when the test ends)."""
    return Path(home_env(tmp_path)["XDG_RUNTIME_DIR"])


def remote_env(tmp: Path, runtime: Path, **extra: str) -> list[str]:
    """``env VAR=... `` for the remote command: the test's XDG dirs and runtime dir."""
    env = {**home_env(tmp), "XDG_RUNTIME_DIR": str(runtime), **extra}
    return ["env", *(f"{k}={v}" for k, v in sorted(env.items()))]


def console_over_ssh(sshd: Sshd, tmp: Path, runtime: Path, config: Path, *args: str,
                     extra_env: dict[str, str] | None = None,
                     ssh_options: Sequence[str] = ()) -> list[str]:
    """The ``ssh -t`` line running ``agentconsole [ARGS] --config CONFIG`` remotely."""
    command = [*remote_env(tmp, runtime, **(extra_env or {})), str(console_binary()),
               *args, "--config", str(config)]
    return sshd.client_argv(command, ssh_options)


def ssh_client_pid(pane_pid: int) -> int:
    """The ``ssh`` process of a tmux pane (the pane's shell may run it as a child)."""
    pane = psutil.Process(pane_pid)
    for proc in [pane, *pane.children(recursive=True)]:
        if proc.name() == "ssh":
            return proc.pid
    raise AssertionError(f"no ssh process under pane pid {pane_pid}")


def kill_and_wait(pid: int, timeout: float = 5.0) -> float:
    """SIGKILL ``pid`` and wait until it is dead (gone, or a zombie its parent — tmux,
    not us — has yet to reap); returns when it was killed."""
    proc = psutil.Process(pid)
    killed = time.monotonic()
    proc.send_signal(signal.SIGKILL)

    def dead() -> bool:
        try:
            return proc.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    poll_until(dead, timeout, f"pid {pid} to die of SIGKILL")
    return killed


def history_rows(tmp: Path) -> list[dict[str, object]]:
    db = sqlite3.connect(tmp / "data" / "agentconsole" / "history.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM calls ORDER BY id")]
    finally:
        db.close()
