"""What the console shows of the integration layer (:mod:`agentconsole.control`).

The console and the control socket are two clients of one phone: calls, agent state and
wrap-ups already reach the console through the phone's events, whoever acted. What only
the integration knows comes through :class:`ConsoleIntegration`:

* a hook that failed or an auto-answer that went wrong: a toast;
* the agent's auto-answer mode (switched by ``agent.auto_answer`` or by the socket's
  ``auto_answer`` method): a badge in the header, ``AUTO 3s``.

It accepts ``None`` (a console built without the integration, as tests and the demo
tests do): then there is no badge and the toggle says auto-answer is unavailable.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

from .messages import PhoneChanged

if TYPE_CHECKING:
    from .app import AgentConsoleApp


class ConsoleIntegration:
    """The app's side of an :class:`~agentconsole.control.integration.Integration`."""

    def __init__(self, app: AgentConsoleApp, integration: Any | None) -> None:
        self.app = app
        self.integration = integration

    def attach(self) -> None:
        """Called from the app's ``on_mount``: inside the app's context, which socket
        commands then run in (their phone events reach the app as the keys' do)."""
        if self.integration is not None:
            self.integration.on("notice", self._on_notice)
            self.integration.on("auto_answer", self._on_auto_answer)
            self.integration.run_methods_in(contextvars.copy_context())

    def detach(self) -> None:
        if self.integration is not None:
            self.integration.remove_listener("notice", self._on_notice)
            self.integration.remove_listener("auto_answer", self._on_auto_answer)

    @property
    def auto_answer(self) -> Any | None:
        return getattr(self.integration, "auto_answer", None)

    def header_badge(self) -> str:
        """``AUTO 3s`` while the agent's auto-answer mode is on, else empty."""
        auto = self.auto_answer
        if auto is None or not auto.enabled:
            return ""
        return f"AUTO {auto.delay_s:g}s"

    def toggle_auto_answer(self) -> None:
        auto = self.auto_answer
        if auto is None:
            self.app.notify("Auto-answer is not available in this console.",
                            severity="warning")
            return
        state = auto.toggle()  # the "auto_answer" event redraws the header
        if state["enabled"]:
            what = "queue calls" if state["queue_calls_only"] else "calls"
            self.app.notify(f"On: {what} are answered after {state['delay_s']:g} s.",
                            title="Auto-answer", timeout=4)
        else:
            self.app.notify("Off.", title="Auto-answer", timeout=3)

    def _on_notice(self, title: str, message: str, severity: str = "warning",
                   *_: Any) -> None:
        self.app.notify(message, title=title, severity=severity,  # type: ignore[arg-type]
                        timeout=8)

    def _on_auto_answer(self, *_: Any) -> None:
        self.app._changed(PhoneChanged())
