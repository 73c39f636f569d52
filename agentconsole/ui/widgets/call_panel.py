"""One panel per connected (or outgoing) call, and the list that reconciles them.

Redraw cost is what keeps the console responsive with many calls on screen, so a panel
repaints only what changed: the 1 Hz tick rewrites the timers of its body without a
layout pass (its height cannot change), moving the selection restyles two panels, and
a call event rebuilds one panel. The body is rendered on demand from the current view,
so panels scrolled out of sight cost nothing until they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Region
from textual.markup import escape
from textual.widget import Widget
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


class CallPanel(Widget):
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
        # No DOM id: a Call-ID comes from the network, and two that differ only in
        # characters an id cannot hold would collide (DuplicateIds) and stop the console.
        super().__init__()
        self.call_id = view.call_id
        self._view: CallView | None = None
        self._body: Content | None = None
        self.show(view)

    @property
    def view(self) -> CallView | None:
        return self._view

    def render(self) -> Content:
        if self._body is None:
            self._body = _body(self._view) if self._view is not None else Content("")
        return self._body

    def show(self, view: CallView) -> None:
        """Show ``view``, touching only what differs from the view on screen."""
        old = self._view
        if view == old:
            return
        self._view = view
        style = STATE_STYLE.get(view.state, "primary")
        if old is None or STATE_STYLE.get(old.state, "primary") != style:
            for cls in set(STATE_STYLE.values()):
                self.set_class(cls == style, f"-{cls}")
        if old is None or old.selected != view.selected:
            self.set_class(view.selected, "-selected")
        if old is None or (old.line, old.state, old.selected) != \
                (view.line, view.state, view.selected):
            marker = "▶ " if view.selected else ""
            self.border_title = f"{marker}{view.line} {view.state}"
        if old is not None and replace(old, line=view.line, state=view.state,
                                       selected=view.selected) == view:
            return  # only the border changed: the border setters repaint it
        self._body = None
        self.refresh(layout=old is None or self._height_changes(old, view))

    def set_timers(self, text: str) -> None:
        """The tick's update: new timer text. Repaints the timer row alone (the terminal
        receives one line, not the whole panel) unless a line wraps."""
        view = self._view
        if view is None or view.timers == text:
            return
        self._view = replace(view, timers=text)
        self._body = None
        width = self.content_size.width
        if _rows(view, width) is not None and _rows(self._view, width) is not None:
            # Both fit unwrapped: the timers sit on the body's second row; repaint it only.
            self.refresh(Region(0, 1, width, 1))
        else:
            self.refresh(layout=True)

    def _height_changes(self, old: CallView, new: CallView) -> bool:
        """A layout pass is needed only when the body's row count changes (a line comes
        or goes, or wraps differently); otherwise a repaint of this panel is enough."""
        width = self.content_size.width
        rows = _rows(old, width)
        return rows is None or rows != _rows(new, width)

    def set_selected(self, selected: bool) -> None:
        view = self._view
        if view is not None:
            self.show(replace(view, selected=selected))


def _rows(v: CallView, width: int) -> int | None:
    """Rows the body takes at ``width`` cells, or None if a line wraps (word wrapping
    makes the count depend on the words, so the caller lets the layout decide)."""
    lines = [_line1(v).cell_length, _line2(v).cell_length]
    if v.consult:
        lines.append(2 + len(v.consult))
    return len(lines) if width > 0 and max(lines) <= width else None


@lru_cache(maxsize=1024)
def _markup(text: str) -> Content:
    return Content.from_markup(text)


def _line1(v: CallView) -> Content:
    ident = f"[b]{escape(v.name)}[/b]"
    if v.number and v.number != v.name:
        ident += f"  {escape(v.number)}"
    if v.company:
        ident += f"  [$foreground-muted]{escape(v.company)}[/]"
    badges = " ".join(f"[reverse $warning] {b} [/]" for b in v.badges)
    return _markup(f"{ident}  {badges}" if badges else ident)


def _line2(v: CallView) -> Content:
    media = f"{escape(v.quality)}  {v.spark}".strip() or "[$foreground-muted]no media yet[/]"
    return Content(f"{v.timers}   ") + _markup(media)


def _body(v: CallView) -> Content:
    lines = [_line1(v), _line2(v)]
    if v.consult:
        lines.append(_markup(f"[$accent]⇄ {escape(v.consult)}[/]"))
    return Content("\n").join(lines)


class CallList(VerticalScroll, can_focus=False):
    """Holds the panels, in line order; mounts and removes only what changed."""

    DEFAULT_CSS = """
    CallList { height: 1fr; }
    CallList .calls--empty { color: $foreground-muted; padding: 1 2; }
    """

    def __init__(self, hint: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.hint = hint
        self._panels: dict[str, CallPanel] = {}
        self._selected: str | None = None

    def on_mount(self) -> None:
        text = "No active calls." + (f"  {self.hint}" if self.hint else "")
        self.mount(Static(escape(text), classes="calls--empty"))

    def panel(self, call_id: str) -> CallPanel | None:
        return self._panels.get(call_id)

    def show(self, views: list[CallView]) -> None:
        """Reconcile the panels with ``views`` (calls came, went or changed)."""
        panels = self._panels
        wanted = {v.call_id for v in views}
        for call_id in [c for c in panels if c not in wanted]:
            panels.pop(call_id).remove()
        new: list[CallPanel] = []
        for view in views:
            existing = panels.get(view.call_id)
            if existing is None:
                panel = CallPanel(view)
                panels[view.call_id] = panel
                new.append(panel)
            else:
                existing.show(view)
        if new:
            self.mount(*new)
        for widget in self.query(".calls--empty"):
            if widget.display != (not views):
                widget.display = not views
        selected = next((v.call_id for v in views if v.selected), None)
        if selected != self._selected:
            self.select_call(selected)

    def select_call(self, call_id: str | None) -> None:
        """Move the selection mark; scroll only when the selected panel changed."""
        previous, self._selected = self._selected, call_id
        old = _get(self._panels, previous)
        if old is not None and previous != call_id:
            old.set_selected(False)
        target = _get(self._panels, call_id)
        if target is not None:
            target.set_selected(True)
            if target.is_mounted:
                self.scroll_to_widget(target, animate=False)
            else:
                self.call_after_refresh(self._scroll_to_call, call_id)

    def _scroll_to_call(self, call_id: str) -> None:
        target = self._panels.get(call_id)
        if target is not None and call_id == self._selected and target.is_mounted:
            self.scroll_to_widget(target, animate=False)


def _get(panels: dict[str, CallPanel], call_id: str | None) -> CallPanel | None:
    return panels.get(call_id) if call_id is not None else None
