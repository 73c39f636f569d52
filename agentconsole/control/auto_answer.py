"""Auto-answer: calls that ask for it from a trusted PBX, and the agent's "answer every queue
call after N seconds" mode. A component attached to a Phone through its public events.

Two independent reasons to answer without a key press:

* **A request from a trusted source** — ``Call-Info: <...>;answer-after=N``,
  ``Alert-Info: <...>;info=alert-autoanswer`` (or any Alert-Info naming auto-answer),
  RFC 5373 ``Answer-Mode: Auto`` / ``Priv-Answer-Mode: Auto``. Anyone can write these
  headers, and a phone that obeys them is a remote microphone (``reference/
  reliability.md`` §4 item 12), so a request counts only when the INVITE came from a
  source listed in ``auto_answer.requests_from``: an address, ``address:port`` or a
  host name resolved when the request arrives, matched against the packet's source
  (:attr:`Session.source`), never against a header. Empty (the default): requests are
  ignored and logged.
* **The agent's mode** — ``auto_answer.agent_mode`` (toggled from the console and the
  socket): every inbound call (only those with a queue, unless ``queue_calls_only:
  false``) is answered ``delay_s`` seconds after it starts ringing.

Either way a call is answered only while nothing else is up (never auto-holding a
conversation for a new caller), with a short beep on the ring device first when
``beep`` is on (``phone.devices.beep``), so a headset agent knows a caller is about to
speak.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from pyee.asyncio import AsyncIOEventEmitter

from ..config_integration import AutoAnswerConfig
from ..errors import AgentConsoleError
from ..softphone.api import Headers, PhoneAPI, SessionAPI
from ..trust import is_address, source_keys, trust_entries

logger = logging.getLogger(__name__)

#: A request's answer-after is capped: a call should not wait on a timer for minutes.
MAX_REQUEST_DELAY_S = 60.0
RESOLVE_TIMEOUT_S = 2.0
_ANSWER_AFTER = re.compile(r";\s*answer-after\s*=\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_AUTO_ALERT = re.compile(r"auto-?answer|ring-?answer", re.IGNORECASE)


@dataclass(frozen=True)
class AnswerRequest:
    """A call asking to be answered by itself: after ``delay_s``, because of ``header``."""

    delay_s: float
    header: str


def answer_request(headers: Headers) -> AnswerRequest | None:
    """The auto-answer request in an INVITE's headers, if it makes one."""
    for value in headers.get_all("Call-Info"):
        match = _ANSWER_AFTER.search(value.split(">", 1)[-1])
        if match:
            return AnswerRequest(min(float(match.group(1)), MAX_REQUEST_DELAY_S), "Call-Info")
    for value in headers.get_all("Alert-Info"):
        if _AUTO_ALERT.search(value):
            return AnswerRequest(0.0, "Alert-Info")
    for name in ("Answer-Mode", "Priv-Answer-Mode"):
        mode = headers.get(name)
        if mode and mode.split(";", 1)[0].strip().lower() == "auto":
            return AnswerRequest(0.0, name)
    return None


class AutoAnswer(AsyncIOEventEmitter):
    """Watches ``phone``'s incoming calls. Events: ``change`` (:meth:`state`),
    ``answered`` ({"call_id", "reason", "delay_s"}), ``notice`` (title, message)."""

    def __init__(self, phone: PhoneAPI, config: AutoAnswerConfig, *,
                 resolve: Callable[[str], Awaitable[set[str]]] | None = None) -> None:
        super().__init__()
        self.phone = phone
        self.enabled = bool(config.agent_mode)
        self.delay_s = float(config.delay_s)
        self.queue_calls_only = bool(config.queue_calls_only)
        self.beep = bool(config.beep)
        self.requests_from = trust_entries(config.requests_from)
        self._resolve = resolve or _resolve
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._attached = False

    # ----- state ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "delay_s": self.delay_s,
                "queue_calls_only": self.queue_calls_only,
                "requests_trusted": len(self.requests_from)}

    def configure(self, enabled: bool | None = None,
                  delay_s: float | None = None) -> dict[str, Any]:
        """Turn the agent mode on or off and/or change its delay; emits ``change``."""
        before = (self.enabled, self.delay_s)
        if enabled is not None:
            self.enabled = enabled
        if delay_s is not None:
            self.delay_s = max(0.0, float(delay_s))
        if (self.enabled, self.delay_s) != before:
            logger.info("auto-answer %s (%g s)", "on" if self.enabled else "off", self.delay_s)
            self.emit("change", self.state())
        return self.state()

    def toggle(self) -> dict[str, Any]:
        return self.configure(enabled=not self.enabled)

    @property
    def pending(self) -> frozenset[str]:
        """Calls that will be answered when their delay runs out."""
        return frozenset(self._timers)

    # ----- wiring --------------------------------------------------------------------------
    def attach(self) -> None:
        if not self._attached:
            self.phone.on("incoming", self._on_incoming)
            self.phone.on("delete_session", self._on_delete_session)
            self._attached = True

    def detach(self) -> None:
        if self._attached:
            self.phone.remove_listener("incoming", self._on_incoming)
            self.phone.remove_listener("delete_session", self._on_delete_session)
            self._attached = False
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()

    def _on_incoming(self, session: SessionAPI) -> None:
        try:
            request = answer_request(session.request_headers)
        except Exception:  # noqa: BLE001 - odd headers just mean "no request"
            logger.debug("could not read the auto-answer headers of %s", session.call_id)
            request = None
        if request is not None:
            self._spawn(self._consider_request(session, request))
        if self.enabled and (session.status.queue or not self.queue_calls_only):
            self._schedule(session, self.delay_s, "agent_mode")

    async def _consider_request(self, session: SessionAPI, request: AnswerRequest) -> None:
        source = session.source
        if not await self.is_trusted(source):
            where = f"{source[0]}:{source[1]}" if source else "an unknown source"
            logger.warning("ignored an auto-answer request (%s) from %s for %s: not in "
                           "auto_answer.requests_from", request.header, where, session.call_id)
            return
        self._schedule(session, request.delay_s, "request")

    async def is_trusted(self, source: tuple[str, int] | None) -> bool:
        """Whether ``source`` (a packet's address) is one of ``requests_from``: an
        address, ``address:port``, or a name that resolves to the address now."""
        if source is None or not self.requests_from:
            return False
        if self.requests_from & source_keys(source):
            return True
        for entry in self.requests_from:
            if is_address(entry):
                continue
            name, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
            if port and port != str(source[1]):
                continue
            try:
                addresses = await asyncio.wait_for(self._resolve(name), RESOLVE_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                logger.info("cannot resolve %s (auto_answer.requests_from): %s", name, exc)
                continue
            if source[0] in addresses:
                return True
        return False

    # ----- answering -------------------------------------------------------------------------
    def _schedule(self, session: SessionAPI, delay: float, reason: str) -> None:
        call_id = session.call_id
        if session.is_ended or call_id in self._timers:
            return  # already due (the earlier of the two reasons wins)
        loop = asyncio.get_running_loop()
        self._timers[call_id] = loop.call_later(
            delay, lambda: self._spawn(self._answer(session, reason, delay)))

    def _on_delete_session(self, info: Any = None, *_: Any) -> None:
        """The call is over (ended, failed, destroyed): its timer goes."""
        call_id = info.get("call_id") if isinstance(info, dict) else None
        handle = self._timers.pop(call_id, None) if call_id else None
        if handle is not None:
            handle.cancel()

    def _busy(self, session: SessionAPI) -> bool:
        """Another call is up (talking, held, dialling): let this one ring."""
        return any(s is not session and not s.is_ended and not s.status.is_ring
                   for s in self.phone.sessions.values())

    async def _answer(self, session: SessionAPI, reason: str, delay: float) -> None:
        self._timers.pop(session.call_id, None)
        if reason == "agent_mode" and not self.enabled:
            return  # switched off while the call rang
        if not _ringing(session):
            return
        if self._busy(session):
            logger.info("not auto-answering %s: another call is up", session.call_id)
            return
        if not self.beep:
            await self._answer_now(session, reason, delay)
            return
        await self.phone.devices.beep()
        try:
            if _ringing(session):
                await self._answer_now(session, reason, delay)
        finally:  # other calls ring on: their tone again, not the pips' silence
            await self.phone.devices.restore_ring()

    async def _answer_now(self, session: SessionAPI, reason: str, delay: float) -> None:
        try:
            await session.answer()
        except AgentConsoleError as exc:
            logger.warning("auto-answer of %s failed: %s", session.call_id, exc)
            self.emit("notice", "Auto-answer", f"Could not answer: {exc.message}")
            return
        logger.info("auto-answered %s (%s)", session.call_id, reason)
        self.emit("answered", {"call_id": session.call_id, "reason": reason,
                               "delay_s": delay})

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _ringing(session: SessionAPI) -> bool:
    return not session.is_ended and session.status.is_ring


async def _resolve(name: str) -> set[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(name, None)
    return {str(info[4][0]) for info in infos}


__all__ = ["AnswerRequest", "AutoAnswer", "answer_request"]
