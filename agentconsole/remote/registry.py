"""Running consoles: one per config file, found by its attach socket in the runtime dir.

``<runtime dir>/console-<key>.sock`` is the attach socket of the console running the
config whose path hashes to ``<key>`` (:func:`agentconsole.paths.console_socket_path`),
and ``console-<key>.lock`` is ``flock``-ed by its holder for as long as it lives. The
lock is what "alive" means: the kernel releases it when the holder dies however it
dies, so a socket file whose lock is free is stale and is removed — a killed holder
never blocks the next start. A status query over the socket gives the details
(``agentconsole attach --list``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from .protocol import STATUS, STATUS_REPLY, FrameReader, ProtocolError, frame, load

QUERY_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Instance:
    """A running console as its holder describes it."""

    socket: Path
    config: str
    pid: int  # the console's own process
    holder_pid: int
    since: float  # wall-clock start time (epoch seconds)
    attached: bool
    tty: str  # the attached terminal, "" when detached


def lock_path(sock: Path) -> Path:
    return sock.with_suffix(".lock")


def lock_held(sock: Path) -> bool:
    """Is a live holder holding this socket's lock?"""
    try:
        fd = os.open(lock_path(sock), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock we may have taken
    return False


class InstanceLock:
    """The holder's claim on a config: ``acquire()`` is False when another holder lives."""

    def __init__(self, sock: Path) -> None:
        self.path = lock_path(sock)
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def forget(self) -> None:
        """In a forked child: close our copy of the lock without unlocking it."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(fd)


def query(sock: Path, timeout: float = QUERY_TIMEOUT_S) -> Instance | None:
    """Ask the holder behind ``sock`` who it is; None when nobody answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(sock))
            conn.sendall(frame(STATUS))
            reader = FrameReader()
            while True:
                data = conn.recv(65536)
                if not data:
                    return None
                for got in reader.feed(data):
                    if got.kind == STATUS_REPLY:
                        return _instance(sock, load(got.payload))
    except (OSError, ProtocolError, ValueError, KeyError):
        return None


def _instance(sock: Path, info: dict[str, object]) -> Instance:
    return Instance(sock, str(info["config"]), int(str(info["pid"])),
                    int(str(info["holder_pid"])), float(str(info["since"])),
                    bool(info["attached"]), str(info.get("tty") or ""))


def remove_if_stale(sock: Path) -> bool:
    """Remove ``sock`` (and its lock file) when no holder holds the lock; True if removed."""
    if lock_held(sock):
        return False
    for path in (sock, lock_path(sock)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return True


def running(config: Path) -> Instance | None:
    """The console running ``config``, if one is (a stale socket is cleaned up)."""
    sock = paths.console_socket_path(config)
    found = query(sock)
    if found is None:
        remove_if_stale(sock)
    return found


def instances() -> list[Instance]:
    """Every running console of this user, oldest first; stale sockets are removed."""
    found: list[Instance] = []
    runtime = paths.runtime_dir()
    for sock in sorted(runtime.glob(f"{paths.CONSOLE_PREFIX}*.sock")):
        got = query(sock)
        if got is not None:
            found.append(got)
        else:
            remove_if_stale(sock)
    return sorted(found, key=lambda i: i.since)
