"""An asyncio JSON-RPC client of the control socket for tests: requests, events, raw lines."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

from tests.waiting import wait_until


class RpcFailure(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = error.get("message", "")
        self.data = error.get("data")


class RpcClient:
    """One connection; ``events`` collects every event notification in arrival order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.events: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._waiting: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._task = asyncio.get_running_loop().create_task(self._read())
        self.closed = asyncio.Event()

    @classmethod
    async def connect(cls, path: Any) -> RpcClient:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=2**24)
        return cls(reader, writer)

    async def _read(self) -> None:
        try:
            while line := await self.reader.readline():
                message = json.loads(line)
                if message.get("method") == "event":
                    self.events.append(message["params"])
                    continue
                self.responses.append(message)
                waiter = self._waiting.pop(message.get("id"), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
        finally:
            self.closed.set()

    async def send_line(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def raw(self, data: bytes, request_id: Any = None, timeout: float = 10.0
                  ) -> dict[str, Any]:
        """Send ``data`` as is; return the next response (the one for ``request_id``)."""
        count = len(self.responses)
        await self.send_line(data)
        await wait_until(lambda: any(r.get("id") == request_id
                                     for r in self.responses[count:]), timeout,
                         f"an answer to {data[:60]!r}")
        return next(r for r in self.responses[count:] if r.get("id") == request_id)

    async def request(self, method: str, timeout: float = 30.0, **params: Any
                      ) -> dict[str, Any]:
        request_id = next(self._ids)
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = waiter
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        await self.send_line(json.dumps(message).encode() + b"\n")
        return await asyncio.wait_for(waiter, timeout)

    async def call(self, method: str, timeout: float = 30.0, **params: Any) -> Any:
        reply = await self.request(method, timeout, **params)
        if "error" in reply:
            raise RpcFailure(reply["error"])
        return reply["result"]

    async def event(self, name: str, call_id: str | None = None, timeout: float = 15.0,
                    **match: Any) -> dict[str, Any]:
        """The first event named ``name`` (for ``call_id``, with ``match`` fields)."""

        def found() -> dict[str, Any] | None:
            for event in self.events:
                if event["event"] == name and (call_id is None or event.get("call_id") == call_id) \
                        and all(event.get(k) == v for k, v in match.items()):
                    return event
            return None

        await wait_until(lambda: found() is not None, timeout, f"event {name} {match}")
        result = found()
        assert result is not None
        return result

    def names(self, call_id: str, skip: tuple[str, ...] = ("call_report", "progress")
              ) -> list[str]:
        return [e["event"] for e in self.events
                if e.get("call_id") == call_id and e["event"] not in skip]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
        self._task.cancel()
