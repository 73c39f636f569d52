"""The thin client: the agent's terminal, relayed to the holder's pty.

It puts the terminal in raw mode and copies bytes both ways — keys to the holder,
screen output back — and sends the window size at the start and on every SIGWINCH.
It knows nothing of the console: what the agent sees is what the console draws on its
pty. The client ends when the console exits (it exits with the console's status), when
it is detached (the detach key, or another terminal took over: exit 0 with a one-line
note), or when its terminal goes away (SIGHUP from a dropped SSH session) — the holder
and the console carry on in all but the first case.

On the way out the terminal is put back as it was: the saved termios settings, and —
unless the console exited and restored it itself — the escape sequences that undo what a
full-screen program turns on (alternate screen, mouse reporting, bracketed paste, focus
events, the kitty keyboard protocol), since a detached console never gets to.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import termios
import tty
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .protocol import (
    DETACHED,
    EXIT,
    HELLO,
    INPUT,
    OUTPUT,
    WINCH,
    FrameReader,
    ProtocolError,
    frame,
    json_frame,
    load,
)

#: Kitty keyboard protocol off, mouse modes off, bracketed paste off, focus events off,
#: line wrap on, main screen, cursor shown, attributes reset.
TERMINAL_RESET = (b"\x1b[<u\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l"
                  b"\x1b[?2004l\x1b[?1004l\x1b[?7h\x1b[?1049l\x1b[?25h\x1b[0m")
DETACH_NOTE = "detached — `agentconsole attach` to return"
READ_SIZE = 65536


class AttachError(OSError):
    """No console answers on that socket."""


@dataclass(frozen=True)
class Outcome:
    """How an attach ended: the exit status to use and a line for the agent (or "")."""

    status: int
    note: str = ""
    #: True when the console itself exited (not a detach or a lost terminal).
    ended: bool = False


def terminal_size(fd: int) -> tuple[int, int]:
    """(rows, cols) of the terminal on ``fd``; 24x80 when it is not one."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return 24, 80
    return size.lines or 24, size.columns or 80


def describe_terminal(fd: int, env: Mapping[str, str]) -> str:
    """"/dev/pts/3 from 10.1.2.3" — what the terminal being replaced is told."""
    try:
        name = os.ttyname(fd)
    except OSError:
        name = "a terminal"
    peer = env.get("SSH_CONNECTION", "").split(" ")[0]
    return f"{name} from {peer}" if peer else name


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """Raw mode for the relay; the saved settings come back however it ends."""
    try:
        saved = termios.tcgetattr(fd)
    except termios.error:
        yield  # not a terminal (a test's pipe): nothing to set or restore
        return
    tty.setraw(fd, termios.TCSANOW)
    try:
        yield
    finally:
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class _Relay:
    def __init__(self, conn: socket.socket, stdin: int, stdout: int) -> None:
        self.conn = conn
        self.stdin = stdin
        self.stdout = stdout
        self.reader = FrameReader()
        self.outcome: Outcome | None = None

    def from_terminal(self) -> None:
        try:
            data = os.read(self.stdin, READ_SIZE)
        except OSError:
            data = b""
        if not data:  # the terminal is gone
            self.outcome = Outcome(0)
            return
        self.conn.sendall(frame(INPUT, data))

    def from_holder(self) -> None:
        try:
            data = self.conn.recv(READ_SIZE)
        except OSError:
            data = b""
        if not data:
            self.outcome = Outcome(1, "the console went away (its holder stopped)")
            return
        try:
            frames = self.reader.feed(data)
        except ProtocolError as exc:
            self.outcome = Outcome(1, f"the console sent garbage: {exc}")
            return
        for got in frames:
            if got.kind == OUTPUT:
                self._write(got.payload)
            elif got.kind == EXIT:
                self.outcome = Outcome(int(load(got.payload).get("status", 0)), ended=True)
            elif got.kind == DETACHED:
                reason = str(load(got.payload).get("reason") or "detached")
                note = DETACH_NOTE if reason == "detached" else \
                    f"detached: {reason} — `agentconsole attach` to return"
                self.outcome = Outcome(0, note)
            if self.outcome is not None:
                return

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.stdout, view):]
        except OSError:  # the terminal went away mid-write
            self.outcome = Outcome(0)

    def send_size(self) -> None:
        rows, cols = terminal_size(self.stdout)
        with contextlib.suppress(OSError):
            self.conn.sendall(json_frame(WINCH, {"rows": rows, "cols": cols}))


def attach(sock: Path, *, stdin: int = 0, stdout: int = 1,
           env: Mapping[str, str] | None = None) -> Outcome:
    """Relay this terminal to the console behind ``sock`` until it exits or detaches."""
    env = os.environ if env is None else env
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(sock))
    except OSError as exc:
        conn.close()
        raise AttachError(f"no console answers on {sock}: {exc.strerror}") from None
    rows, cols = terminal_size(stdout)
    hello = {"rows": rows, "cols": cols, "ssh": bool(env.get("SSH_CONNECTION")),
             "tty": describe_terminal(stdin, env), "pid": os.getpid()}
    relay = _Relay(conn, stdin, stdout)
    with conn, _signals() as wake, raw_terminal(stdin):
        conn.sendall(json_frame(HELLO, hello))
        with selectors.DefaultSelector() as selector:
            selector.register(stdin, selectors.EVENT_READ, relay.from_terminal)
            selector.register(conn, selectors.EVENT_READ, relay.from_holder)
            selector.register(wake, selectors.EVENT_READ, None)
            while relay.outcome is None:
                for key, _mask in selector.select():
                    if key.data is not None:
                        key.data()
                    else:
                        _signal_arrived(wake, relay)
                    if relay.outcome is not None:
                        break
        assert relay.outcome is not None
        if not relay.outcome.ended:  # an exiting console restored the terminal itself
            with contextlib.suppress(OSError):
                os.write(stdout, TERMINAL_RESET)
    return relay.outcome


def _signal_arrived(wake: socket.socket, relay: _Relay) -> None:
    try:
        signums = wake.recv(256)
    except BlockingIOError:
        return
    for signum in signums:
        if signum == signal.SIGWINCH:
            relay.send_size()
        elif signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            relay.outcome = Outcome(0)  # our terminal is going: the console stays


@contextlib.contextmanager
def _signals() -> Iterator[socket.socket]:
    """Signals into the select loop through the wakeup fd (handlers do nothing)."""
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    watched = (signal.SIGWINCH, signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, _noted) for sig in watched}
    old_fd = signal.set_wakeup_fd(wake_w.fileno())
    try:
        yield wake_r
    finally:
        signal.set_wakeup_fd(old_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        wake_r.close()
        wake_w.close()


def _noted(_signum: int, _frame: object) -> None:
    """Carried into the loop by the wakeup fd."""
