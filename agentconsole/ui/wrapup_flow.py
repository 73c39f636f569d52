"""After-call work: one wrap-up form per answered call, after the agent's calls are over.

A part of :class:`~.app.AgentConsoleApp` (``app.wrapup``). Each answered call that ends
(consult legs excepted: they are part of the customer's call) queues a wrap-up. The
forms open, oldest first, once no call is up any more, and the agent is in after-call
work (ACW) until the last one is filed; ``w`` opens the next one earlier. "Later" keeps
a draft; a configured ``agent.wrapup.timeout_s`` files an empty wrap-up when a form has
been open that long.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..softphone.api import AgentStatus
from .messages import CallFinished, PhoneChanged
from .screens.dialogs import WrapupForm, WrapupResult
from .view import is_ringing_in

if TYPE_CHECKING:
    from .app import AgentConsoleApp

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WrapupRecord:
    call_id: str
    number: str
    name: str
    code: str
    notes: str
    timed_out: bool = False


class WrapupFlow:
    """Wrap-up queue, forms and ACW: a part of the console app (``app.wrapup``)."""

    def __init__(self, app: AgentConsoleApp) -> None:
        self.app = app
        #: Filed wrap-ups, oldest first.
        self.filed: list[WrapupRecord] = []
        #: Answered calls waiting for their wrap-up, oldest first (one form at a time).
        self.pending: list[CallFinished] = []
        self._open = False
        self._since = 0.0  # when the open wrap-up form appeared (its timeout)
        #: What the agent entered before "later", per call, shown again on reopening.
        self._drafts: dict[str, WrapupResult] = {}

    def start(self, ended: str | None = None) -> None:
        """After-call work starts when the agent's calls are over: a wrap-up form over a
        live call would take the keys from it, and ACW would turn new callers away while
        the agent is still talking. Until then the header counts the waiting wrap-ups."""
        if not self.pending:
            return
        live = [s for s in self.app.phone.sessions.values() if s.call_id != ended
                and s.status.call_status != "ended" and not is_ringing_in(s)]
        if live:
            pending = self.pending[-1]
            self.app.notify(f"The wrap-up of {pending.name} waits until your calls are over "
                        "(w opens it now).", title="Wrap-up", timeout=4)
            self.app.post_to_main(PhoneChanged())
            return
        if self.app.agent_state.status is not AgentStatus.ACW:
            self.app.enter_acw()
        self.open()

    def enabled(self) -> bool:
        wrapup = self.app.config.agent.wrapup
        return bool(wrapup.codes) or wrapup.required

    @property
    def is_open(self) -> bool:
        """A wrap-up form is on screen."""
        return self._open

    @property
    def current(self) -> CallFinished | None:
        """The call whose wrap-up is asked for now (the oldest waiting)."""
        return self.pending[0] if self.pending else None

    def open(self) -> None:
        pending = self.current
        if pending is None:
            self.app.notify("No call is waiting for a wrap-up.", severity="warning")
            return
        if self._open:
            return
        wrapup = self.app.config.agent.wrapup
        self._open = True
        self._since = self.app.clock.monotonic()
        self.app.post_to_main(PhoneChanged())  # the header drops its "wrap-up (w)" hint

        def filed(result: WrapupResult | None) -> None:
            self._open = False
            if result is None:
                self.app.post_to_main(PhoneChanged())
                return
            if result.filed:
                self.file(result.code, result.notes)
            else:
                self._drafts[pending.call_id] = result
                self.app.post_to_main(PhoneChanged())

        waiting = len(self.pending)
        about = f"{pending.name} ({pending.number}) · {pending.cause}" + \
            (f" · 1 of {waiting}" if waiting > 1 else "")
        self.app.push_screen(WrapupForm(wrapup.codes, wrapup.required, about,
                                    self._drafts.get(pending.call_id)), filed)

    def file(self, code: str, notes: str, *, timed_out: bool = False) -> None:
        pending = self.current
        if pending is None:
            return
        record = WrapupRecord(pending.call_id, pending.number, pending.name, code, notes,
                              timed_out)
        self.filed.append(record)
        logger.info("wrap-up filed for %s: %s", pending.call_id, code or "(no code)")
        # The control socket, hooks and scripts see wrap-ups as the phone's events.
        self.app.phone.agent.wrapup_filed(pending.call_id, code, notes, number=pending.number,
                                          name=pending.name, timed_out=timed_out)
        if self.app.history is not None:
            try:
                self.app.history.set_wrapup(pending.call_id, code, notes)
            except Exception as exc:  # noqa: BLE001 - the wrap-up is kept in memory
                logger.exception("could not store the wrap-up")
                self.app.notify(str(exc), title="Wrap-up not saved", severity="error")
            self.app.refresh_history()
        self.pending.pop(0)
        self._drafts.pop(pending.call_id, None)
        if self.pending:  # the next call's form; the ACW spell goes on
            self.app.call_later(self.open)
        else:
            self.app.leave_acw()
        self.app.post_to_main(PhoneChanged())

    def check_timeout(self) -> None:
        timeout = self.app.config.agent.wrapup.timeout_s
        state = self.app.agent_state
        if timeout is None or self.current is None or state.status is not AgentStatus.ACW:
            return
        since = self._since if self._open else self.app.agent_since
        if self.app.clock.monotonic() - since >= timeout:
            if self._open and isinstance(self.app.screen, WrapupForm):
                self.app.screen.dismiss(None)
            self.file("", "", timed_out=True)
