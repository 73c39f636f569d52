"""Starting the console on a pseudo-terminal of its own, with the side channel.

The console becomes a session leader with the pty's slave side as its controlling
terminal and as its stdin, stdout and stderr, exactly as a terminal emulator or sshd
would start it, so Textual sees an ordinary terminal. One end of a socketpair is
inherited, its number in ``$AGENTCONSOLE_REMOTE_FD`` (:mod:`.link` takes it); everything
else the holder has open (its lock, its listening socket) is close-on-exec.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import struct
import termios

from .protocol import SIDE_FD_ENV
from .registry import InstanceLock


def set_winsize(fd: int, rows: int, cols: int) -> None:
    """Size the pty; the kernel sends SIGWINCH to its foreground process group."""
    rows, cols = max(1, min(rows, 4096)), max(1, min(cols, 4096))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def spawn_on_pty(argv: list[str], env: dict[str, str], rows: int, cols: int,
                 lock: InstanceLock) -> tuple[int, socket.socket, int]:
    """Fork and exec ``argv`` on a new pty; (master fd, our side channel end, pid)."""
    master, slave = os.openpty()
    set_winsize(slave, rows, cols)
    side, child_side = socket.socketpair()
    child_side.set_inheritable(True)
    child_env = {**env, SIDE_FD_ENV: str(child_side.fileno())}
    pid = os.fork()
    if pid == 0:  # the console: a session of its own, the pty its controlling tty
        try:
            lock.forget()  # the lock is the holder's alone (liveness = the holder)
            for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                        signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.execvpe(argv[0], argv, child_env)
        finally:
            os._exit(127)
    os.close(slave)
    child_side.close()
    os.set_blocking(master, False)
    side.setblocking(False)
    return master, side, pid
