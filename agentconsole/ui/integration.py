"""What the console shows of the integration layer (the control socket, hooks, auto-answer).

The console and the control socket are two clients of one phone: calls, agent state and
wrap-ups already reach the console through the phone's events, whoever acted. What only
the integration knows comes through :class:`ConsoleIntegration`:

* a hook that failed or an auto-answer that went wrong: a toast;
* the agent's auto-answer mode (switched by ``agent.auto_answer`` or by the socket's
  ``auto_answer`` method): a badge in the header, ``AUTO 3s``.

The console does not import the integration layer (``tests/test_layers.py``): the entry
module (:mod:`agentconsole.ui_main`) builds one and hands it over as an
:class:`IntegrationAPI`, the little the console uses of it. ``None`` (a console built
without it, as most tests and scripts do) means no badge, and the toggle says
auto-answer is unavailable.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, Protocol

from ..softphone.api import Emitter
from .messages import PhoneChanged

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from .app import AgentConsoleApp


class AutoAnswerMode(Protocol):
    """The agent's auto-answer mode: on or off, after how long; ``toggle`` returns the
    new state (``enabled``, ``delay_s``, ``queue_calls_only``)."""

    @property
    def enabled(self) -> bool: ...

    @property
    def delay_s(self) -> float: ...

    def toggle(self) -> dict[str, Any]: ...


class IntegrationAPI(Emitter, Protocol):
    """What the console uses of :class:`agentconsole.control.integration.Integration`.

    Events: ``notice`` (title, message, severity) and ``auto_answer`` (the new state).
    """

    @property
    def auto_answer(self) -> AutoAnswerMode: ...

    def run_methods_in(self, context: contextvars.Context) -> None: ...


class ConsoleIntegration:
    """The app's side of an :class:`IntegrationAPI` (or of none)."""

    def __init__(self, app: AgentConsoleApp, integration: IntegrationAPI | None) -> None:
        self.app = app
        self.integration = integration

    def attach(self) -> None:
        """Called from the app's ``on_mount``: inside the app's context, which socket
        commands then run in (their phone events reach the app as the keys' do: Textual
        finds its app through a context variable)."""
        if self.integration is not None:
            self.integration.on("notice", self._on_notice)
            self.integration.on("auto_answer", self._on_auto_answer)
            self.integration.run_methods_in(contextvars.copy_context())

    def header_badge(self) -> str:
        """``AUTO 3s`` while the agent's auto-answer mode is on, else empty."""
        if self.integration is None or not self.integration.auto_answer.enabled:
            return ""
        return f"AUTO {self.integration.auto_answer.delay_s:g}s"

    def toggle_auto_answer(self) -> None:
        if self.integration is None:
            self.app.notify("Auto-answer is not available in this console.",
                            severity="warning")
            return
        state = self.integration.auto_answer.toggle()  # its event redraws the header
        if state["enabled"]:
            what = "queue calls" if state["queue_calls_only"] else "calls"
            self.app.notify(f"On: {what} are answered after {state['delay_s']:g} s.",
                            title="Auto-answer", timeout=4)
        else:
            self.app.notify("Off.", title="Auto-answer", timeout=3)

    def _on_notice(self, title: str, message: str, severity: SeverityLevel = "warning",
                   *_: Any) -> None:
        self.app.notify(message, title=title, severity=severity, timeout=8)

    def _on_auto_answer(self, *_: Any) -> None:
        self.app.post_to_main(PhoneChanged())
