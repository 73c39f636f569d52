"""Helpers shared by the transport tests."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from agentconsole.transport.base import Address, Transport, TransportState


@dataclass
class Recorder:
    """Collects on_message / on_state_change callbacks and lets a test await them."""

    messages: list[tuple[bytes, Address]] = field(default_factory=list)
    states: list[tuple[TransportState, str]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_message(self, data: bytes, peer: Address) -> None:
        self.messages.append((data, peer))
        self._changed.set()

    def on_state_change(self, state: TransportState, reason: str) -> None:
        self.states.append((state, reason))
        self._changed.set()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 2.0) -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)

    async def wait_messages(self, count: int, timeout: float = 2.0) -> list[bytes]:
        await self.wait_until(lambda: len(self.messages) >= count, timeout)
        return [data for data, _ in self.messages]

    async def wait_state(self, state: TransportState, after: int = 0, timeout: float = 2.0) -> str:
        """Wait for ``state`` among the reports from index ``after``; return its reason."""

        def seen() -> bool:
            return any(s is state for s, _ in self.states[after:])

        await self.wait_until(seen, timeout)
        return next(reason for s, reason in self.states[after:] if s is state)


def attach(transport: Transport, rec: Recorder) -> None:
    transport.on_message = rec.on_message
    transport.on_state_change = rec.on_state_change


class StreamServer:
    """A loopback TCP (or TLS) server that hands each accepted connection to the test."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    @property
    def address(self) -> Address:
        return ("127.0.0.1", self.port)

    async def start(self) -> StreamServer:
        self._server = await asyncio.start_server(
            self._on_connection, "127.0.0.1", self.port, ssl=self._ssl
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.append(writer)
        await self._accepted.put((reader, writer))

    async def accept(
        self, timeout: float = 2.0
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(self._accepted.get(), timeout)

    def pending(self) -> int:
        return self._accepted.qsize()

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
