"""The thin client on a real pty: it relays the terminal both ways, sends its size, puts
the terminal back as it found it, and ends with the console's status or a detach note.

``attach`` runs in the main thread (it handles SIGWINCH/SIGHUP like the real command);
a helper thread plays the person at the terminal through the pty's master side.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import termios
import threading
from collections.abc import Iterator

import pytest

from agentconsole.remote.client import DETACH_NOTE, TERMINAL_RESET, attach

from .conftest import WAIT_S, Holder


class Person(threading.Thread):
    """Reads the screen from the pty master; types ``reply`` once ``cue`` shows up."""

    def __init__(self, master: int, script: list[tuple[bytes, bytes]]) -> None:
        super().__init__(daemon=True)
        self.master = master
        self.script = script
        self.screen = b""
        self.failure = ""

    def run(self) -> None:
        for cue, reply in self.script:
            while cue not in self.screen:
                ready, _, _ = select.select([self.master], [], [], WAIT_S)
                if not ready:
                    self.failure = f"never saw {cue!r}: {self.screen!r}"
                    return
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:
                    self.failure = f"terminal closed before {cue!r}"
                    return
            os.write(self.master, reply)
        self._drain()

    def _drain(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 1.0)
            if not ready:
                return
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.screen += data


@pytest.fixture
def terminal() -> Iterator[tuple[int, int]]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 97, 0, 0))
    try:
        yield master, slave
    finally:
        os.close(master)
        os.close(slave)


def test_attach_relays_and_ends_with_the_console_status(
        holder: Holder, terminal: tuple[int, int]) -> None:
    master, slave = terminal
    assert holder.start() == "ready"
    before = termios.tcgetattr(slave)
    person = Person(master, [(b'"event": "attached"', b"size\r"),
                             (b"size 31x97", b"exit 7\r")])
    person.start()
    outcome = attach(holder.sock, stdin=slave, stdout=slave, env={})
    person.join(WAIT_S)
    assert not person.failure, person.failure
    assert outcome.status == 7 and outcome.ended and outcome.note == ""
    assert TERMINAL_RESET not in person.screen  # the console restored its terminal itself
    assert termios.tcgetattr(slave) == before  # raw mode undone
    assert holder.wait() == 7


def test_the_detach_key_ends_the_client_with_a_note(
        holder: Holder, terminal: tuple[int, int]) -> None:
    master, slave = terminal
    assert holder.start() == "ready"
    person = Person(master, [(b'"event": "attached"', b"detach\r")])
    person.start()
    outcome = attach(holder.sock, stdin=slave, stdout=slave, env={})
    person.join(WAIT_S)
    assert outcome.status == 0 and not outcome.ended and outcome.note == DETACH_NOTE
    assert person.screen.endswith(TERMINAL_RESET)  # modes a detached console left on, off
    assert holder.proc is not None and holder.proc.poll() is None  # the console runs on
