"""The one-line header: account, registration + transport, agent state + timer, clock."""

from __future__ import annotations

from dataclasses import dataclass

from textual.markup import escape
from textual.widgets import Static


@dataclass(frozen=True)
class HeaderView:
    account: str
    registration: str  # "Registered", "Registering…", "Failed: 403 Forbidden", "Offline"
    registration_ok: bool | None  # True ok, False failed, None in between
    transport: str
    agent: str
    agent_style: str  # a theme variable name: success, warning, error, accent
    agent_timer: str
    clock: str
    notice: str = ""  # e.g. "no audio device"


class StatusHeader(Static):
    """Shows a :class:`HeaderView`; rendered once per change and once per tick."""

    DEFAULT_CSS = """
    StatusHeader {
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._view: HeaderView | None = None

    def show(self, view: HeaderView) -> None:
        if view == self._view:
            return
        self._view = view
        self.update(self._markup(view))

    @staticmethod
    def _markup(v: HeaderView) -> str:
        if v.registration_ok is True:
            reg = f"[$success]● {escape(v.registration)}[/]"
        elif v.registration_ok is False:
            reg = f"[$error]✕ {escape(v.registration)}[/]"
        else:
            reg = f"[$warning]○ {escape(v.registration)}[/]"
        parts = [f"[b]{escape(v.account)}[/b]", f"{reg} {escape(v.transport.upper())}",
                 f"[${v.agent_style}]◆ {escape(v.agent)} {v.agent_timer}[/]"]
        if v.notice:
            parts.append(f"[$warning]⚠ {escape(v.notice)}[/]")
        parts.append(v.clock)
        return " │ ".join(parts)
