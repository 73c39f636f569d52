"""The driver: the asyncio glue between one sans-IO :class:`UserAgent` and one transport.

It feeds received messages and the loop's clock into the UA, sends what the UA wants
sent, hands UA events to the owner, and keeps exactly one ``loop.call_at`` armed for
the UA's next deadline. Every message in or out passes :meth:`Driver._trace`, the one
hook the SIP trace screen and tests observe; credentials are redacted there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..sip.events import UAEvent
from ..sip.redact import redact_message_bytes
from ..sip.ua import Outgoing, UserAgent
from .base import Transport, TransportError, TransportState

logger = logging.getLogger(__name__)

Address = tuple[str, int]


@dataclass(frozen=True)
class TraceEntry:
    """One SIP message as it crossed the wire (credentials already redacted)."""

    timestamp: float  # wall clock, for display
    direction: str  # "in" | "out"
    transport: str
    remote: Address | None
    data: bytes


TraceHook = Callable[[TraceEntry], None]


class Driver:
    """Runs ``ua`` over ``transport`` on the running asyncio loop."""

    def __init__(
        self,
        ua: UserAgent,
        transport: Transport,
        *,
        on_event: Callable[[UAEvent], None],
        on_transport_state: Callable[[TransportState, str], None] | None = None,
        trace: TraceHook | None = None,
    ) -> None:
        self.ua = ua
        self.transport = transport
        self.on_event = on_event
        self.on_transport_state = on_transport_state
        self.trace_hooks: list[TraceHook] = [trace] if trace is not None else []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._resolved: dict[str, str] = {}
        self._closed = False
        self._started = False

    # ----- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Open the transport (raises TransportError) and bring the UA up on it."""
        self._loop = asyncio.get_running_loop()
        self.transport.on_message = self._on_message
        self.transport.on_state_change = self._on_state_change
        await self.transport.start()
        self._started = True
        self._flow_up()

    async def stop(self, unregister_timeout: float = 2.0) -> None:
        """Un-REGISTER (waiting up to ``unregister_timeout``), then close the transport."""
        if self._closed:
            return
        if self.transport.state == TransportState.CONNECTED and self.ua.unregister(self.now()):
            self._pump()
            deadline = self.now() + unregister_timeout
            while self.ua.registration.pending is not None and self.now() < deadline:
                await asyncio.sleep(0.02)
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.transport.close()

    def now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    # ----- transport callbacks ------------------------------------------------------------
    def _on_message(self, data: bytes, source: Address) -> None:
        self._trace("in", source, data)
        self.ua.receive_data(data, source, self.now())
        self._pump()

    def _on_state_change(self, state: TransportState, reason: str) -> None:
        if self.on_transport_state is not None:
            self.on_transport_state(state, reason)
        if self._closed:
            return
        if state == TransportState.CONNECTED:
            if self._started:  # the first CONNECTED is handled by start() itself
                self._flow_up()
        elif state == TransportState.DISCONNECTED:
            self.ua.transport_down(reason, self.now())
            self._pump()

    def _flow_up(self) -> None:
        local = self.transport.local_address
        port = None if self.transport.kind in ("ws", "wss") else (local[1] if local else None)
        self.ua.transport_up(self.transport.via_host, port, self.now())
        self._pump()

    # ----- the pump -------------------------------------------------------------------------
    def poke(self) -> None:
        """Flush whatever the UA has queued (call after driving the UA from outside)."""
        self._pump()

    def _pump(self) -> None:
        for out in self.ua.data_to_send():
            self._send(out)
        for event in self.ua.events():
            try:
                self.on_event(event)
            except Exception:  # noqa: BLE001 - a bad listener must not stop the SIP loop
                logger.exception("event handler failed for %r", type(event).__name__)
        self._arm_timer()

    def _send(self, out: Outgoing) -> None:
        if self._closed:
            return
        dest = out.dest
        if dest is not None and not _is_ip(dest[0]):
            self._resolve_then_send(out)
            return
        self._trace("out", dest, out.data)
        try:
            self.transport.send(out.data, dest)
        except TransportError as exc:
            logger.warning("send failed: %s", exc)

    def _resolve_then_send(self, out: Outgoing) -> None:
        assert out.dest is not None and self._loop is not None
        host, port = out.dest
        cached = self._resolved.get(host)
        if cached is not None:
            self._send(Outgoing(out.data, (cached, port), out.message))
            return

        async def resolve() -> None:
            assert self._loop is not None
            try:
                infos = await self._loop.getaddrinfo(host, port, type=2)  # SOCK_DGRAM
            except OSError as exc:
                logger.warning("cannot resolve %s: %s", host, exc)
                return
            if infos:
                self._resolved[host] = str(infos[0][4][0])
                self._send(Outgoing(out.data, (self._resolved[host], port), out.message))

        self._loop.create_task(resolve())

    def _arm_timer(self) -> None:
        if self._loop is None or self._closed:
            return
        deadline = self.ua.next_deadline()
        if deadline == self._timer_at and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.ua.handle_timer(self.now())
        self._pump()

    # ----- tracing ------------------------------------------------------------------------------
    def _trace(self, direction: str, remote: Address | None, data: bytes) -> None:
        if not self.trace_hooks:
            return
        entry = TraceEntry(time.time(), direction, self.transport.kind, remote,
                           redact_message_bytes(data))
        for hook in self.trace_hooks:
            try:
                hook(entry)
            except Exception:  # noqa: BLE001
                logger.exception("trace hook failed")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
