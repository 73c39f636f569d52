"""Everything of the integration layer attached to one phone, started and stopped together.

``Integration(phone, config)`` owns the event bridge, the auto-answer component, the
hook runner, the method table and the listeners (the Unix control socket unless
``control.enabled: false``, the WebSocket endpoint when ``control.websocket.enabled``).
The console (:mod:`agentconsole.ui_main`) and ``agentconsole serve`` both build one;
the console subscribes to its events to show what happens outside its own keys:

* ``notice`` (title, message, severity): a hook failed, an auto-answer went wrong —
  shown as a toast;
* ``auto_answer`` (state dict): the agent mode was switched (from the socket too).

``files_wrapups=True`` (``serve``, which has no wrap-up form) lets the socket's
``wrapup`` method file one: it becomes the phone's ``wrapup`` event
(``phone.agent.wrapup_filed``), as the console's form does, so the event, the hooks and
every client see wrap-ups the same way.

The console (:mod:`agentconsole.ui`) may not import this layer; it holds an Integration
as its :class:`~agentconsole.ui.integration.IntegrationAPI`, handed over by the entry
module :mod:`agentconsole.ui_main`.
"""

from __future__ import annotations

import contextvars
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyee.asyncio import AsyncIOEventEmitter

from ..config import Config
from ..softphone.api import PhoneAPI
from .auto_answer import AutoAnswer
from .bridge import EventBridge
from .hooks import HookFailure, HookRunner
from .methods import Methods, not_found
from .peer import DEFAULT_QUEUE_SIZE
from .server import ControlServerError, UnixControlServer

if TYPE_CHECKING:
    from .websocket import WebSocketEndpoint

logger = logging.getLogger(__name__)


class Integration(AsyncIOEventEmitter):
    """The control socket, events, hooks and auto-answer of ``phone``."""

    def __init__(self, phone: PhoneAPI, config: Config, *, files_wrapups: bool = False,
                 socket_path: Path | None = None,
                 queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        super().__init__()
        self.phone = phone
        self.config = config
        self.bridge = EventBridge(phone)
        self.auto_answer = AutoAnswer(phone, config.auto_answer)
        self.hooks = HookRunner(config.hooks)
        self.methods = Methods(phone, account=config.account.aor, auto_answer=self.auto_answer,
                               file_wrapup=self.file_wrapup if files_wrapups else None)
        control = config.control
        self.socket_path = Path(socket_path) if socket_path else control.socket_path
        self.server: UnixControlServer | None = None
        if control.enabled:
            self.server = UnixControlServer(self.socket_path, self.methods, self.bridge,
                                            queue_size=queue_size)
        self.websocket: WebSocketEndpoint | None = None
        if control.enabled and control.websocket.enabled:
            from .websocket import WebSocketEndpoint

            self.websocket = WebSocketEndpoint(control.websocket, self.methods, self.bridge,
                                               queue_size=queue_size)
        self._wrapped: set[str] = set()
        self._started = False

    async def start(self) -> None:
        """Follow the phone and open the listeners; raises :class:`ControlServerError`
        (another instance on the socket, a port in use ...) with nothing left open."""
        self.bridge.attach()
        self.bridge.add_listener(self.hooks.on_event)
        self.auto_answer.attach()
        self.auto_answer.on("change", self._on_auto_answer_change)
        self.auto_answer.on("notice", self._on_auto_answer_notice)
        self.hooks.on("failed", self._on_hook_failed)
        try:
            if self.server is not None:
                await self.server.start()
            if self.websocket is not None:
                await self.websocket.start()
        except BaseException:
            await self.stop()
            raise
        self._started = True

    async def stop(self) -> None:
        if self.websocket is not None:
            await self.websocket.stop()
        if self.server is not None:
            await self.server.stop()
        self.auto_answer.detach()
        self.auto_answer.remove_all_listeners()
        self.bridge.remove_listener(self.hooks.on_event)
        self.bridge.detach()
        await self.hooks.close()
        self.hooks.remove_all_listeners()
        self._started = False

    def run_methods_in(self, context: contextvars.Context) -> None:
        """Run socket commands in ``context`` (the console's), as if typed there."""
        self.methods.context = context

    # ----- what the console shows --------------------------------------------------------
    def _on_auto_answer_change(self, state: dict[str, Any]) -> None:
        self.bridge.publish("auto_answer", **state)
        self.emit("auto_answer", state)

    def _on_auto_answer_notice(self, title: str, message: str) -> None:
        self.emit("notice", title, message, "warning")

    def _on_hook_failed(self, failure: HookFailure) -> None:
        self.bridge.publish("hook_failed", index=failure.index, hook_event=failure.event,
                            target=failure.target, error=failure.error,
                            call_id=failure.call_id)
        self.emit("notice", "Hook failed", failure.text, "warning")

    # ----- wrap-ups from the socket (serve) -----------------------------------------------
    def file_wrapup(self, call_id: str | None, code: str, notes: str) -> dict[str, Any]:
        """File a wrap-up for ``call_id`` (default: the last call that ended without one)."""
        if call_id is None:
            call_id = self._last_unwrapped()
        known = self.bridge.remembered(call_id) if call_id else None
        if call_id is None or known is None:
            raise not_found("no ended call to wrap up" if call_id is None
                            else f"call {call_id} has not ended (or is unknown)")
        self._wrapped.add(call_id)
        self.phone.agent.wrapup_filed(call_id, code, notes, number=known.get("number", ""),
                                      name=known.get("name", ""))
        return {"call_id": call_id, "wrapup_code": code, "notes": notes}

    def _last_unwrapped(self) -> str | None:
        """The most recent answered call that ended and has no wrap-up yet."""
        for call_id in reversed(self.bridge.ended_ids()):
            known = self.bridge.remembered(call_id) or {}
            if call_id not in self._wrapped and known.get("answer_time"):
                return call_id
        return None


__all__ = ["ControlServerError", "Integration"]
