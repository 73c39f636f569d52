"""A real holder (``python -m agentconsole.remote.holder``) around a fake console, and a
raw protocol client to drive it: the detach layer tested with real processes, a real
pty and a real Unix socket, but without Textual or a phone."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentconsole.remote.protocol import (
    HELLO,
    INPUT,
    OUTPUT,
    FrameReader,
    frame,
    json_frame,
    load,
)

FAKE_CONSOLE = Path(__file__).with_name("fake_console.py")
WAIT_S = 10.0


class Holder:
    """One holder process for ``sock`` running the fake console."""

    def __init__(self, sock: Path, state: Path) -> None:
        self.sock = sock
        self.state = state
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, rows: int = 24, cols: int = 80) -> str:
        read_end, write_end = os.pipe()
        env = {**os.environ, "XDG_STATE_HOME": str(self.state)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentconsole.remote.holder", "--socket", str(self.sock),
             "--label", "/configs/test.yaml", "--rows", str(rows), "--cols", str(cols),
             "--ready-fd", str(write_end), "--", sys.executable, str(FAKE_CONSOLE)],
            pass_fds=(write_end,), env=env, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as ready:
            return ready.readline().decode().strip()

    def wait(self, timeout: float = WAIT_S) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


class Client:
    """The attach protocol spoken by hand: hello, type, read what comes back."""

    def __init__(self, sock: Path) -> None:
        self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.conn.connect(str(sock))
        self.reader = FrameReader()
        self.output = b""
        self.frames: list[tuple[bytes, dict[str, Any]]] = []
        self.closed = False

    def hello(self, rows: int = 24, cols: int = 80, tty: str = "term") -> Client:
        self.conn.sendall(json_frame(HELLO, {"rows": rows, "cols": cols, "ssh": False,
                                             "tty": tty, "pid": os.getpid()}))
        return self

    def type(self, text: str) -> None:
        self.conn.sendall(frame(INPUT, text.encode()))

    def read_until(self, done: Callable[[Client], bool], timeout: float = WAIT_S) -> None:
        """Read frames until ``done(self)``; fails after ``timeout`` without it."""
        while not done(self):
            ready, _, _ = select.select([self.conn], [], [], timeout)
            assert ready, f"nothing more came in {timeout} s; output so far: {self.output!r}"
            data = self.conn.recv(65536)
            if not data:
                self.closed = True
                assert done(self), f"closed before the condition; output: {self.output!r}"
                return
            for got in self.reader.feed(data):
                if got.kind == OUTPUT:
                    self.output += got.payload
                else:
                    self.frames.append((got.kind, load(got.payload)))

    def wait_text(self, text: str, timeout: float = WAIT_S) -> None:
        self.read_until(lambda c: text.encode() in c.output, timeout)

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short private directory (a Unix socket path must stay under ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="ac-h-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def holder(short_dir: Path) -> Iterator[Holder]:
    made = Holder(short_dir / "agentconsole" / "console-test.sock", short_dir / "state")
    try:
        yield made
    finally:
        made.stop()
