"""The transport interface the driver talks to, and the reconnect logic of flows.

A transport moves whole SIP messages: it hands each received message (framed by
datagram, Content-Length or WebSocket message) to ``on_message`` and reports every
state change to ``on_state_change`` with a reason a user can read.

Lifecycle of the connection-oriented transports (TCP, TLS, WS, WSS):

* :meth:`Transport.start` makes **one** connection attempt and raises
  :class:`TransportError` with a readable reason when it fails (refused, timed out,
  "TLS certificate verify failed: certificate has expired" …). It does not retry:
  a wrong address or a bad certificate at start-up is a configuration problem the
  user should see at once. The owner may call ``start()`` again.
* Once started, a drop (peer close, reset, EOF, framing error, keep-alive timeout) is
  reported as DISCONNECTED and the transport reconnects in the background with
  randomized exponential backoff (:mod:`.backoff`: at least every
  ``reconnect_probe_s`` during the first minute, then doubling to ``reconnect_max_s``),
  reporting CONNECTED again on success; the owner then re-registers and refreshes the
  remote target of its dialogs (RFC 5626 §4.4, RFC 7118 §6, RFC 3261 §12.2).
* :meth:`Transport.close` stops everything; the state becomes CLOSED for good.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import errno
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass

from .backoff import Backoff

logger = logging.getLogger(__name__)

Address = tuple[str, int]


class TransportState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    CLOSED = "closed"


@dataclass(frozen=True)
class TransportSettings:
    """Knobs shared by all transports (times in seconds)."""

    local_host: str | None = None
    local_port: int = 0
    #: Idle time before a CRLFCRLF ping (TCP/TLS, RFC 5626 §4.4.1) or WS ping; 0 = off.
    keepalive_s: float = 30.0
    #: No pong (or any data) within this after a ping: the flow is dead.
    keepalive_timeout_s: float = 10.0
    reconnect_min_s: float = 2.0
    reconnect_max_s: float = 30.0
    #: During the first ``reconnect_probe_window_s`` of an outage, retry at least this
    #: often, so a restarted server is found again within this (0 window: off).
    reconnect_probe_s: float = 4.0
    reconnect_probe_window_s: float = 60.0
    connect_timeout_s: float = 10.0
    max_message_size: int = 65536
    tls_ca_file: str | None = None
    tls_verify: bool = True
    tls_server_name: str | None = None


class TransportError(Exception):
    """A transport could not do what was asked; ``str()`` is a user-readable reason."""


def _ignore_message(data: bytes, peer: Address) -> None:
    logger.debug("no on_message handler set; dropped %d bytes from %s", len(data), peer)


def _ignore_state(state: TransportState, reason: str) -> None:
    return None


def describe_os_error(exc: OSError) -> str:
    """A short reason for a socket error ("connection refused", "connection reset by peer")."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, BrokenPipeError):
        return "broken pipe"
    if exc.errno is not None and exc.errno in errno.errorcode:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


class Transport(abc.ABC):
    """One SIP transport as the driver sees it.

    ``local_address`` is the local (IP, port) of the bound socket or current flow;
    ``via_host``/``via_port`` are what goes into Via sent-by and Contact (for WS/WSS
    a random ``.invalid`` host and no port, RFC 7118 §5). Set ``on_message`` and
    ``on_state_change`` before :meth:`start`; they run on the event loop and must not
    block. Exceptions they raise are logged and never stop the transport.
    """

    kind: str
    reliable: bool

    def __init__(self, settings: TransportSettings) -> None:
        self.settings = settings
        self.state = TransportState.DISCONNECTED
        self.local_address: Address | None = None
        self.remote_address: Address | None = None
        self.via_host = ""
        self.on_message: Callable[[bytes, Address], None] = _ignore_message
        self.on_state_change: Callable[[TransportState, str], None] = _ignore_state

    @property
    def via_transport(self) -> str:
        """The Via transport token: UDP, TCP, TLS, WS or WSS (RFC 3261 §18.1, RFC 7118 §5.2)."""
        return self.kind.upper()

    @property
    def via_port(self) -> int | None:
        """Port for Via sent-by / Contact, or None to leave it out."""
        return self.local_address[1] if self.local_address else None

    @abc.abstractmethod
    async def start(self) -> None:
        """Bind (UDP) or make the first connection; raise :class:`TransportError` on failure."""

    @abc.abstractmethod
    def send(self, data: bytes, dest: Address | None = None) -> None:
        """Queue ``data`` for sending without blocking; raise :class:`TransportError` if down."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the socket or flow; no reconnect afterwards. The state becomes CLOSED."""

    def _set_state(self, state: TransportState, reason: str) -> None:
        self.state = state
        logger.info("%s transport %s: %s", self.kind, state.value, reason)
        try:
            self.on_state_change(state, reason)
        except Exception:
            logger.exception("on_state_change handler failed (%s: %s)", state.value, reason)

    def _deliver(self, data: bytes, peer: Address) -> None:
        try:
            self.on_message(data, peer)
        except Exception:
            logger.exception("on_message handler failed on %d bytes from %s", len(data), peer)


class FlowTransport(Transport):
    """Shared start/reconnect/close logic of the connection-oriented transports.

    Subclasses open one flow in :meth:`_open_flow`, read it until it ends in
    :meth:`_serve_flow` (returning why it ended) and release it in :meth:`_close_flow`.
    """

    reliable = True

    def __init__(self, settings: TransportSettings, *, rng: random.Random | None = None) -> None:
        super().__init__(settings)
        self._backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s, rng,
                                probe_s=settings.reconnect_probe_s,
                                probe_window_s=settings.reconnect_probe_window_s)
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False

    @property
    @abc.abstractmethod
    def target(self) -> str:
        """Where the flow goes, for messages ("tls 127.0.0.1:5061", a WS URL)."""

    @abc.abstractmethod
    async def _open_flow(self) -> None:
        """Connect; on success set ``local_address``/``remote_address``; else raise."""

    @abc.abstractmethod
    async def _serve_flow(self) -> str:
        """Read the current flow until it ends; return the reason it ended."""

    @abc.abstractmethod
    async def _close_flow(self, *, graceful: bool) -> None:
        """Release the current flow (idempotent)."""

    async def start(self) -> None:
        if self._closing:
            raise TransportError(f"{self.kind} transport is closed")
        if self._supervisor is not None:
            raise TransportError(f"{self.kind} transport already started")
        self._set_state(TransportState.CONNECTING, f"connecting to {self.target}")
        try:
            await self._open_flow()
        except TransportError as exc:
            self._set_state(TransportState.DISCONNECTED, str(exc))
            raise
        self._backoff.reset()
        self._set_state(TransportState.CONNECTED, f"connected to {self.target}")
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"{self.kind}-flow-{self.target}"
        )

    async def close(self) -> None:
        if self.state is TransportState.CLOSED:
            return
        self._closing = True
        task = self._supervisor
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait([task])
        await self._close_flow(graceful=True)
        self._set_state(TransportState.CLOSED, "closed")

    async def _supervise(self) -> None:
        while not self._closing:
            try:
                reason = await self._serve_flow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception("%s flow reader failed", self.kind)
                reason = f"internal error: {exc}"
            await self._close_flow(graceful=False)
            if self._closing:
                return
            self._set_state(TransportState.DISCONNECTED, reason)
            await self._reconnect()

    async def _reconnect(self) -> None:
        """Retry until connected or closed, with backoff (RFC 5626 §4.5 style)."""
        loop = asyncio.get_running_loop()
        while not self._closing:
            delay = self._backoff.next(loop.time())
            logger.info("%s: reconnecting to %s in %.2f s", self.kind, self.target, delay)
            await asyncio.sleep(delay)
            if self._closing:
                return
            try:
                await self._open_flow()
            except TransportError as exc:
                logger.warning("%s: reconnect to %s failed: %s", self.kind, self.target, exc)
                continue
            self._backoff.reset()
            self._set_state(TransportState.CONNECTED, f"reconnected to {self.target}")
            return
