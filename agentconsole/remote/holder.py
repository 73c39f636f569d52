"""The holder: a small server that owns the console's terminal so the console outlives
the agent's.

It opens a pseudo-terminal, runs the console on it (``agentconsole --no-detach``, the
ordinary console: one code path) and listens on the attach socket. A client
(:mod:`.client`) relays the agent's terminal to it: input to the pty, pty output back,
window size to the pty (the kernel's SIGWINCH then reaches the console). When the
client goes — the SSH connection dropped, the client was killed, the agent pressed the
detach key — the holder keeps the pty and the console running and tells the console
over the side channel (an inherited socketpair named in ``$AGENTCONSOLE_REMOTE_FD``).
Output produced while nobody is attached is read and dropped, so the console never
blocks on a full pty.

One terminal at a time: a second client attaching takes over, and the first is told
(``DETACHED``) and let go — two terminals typing into one phone would fight.

The console's exit ends the holder: the pty is drained to the client, the exit status
is sent (the client exits with it), the socket and the lock are removed and the holder
exits with the same status. Signals arrive through ``signal.set_wakeup_fd`` into the one
``selectors`` loop: no busy loop, no threads. SIGTERM asks the console to shut down
cleanly (hang up, un-register); a second SIGTERM terminates it.

Run by :mod:`.command`: ``python -m agentconsole.remote.holder --socket PATH --rows R
--cols C --ready-fd N --label CONFIG -- ARGV...``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import paths
from .protocol import (
    DETACHED,
    EXIT,
    HELLO,
    INPUT,
    OUTPUT,
    STATUS,
    STATUS_REPLY,
    WINCH,
    FrameReader,
    LineReader,
    ProtocolError,
    frame,
    json_frame,
    line,
    load,
)
from .registry import InstanceLock, remove_if_stale
from .spawn import set_winsize, spawn_on_pty

log = logging.getLogger(__name__)

#: Output queued for a client that does not read: past this it is cut loose.
MAX_CLIENT_BACKLOG = 4 << 20
#: A connection that has not said what it wants (hello / status) by then is closed.
HANDSHAKE_S = 10.0
#: After the console exits: how long the last output may take to reach the client.
FLUSH_S = 2.0
READ_SIZE = 65536


class Connection:
    """One accepted socket: waiting for its hello, attached, or answering a status."""

    def __init__(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        self.sock = conn
        self.reader = FrameReader()
        self.pending = bytearray()
        self.opened = time.monotonic()
        self.attached = False
        self.closing = False  # close once ``pending`` is sent
        self.tty = ""

    def fileno(self) -> int:
        return self.sock.fileno()


class Holder:
    """Owns the pty, the console process and the attach socket."""

    def __init__(self, sock_path: Path, argv: list[str], *, rows: int, cols: int,
                 label: str, env: dict[str, str] | None = None) -> None:
        self.sock_path = sock_path
        self.argv = argv
        self.rows, self.cols = rows, cols
        self.label = label
        self.env = dict(os.environ if env is None else env)
        self.lock = InstanceLock(sock_path)
        self.selector = selectors.DefaultSelector()
        self.client: Connection | None = None
        self.conns: set[Connection] = set()
        self.since = time.time()
        self.child_pid = 0
        self.status: int | None = None
        self.master = -1
        self._master_out = bytearray()  # client input the console has not taken yet
        self._side_reader = LineReader()
        self._terms = 0

    # ----- start ------------------------------------------------------------------------
    def start(self) -> bool:
        """Claim the config, listen, start the console. False: another holder runs it."""
        paths.private_dir(self.sock_path.parent)
        if not self.lock.acquire():
            return False
        remove_if_stale(self.sock_path)  # ours now: any socket file left is a dead one's
        with contextlib.suppress(FileNotFoundError):
            self.sock_path.unlink()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is born 0600: only this user may attach
        try:
            self.listener.bind(str(self.sock_path))
        finally:
            os.umask(old)
        os.chmod(self.sock_path, 0o600)
        self.listener.listen(8)
        self.listener.setblocking(False)
        self._install_signals()
        self._spawn()
        self.selector.register(self.listener, selectors.EVENT_READ, self._accept)
        self.selector.register(self.master, selectors.EVENT_READ, self._from_console)
        self.selector.register(self.side, selectors.EVENT_READ, self._from_side)
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._on_signal)
        log.info("holding %s (pid %d) for %s on %s", self.argv[0], self.child_pid,
                 self.label, self.sock_path)
        return True

    def _install_signals(self) -> None:
        self._wake_r, wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        wake_w.setblocking(False)
        self._wake_w = wake_w
        signal.set_wakeup_fd(wake_w.fileno())
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _noted)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal of our own to lose
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    def _spawn(self) -> None:
        self.master, self.side, self.child_pid = spawn_on_pty(
            self.argv, self.env, self.rows, self.cols, self.lock)

    # ----- the loop ---------------------------------------------------------------------
    def run(self) -> int:
        """Serve until the console exits; returns its exit status."""
        try:
            while self.status is None:
                for key, mask in self.selector.select(timeout=HANDSHAKE_S / 2):
                    key.data(key.fileobj, mask)
                self._expire_handshakes()
            self._finish()
        finally:
            self._cleanup()
        assert self.status is not None
        return self.status

    def _on_signal(self, _sock: Any, _mask: int) -> None:
        with contextlib.suppress(BlockingIOError):
            for signum in self._wake_r.recv(256):
                if signum in (signal.SIGTERM, signal.SIGINT):
                    self._terminate()
        self._reap()

    def _terminate(self) -> None:
        """First time: ask the console to shut down cleanly; then: SIGTERM it."""
        self._terms += 1
        if self._terms == 1:
            log.info("asked to stop: telling the console to shut down")
            self._side_send({"event": "terminate"})
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child_pid, signal.SIGTERM)

    def _reap(self) -> None:
        if self.status is not None:
            # Reaped already: the pty's end of file and SIGCHLD both report the exit,
            # often in one select batch; a second waitpid would find no child (ECHILD).
            return
        try:
            pid, status = os.waitpid(self.child_pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.child_pid, 0
        if pid == self.child_pid:
            code = os.waitstatus_to_exitcode(status)
            self.status = code if code >= 0 else 128 - code
            log.info("the console exited with status %d", self.status)

    # ----- console side -----------------------------------------------------------------
    def _from_console(self, _fd: Any, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush_master()
        if not mask & selectors.EVENT_READ:
            return
        try:
            data = os.read(self.master, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            data = b""
        if not data:  # every slave fd closed: the console is going; SIGCHLD will follow
            self.selector.unregister(self.master)
            self._reap()
            return
        if self.client is not None:
            self._send(self.client, frame(OUTPUT, data))

    def _to_console(self, data: bytes) -> None:
        self._master_out += data
        self._flush_master()

    def _flush_master(self) -> None:
        try:
            while self._master_out:
                sent = os.write(self.master, self._master_out)
                del self._master_out[:sent]
        except BlockingIOError:
            pass
        except OSError:
            self._master_out.clear()  # the console is gone
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._master_out else 0)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.modify(self.master, events, self._from_console)

    def _from_side(self, _sock: Any, _mask: int) -> None:
        data = _recv(self.side)
        if data is None:
            return
        if not data:
            self.selector.unregister(self.side)
            return
        for message in self._side_reader.feed(data):
            if message.get("request") == "detach" and self.client is not None:
                self._detach(self.client, "detached", "detach key")

    def _side_send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # a console that stopped reading loses news only
            self.side.send(line(message))

    # ----- clients ----------------------------------------------------------------------
    def _accept(self, _sock: Any, _mask: int) -> None:
        try:
            conn, _addr = self.listener.accept()
        except BlockingIOError:
            return
        client = Connection(conn)
        self.conns.add(client)
        self.selector.register(client.sock, selectors.EVENT_READ, self._from_client(client))

    def _from_client(self, conn: Connection) -> Callable[[Any, int], None]:
        def ready(_sock: Any, mask: int) -> None:
            if mask & selectors.EVENT_WRITE:
                self._flush(conn)
            if mask & selectors.EVENT_READ and conn in self.conns:
                self._read_client(conn)

        return ready

    def _read_client(self, conn: Connection) -> None:
        data = _recv(conn.sock)
        if data is None:
            return
        if not data:
            self._drop(conn, "hangup")
            return
        try:
            for got in conn.reader.feed(data):
                self._handle(conn, got.kind, got.payload)
        except ProtocolError as exc:
            log.warning("dropping a client: %s", exc)
            self._drop(conn, "protocol error")

    def _handle(self, conn: Connection, kind: bytes, payload: bytes) -> None:
        if kind == INPUT and conn.attached:
            self._to_console(payload)
        elif kind == WINCH and conn.attached:
            size = load(payload)
            self._resize(int(size["rows"]), int(size["cols"]))
        elif kind == HELLO and not conn.attached:
            self._attach(conn, load(payload))
        elif kind == STATUS:
            self._send(conn, json_frame(STATUS_REPLY, self.describe()))
            conn.closing = True
            self._flush(conn)

    def describe(self) -> dict[str, Any]:
        client = self.client
        return {"config": self.label, "pid": self.child_pid, "holder_pid": os.getpid(),
                "since": self.since, "attached": client is not None,
                "tty": client.tty if client is not None else ""}

    def _attach(self, conn: Connection, hello: dict[str, Any]) -> None:
        old = self.client
        if old is not None:
            where = str(hello.get("tty") or "another terminal")
            self._detach(old, f"another terminal attached ({where})", None)
        conn.attached = True
        conn.tty = str(hello.get("tty") or "")
        self.client = conn
        self._resize(int(hello.get("rows") or 24), int(hello.get("cols") or 80))
        log.info("attached %s", conn.tty or "a terminal")
        self._side_send({"event": "attached", "ssh": bool(hello.get("ssh")),
                         "takeover": old is not None, "rows": self.rows, "cols": self.cols})

    def _resize(self, rows: int, cols: int) -> None:
        self.rows, self.cols = rows, cols
        with contextlib.suppress(OSError):
            set_winsize(self.master, rows, cols)

    def _detach(self, conn: Connection, reason: str, why: str | None) -> None:
        """Let ``conn`` go with ``reason``; tell the console unless another attaches now."""
        self._send(conn, json_frame(DETACHED, {"reason": reason}))
        conn.closing = True
        conn.attached = False
        if self.client is conn:
            self.client = None
            if why is not None:
                log.info("detached (%s)", why)
                self._side_send({"event": "detached", "reason": why})
        self._flush(conn)

    def _drop(self, conn: Connection, why: str) -> None:
        was_attached = self.client is conn
        self._close(conn)
        if was_attached:
            self.client = None
            log.info("detached (%s)", why)
            self._side_send({"event": "detached", "reason": why})

    def _send(self, conn: Connection, data: bytes) -> None:
        conn.pending += data
        if len(conn.pending) > MAX_CLIENT_BACKLOG:
            log.warning("a client stopped reading: detaching it")
            conn.pending.clear()
            self._drop(conn, "stalled")
            return
        self._flush(conn)

    def _flush(self, conn: Connection) -> None:
        if conn not in self.conns:
            return
        try:
            while conn.pending:
                sent = conn.sock.send(conn.pending)
                del conn.pending[:sent]
        except BlockingIOError:
            pass
        except OSError:
            self._drop(conn, "hangup")
            return
        if conn.closing and not conn.pending:
            self._close(conn)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.pending else 0)
        self.selector.modify(conn.sock, events, self._from_client(conn))

    def _close(self, conn: Connection) -> None:
        if conn in self.conns:
            self.conns.discard(conn)
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(conn.sock)
            conn.sock.close()

    def _expire_handshakes(self) -> None:
        now = time.monotonic()
        for conn in list(self.conns):
            if not conn.attached and now - conn.opened > HANDSHAKE_S:
                self._close(conn)

    # ----- the end ----------------------------------------------------------------------
    def _finish(self) -> None:
        """The console exited: its last output, then the status, reach the client."""
        while True:
            try:
                data = os.read(self.master, READ_SIZE)
            except OSError:
                break
            if not data:
                break
            if self.client is not None:
                self.client.pending += frame(OUTPUT, data)
        client = self.client
        if client is None:
            return
        client.pending += json_frame(EXIT, {"status": self.status})
        client.sock.setblocking(True)
        client.sock.settimeout(FLUSH_S)
        with contextlib.suppress(OSError):
            client.sock.sendall(client.pending)

    def _cleanup(self) -> None:
        for conn in list(self.conns):
            self._close(conn)
        with contextlib.suppress(OSError):
            self.sock_path.unlink()
        self.lock.release()
        for fd in (self.master,):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.selector.close()


def _recv(sock: socket.socket) -> bytes | None:
    """What a ready socket has: bytes, b"" when closed (or broken), None if nothing yet."""
    try:
        return sock.recv(READ_SIZE)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _noted(_signum: int, _frame: Any) -> None:
    """The wakeup fd carries the signal into the loop; the handler itself does nothing."""


def _setup_logging() -> None:
    path = paths.holder_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > 1 << 20:
            path.replace(path.with_suffix(".log.1"))
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s holder[%(process)d]: %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentconsole-holder")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--label", required=True)
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--cols", type=int, default=80)
    parser.add_argument("--ready-fd", type=int, default=-1)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    _setup_logging()
    holder = Holder(args.socket, command, rows=args.rows, cols=args.cols, label=args.label)
    try:
        started = holder.start()
    except OSError as exc:
        _ready(args.ready_fd, f"error {exc}")
        log.error("cannot start: %s", exc)
        return 1
    _ready(args.ready_fd, "ready" if started else "busy")
    if not started:
        return 0
    return holder.run()


def _ready(fd: int, word: str) -> None:
    """Tell the launcher how the start went (one line on the pipe it passed)."""
    if fd < 0:
        return
    with contextlib.suppress(OSError):
        os.write(fd, word.encode() + b"\n")
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
