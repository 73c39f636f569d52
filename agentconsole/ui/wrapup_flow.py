"""After-call work: one wrap-up form per answered call, after the agent's calls are over.

A mixin of :class:`~.app.AgentConsoleApp`. Each answered call that ends (consult legs
excepted: they are part of the customer's call) queues a wrap-up. The forms open, oldest
first, once no call is up any more, and the agent is in after-call work (ACW) until the
last one is filed; ``w`` opens the next one earlier. "Later" keeps a draft; a configured
``agent.wrapup.timeout_s`` files an empty wrap-up when a form has been open that long.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.app import App

from .agent_state import AgentState, AgentStatus
from .messages import CallFinished, PhoneChanged
from .screens.dialogs import WrapupForm, WrapupResult
from .view import is_ringing_in

if TYPE_CHECKING:
    from textual.message import Message

    from ..config import Config
    from ..history import CallHistory
    from .clock import Clock

    _AppBase = App[int]
else:
    _AppBase = object

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WrapupRecord:
    call_id: str
    number: str
    name: str
    code: str
    notes: str
    timed_out: bool = False


class WrapupFlow(_AppBase):
    """Wrap-up queue, forms and ACW for the console app."""

    config: Config
    clock: Clock
    phone: Any
    history: CallHistory | None
    wrapups: list[WrapupRecord]
    pending_wrapups: list[CallFinished]
    _wrapup_open: bool
    _wrapup_since: float
    _wrapup_drafts: dict[str, WrapupResult]

    if TYPE_CHECKING:
        @property
        def agent_state(self) -> AgentState: ...
        @agent_state.setter
        def agent_state(self, state: AgentState) -> None: ...
        def _changed(self, message: Message) -> None: ...
        def _history_changed(self) -> None: ...

    def _start_wrapups(self, ended: str | None = None) -> None:
        """After-call work starts when the agent's calls are over: a wrap-up form over a
        live call would take the keys from it, and ACW would turn new callers away while
        the agent is still talking. Until then the header counts the waiting wrap-ups."""
        if not self.pending_wrapups:
            return
        live = [s for s in self.phone.sessions.values() if s.call_id != ended
                and s.status.call_status != "ended" and not is_ringing_in(s)]
        if live:
            pending = self.pending_wrapups[-1]
            self.notify(f"The wrap-up of {pending.name} waits until your calls are over "
                        "(w opens it now).", title="Wrap-up", timeout=4)
            self._changed(PhoneChanged())
            return
        if self.agent_state.status is not AgentStatus.ACW:
            self.agent_state = self.agent_state.enter_acw(self.clock.monotonic())
        self.open_wrapup()

    def _wrapup_enabled(self) -> bool:
        wrapup = self.config.agent.wrapup
        return bool(wrapup.codes) or wrapup.required

    @property
    def wrapup_open(self) -> bool:
        """A wrap-up form is on screen."""
        return self._wrapup_open

    @property
    def pending_wrapup(self) -> CallFinished | None:
        """The call whose wrap-up is asked for now (the oldest waiting)."""
        return self.pending_wrapups[0] if self.pending_wrapups else None

    def open_wrapup(self) -> None:
        pending = self.pending_wrapup
        if pending is None:
            self.notify("No call is waiting for a wrap-up.", severity="warning")
            return
        if self._wrapup_open:
            return
        wrapup = self.config.agent.wrapup
        self._wrapup_open = True
        self._wrapup_since = self.clock.monotonic()
        self._changed(PhoneChanged())  # the header drops its "wrap-up (w)" hint

        def filed(result: WrapupResult | None) -> None:
            self._wrapup_open = False
            if result is None:
                self._changed(PhoneChanged())
                return
            if result.filed:
                self.file_wrapup(result.code, result.notes)
            else:
                self._wrapup_drafts[pending.call_id] = result
                self._changed(PhoneChanged())

        waiting = len(self.pending_wrapups)
        about = f"{pending.name} ({pending.number}) · {pending.cause}" + \
            (f" · 1 of {waiting}" if waiting > 1 else "")
        self.push_screen(WrapupForm(wrapup.codes, wrapup.required, about,
                                    self._wrapup_drafts.get(pending.call_id)), filed)

    def file_wrapup(self, code: str, notes: str, *, timed_out: bool = False) -> None:
        pending = self.pending_wrapup
        if pending is None:
            return
        record = WrapupRecord(pending.call_id, pending.number, pending.name, code, notes,
                              timed_out)
        self.wrapups.append(record)
        logger.info("wrap-up filed for %s: %s", pending.call_id, code or "(no code)")
        emit = getattr(self.phone, "emit", None)
        if emit is not None:  # the control socket, hooks and scripts see wrap-ups as events
            emit("wrapup", {"call_id": pending.call_id, "number": pending.number,
                            "name": pending.name, "code": code, "notes": notes,
                            "timed_out": timed_out})
        if self.history is not None:
            try:
                self.history.set_wrapup(pending.call_id, code, notes)
            except Exception as exc:  # noqa: BLE001 - the wrap-up is kept in memory
                logger.exception("could not store the wrap-up")
                self.notify(str(exc), title="Wrap-up not saved", severity="error")
            self._history_changed()
        self.pending_wrapups.pop(0)
        self._wrapup_drafts.pop(pending.call_id, None)
        if self.pending_wrapups:  # the next call's form; the ACW spell goes on
            self.call_later(self.open_wrapup)
        else:
            self.agent_state = self.agent_state.leave_acw(self.clock.monotonic())
        self._changed(PhoneChanged())

    def _check_wrapup_timeout(self) -> None:
        timeout = self.config.agent.wrapup.timeout_s
        state = self.agent_state
        if timeout is None or self.pending_wrapup is None or state.status is not AgentStatus.ACW:
            return
        since = self._wrapup_since if self._wrapup_open else state.since
        if self.clock.monotonic() - since >= timeout:
            if self._wrapup_open and isinstance(self.screen, WrapupForm):
                self.screen.dismiss(None)
            self.file_wrapup("", "", timed_out=True)
