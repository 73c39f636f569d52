"""One panel per connected (or outgoing) call, and the list that reconciles them."""

from __future__ import annotations

from dataclasses import dataclass

from textual.containers import VerticalScroll
from textual.markup import escape
from textual.widgets import Static

from ..view import STATE_STYLE


@dataclass(frozen=True)
class CallView:
    call_id: str
    line: int
    name: str
    number: str
    company: str
    state: str  # RINGING CALLING TALKING HELD CONSULT ENDED
    badges: tuple[str, ...]
    timers: str
    quality: str
    spark: str
    consult: str = ""  # "Consulting for Bob (1002)" / "Consult: Carol (1003)"
    selected: bool = False


class CallPanel(Static):
    DEFAULT_CSS = """
    CallPanel {
        height: auto;
        border: round $panel-lighten-2;
        border-title-style: bold;
        padding: 0 1;
        background: $surface;
    }
    CallPanel.-selected { border: heavy $accent; }
    CallPanel.-success { border-title-color: $success; }
    CallPanel.-warning { border-title-color: $warning; }
    CallPanel.-primary { border-title-color: $primary; }
    CallPanel.-accent { border-title-color: $accent; }
    CallPanel.-error { border-title-color: $error; }
    """

    def __init__(self, view: CallView) -> None:
        super().__init__("", id=_dom_id(view.call_id))
        self.call_id = view.call_id
        self._view: CallView | None = None
        self.show(view)

    def show(self, view: CallView) -> None:
        if view == self._view:
            return
        old = self._view
        self._view = view
        style = STATE_STYLE.get(view.state, "primary")
        if old is None or STATE_STYLE.get(old.state) != style:
            for cls in set(STATE_STYLE.values()):
                self.set_class(cls == style, f"-{cls}")
        self.set_class(view.selected, "-selected")
        marker = "▶ " if view.selected else ""
        self.border_title = f"{marker}{view.line} {view.state}"
        self.update(_body(view))


def _body(v: CallView) -> str:
    ident = f"[b]{escape(v.name)}[/b]"
    if v.number and v.number != v.name:
        ident += f"  {escape(v.number)}"
    if v.company:
        ident += f"  [$foreground-muted]{escape(v.company)}[/]"
    badges = " ".join(f"[reverse $warning] {b} [/]" for b in v.badges)
    line1 = f"{ident}  {badges}" if badges else ident
    line2 = f"{escape(v.quality)}  {v.spark}".strip() or "[$foreground-muted]no media yet[/]"
    lines = [line1, f"{v.timers}   {line2}"]
    if v.consult:
        lines.append(f"[$accent]⇄ {escape(v.consult)}[/]")
    return "\n".join(lines)


def _dom_id(call_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in call_id)
    return f"call-{safe}"


class CallList(VerticalScroll, can_focus=False):
    """Holds the panels, in line order; mounts and removes only what changed."""

    DEFAULT_CSS = """
    CallList { height: 1fr; }
    CallList .calls--empty { color: $foreground-muted; padding: 1 2; }
    """

    def __init__(self, hint: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.hint = hint

    def on_mount(self) -> None:
        text = "No active calls." + (f"  {self.hint}" if self.hint else "")
        self.mount(Static(escape(text), classes="calls--empty"))

    def show(self, views: list[CallView]) -> None:
        panels = {p.call_id: p for p in self.query(CallPanel)}
        wanted = {v.call_id for v in views}
        for call_id, panel in panels.items():
            if call_id not in wanted:
                panel.remove()
        new: list[CallPanel] = []
        for view in views:
            existing = panels.get(view.call_id)
            if existing is None:
                new.append(CallPanel(view))
            else:
                existing.show(view)
        if new:
            self.mount(*new)
        placeholder = self.query(".calls--empty")
        for widget in placeholder:
            widget.display = not views
        selected = next((v.call_id for v in views if v.selected), None)
        target = panels.get(selected) if selected is not None else None
        if target is not None:
            self.scroll_to_widget(target, animate=False)
