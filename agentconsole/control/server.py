"""The control socket: a Unix stream socket for this user only, one instance per path.

* The socket's directory is made 0700 (:func:`agentconsole.paths.private_dir`) and the
  socket itself 0600 before it listens: nobody else on the machine can connect.
* One instance per path: an exclusive ``flock`` on ``<socket>.lock``, held while the
  server runs. The kernel drops it when the process dies, however it dies, so a socket
  left by a killed process is known to be stale and is replaced, while a second instance
  on a live path refuses to start with :class:`ControlServerError`.
* Many clients at once, each a :class:`~.peer.ControlPeer`; a malformed line gets its
  error and the connection stays up; a client that stops reading is dropped when its
  outbox fills (the socket's write buffer is kept small so that happens early).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import socket
import stat
import weakref
from pathlib import Path

from .. import paths
from .bridge import EventBridge
from .methods import Methods
from .peer import DEFAULT_QUEUE_SIZE, ControlPeer
from .protocol import LineDecoder

logger = logging.getLogger(__name__)

#: sockaddr_un.sun_path is 108 bytes on Linux, NUL included.
MAX_SOCKET_PATH = 107
#: Bytes the kernel-side write buffer may hold before ``drain`` waits (per client).
WRITE_BUFFER_HIGH = 64 * 1024
MAX_CLIENTS = 64
#: How long a stopping server lets its clients' queued messages go out.
FLUSH_ON_STOP_S = 1.0
READ_CHUNK = 65536


class ControlServerError(Exception):
    """The control socket cannot be opened; the message says why and what to do."""


class InstanceLock:
    """``flock`` on ``<socket>.lock``: held by the one process serving that path."""

    def __init__(self, socket_path: Path) -> None:
        self.path = socket_path.with_name(socket_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ControlServerError(
                    f"another agentconsole is already running with the control socket "
                    f"{self.path.with_suffix('')}; stop it first, or give this one "
                    "another control.socket (or control.enabled: false)") from None
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock; the file stays for the next one
            self._fd = None


class UnixControlServer:
    """Serves ``methods`` and ``bridge`` events on the Unix socket at ``path``."""

    def __init__(self, path: Path, methods: Methods, bridge: EventBridge, *,
                 queue_size: int = DEFAULT_QUEUE_SIZE, max_clients: int = MAX_CLIENTS) -> None:
        self.path = Path(path)
        self.methods = methods
        self.bridge = bridge
        self.queue_size = queue_size
        self.max_clients = max_clients
        self.peers: set[ControlPeer] = set()
        self._senders: set[asyncio.Task[None]] = set()
        self._lock = InstanceLock(self.path)
        self._server: asyncio.Server | None = None
        self._inode: tuple[int, int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped: weakref.WeakSet[asyncio.Task[None]] = weakref.WeakSet()
        self._count = 0

    async def start(self) -> None:
        """Listen; raises :class:`ControlServerError` (second instance, bad path ...)."""
        if len(os.fsencode(self.path)) > MAX_SOCKET_PATH:
            raise ControlServerError(
                f"the control socket path {self.path} is too long ({len(str(self.path))} "
                f"bytes; Unix sockets allow {MAX_SOCKET_PATH}): set control.socket to a "
                "shorter path")
        try:
            paths.private_dir(self.path.parent)
        except OSError as exc:
            raise ControlServerError(f"cannot prepare {self.path.parent} for the control "
                                     f"socket: {exc.strerror or exc}") from exc
        self._lock.acquire()
        try:
            sock = self._bind()
            self._server = await asyncio.start_unix_server(self._serve_client, sock=sock)
        except BaseException:
            self._lock.release()
            raise
        logger.info("control socket listening on %s", self.path)

    def _bind(self) -> socket.socket:
        self._remove_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
            # The directory is 0700 already; 0600 also keeps the socket private if the
            # socket is placed in a shared directory by control.socket.
            os.chmod(self.path, 0o600)
            info = os.stat(self.path)
            self._inode = (info.st_dev, info.st_ino)
        except OSError as exc:
            sock.close()
            raise ControlServerError(f"cannot listen on {self.path}: "
                                     f"{exc.strerror or exc}") from exc
        sock.setblocking(False)
        return sock

    def _remove_stale(self) -> None:
        """We hold the lock, so whatever is at the path was left by a dead process."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise ControlServerError(f"{self.path} exists and is not a socket; remove it or "
                                     "choose another control.socket")
        logger.info("replacing the stale control socket %s", self.path)
        os.unlink(self.path)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for peer in list(self.peers):
            peer.finish()  # the last events (calls hung up by the phone's stop) go out first
        if self._senders:
            await asyncio.wait(list(self._senders), timeout=FLUSH_ON_STOP_S)
        for task in list(self._tasks):
            self._stopped.add(task)
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
            self._unlink_ours()
        self._lock.release()

    def _unlink_ours(self) -> None:
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if (info.st_dev, info.st_ino) == self._inode:
            os.unlink(self.path)

    # ----- clients -------------------------------------------------------------------------
    async def _serve_client(self, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._client(reader, writer)
        except asyncio.CancelledError:
            if task not in self._stopped:
                raise
            # :meth:`stop` ended this connection: a normal end for asyncio's server, whose
            # Python 3.11 done-callback reports a cancelled handler as an unhandled error.
            task.uncancel()
        finally:
            self._tasks.discard(task)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._count += 1
        transport = writer.transport
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        if len(self.peers) >= self.max_clients:
            logger.warning("control socket: refusing a client (%d connected)", len(self.peers))
            transport.abort()
            return
        peer = ControlPeer(self.methods, self.bridge, name=f"unix#{self._count}",
                           queue_size=self.queue_size)
        peer.on_overflow = transport.abort
        self.peers.add(peer)
        sender = asyncio.get_running_loop().create_task(_send_loop(peer, writer))
        self._senders.add(sender)
        sender.add_done_callback(self._senders.discard)
        try:
            await _read_loop(peer, reader)
            # The client finished writing. After a subscribe (``nc -U`` whose input
            # ended) the events keep coming; otherwise its answers go out, then close.
            if not peer.subscribed:
                peer.finish()
            await sender
        except ConnectionError:
            logger.debug("control client %s went away", peer.name)
        finally:
            peer.close()
            self.peers.discard(peer)
            sender.cancel()
            with contextlib.suppress(Exception):
                transport.close()


async def _read_loop(peer: ControlPeer, reader: asyncio.StreamReader) -> None:
    decoder = LineDecoder()
    while not peer.closed:
        data = await reader.read(READ_CHUNK)
        lines = decoder.feed(data) if data else decoder.finish()
        for line in lines:
            await peer.handle(line)
            if peer.closed:
                return
        if not data:
            return


async def _send_loop(peer: ControlPeer, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await peer.outbox.get()
            if not data:  # the end marker of ControlPeer.finish
                return
            writer.write(data)
            await writer.drain()
    except (ConnectionError, RuntimeError):
        peer.close()


__all__ = ["ControlServerError", "InstanceLock", "MAX_SOCKET_PATH", "UnixControlServer"]
