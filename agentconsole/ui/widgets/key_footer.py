"""The footer: the keys that apply now, on one line.

Textual's own footer mounts one widget per key and re-mounts all of them whenever the
set of usable bindings changes. On the main screen that set follows the selected call
(Answer/Reject for a ringing one, Hold/Mute/Transfer for a connected one), so a plain
arrow press between two calls paid for a full re-mount. This footer draws the same keys
as one line of text: a change of bindings costs the render of one line. A click on a
key presses it, as in Textual's footer.

Under a pop-up (the wrap-up form, the quit question) the footer shows the pop-up's keys:
the screen behind it is still drawn, and its keys would not work.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol, runtime_checkable

from textual import events
from textual.content import Content
from textual.markup import escape
from textual.screen import Screen
from textual.widget import Widget


@runtime_checkable
class FooterLabels(Protocol):
    """A screen that names a key after what it does now ("Unmute" on a muted call)."""

    def footer_label(self, action: str) -> str | None: ...


@lru_cache(maxsize=512)
def _item(key: str, description: str, enabled: bool) -> Content:
    dim = "" if enabled else " dim"
    return Content.from_markup(
        f"[bold $footer-key-foreground on $footer-key-background{dim}] {escape(key)} [/]"
        f"[$footer-description-foreground on $footer-description-background{dim}]"
        f"{escape(description)} [/]")


class KeyFooter(Widget, can_focus=False):
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        #: (first cell, end cell, key, action, enabled) of each key drawn, for clicks.
        self._spans: list[tuple[int, int, str, str, bool]] = []
        self._content: Content | None = None
        self._width = -1

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.app.screen_change_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)
        self.app.screen_change_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: object) -> None:
        self._content = None
        self.refresh()

    def render(self) -> Content:
        width = self.size.width
        if self._content is None or width != self._width:
            self._content, self._width = self._build(width), width
        return self._content

    def _build(self, width: int) -> Content:
        """The keys in binding order, one per action; the command palette's at the right."""
        app = self.app
        items: list[tuple[str, str, Content, bool]] = []
        palette: tuple[str, str, Content, bool] | None = None
        seen: set[str] = set()
        shown = self._shown_screen()
        # A screen may name a key after what it does now ("Unmute" on a muted call).
        label_for = shown.footer_label if isinstance(shown, FooterLabels) else None
        for _node, binding, enabled, _tooltip in shown.active_bindings.values():
            if binding.action == "command_palette" and app.ENABLE_COMMAND_PALETTE \
                    and binding.key == app.COMMAND_PALETTE_BINDING:
                palette = (binding.key, binding.action,
                           _item(app.get_key_display(binding),
                                 binding.description or "palette", enabled), enabled)
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            label = (label_for(binding.action) if label_for else None) or binding.description
            items.append((binding.key, binding.action,
                          _item(app.get_key_display(binding), label, enabled), enabled))
        spans: list[tuple[int, int, str, str, bool]] = []
        parts: list[Content] = []
        x = 0
        right = palette[2].cell_length + 1 if palette is not None else 0
        for key, action, content, enabled in items:
            if x + content.cell_length > width - right:
                break
            spans.append((x, x + content.cell_length, key, action, enabled))
            parts.append(content)
            x += content.cell_length
        line = Content("").join(parts)
        if palette is not None and width >= right:
            start = width - palette[2].cell_length
            spans.append((start, width, palette[0], palette[1], palette[3]))
            pad = max(0, start - 1 - line.cell_length)
            line = Content.assemble(line, " " * pad, ("▏", "$foreground 20%"), palette[2])
        self._spans = spans
        return line

    def _shown_screen(self) -> Screen[object]:
        """This footer's screen, or the pop-up on top of it (whose keys are the live ones)."""
        top = self.app.screen
        return top if top is not self.screen and self.screen in self.app.screen_stack \
            else self.screen

    def shown(self) -> list[tuple[str, str, bool]]:
        """(key, action, enabled) of each key on the line, left to right."""
        self.render()
        return [(key, action, enabled) for _s, _e, key, action, enabled in self._spans]

    def key_at(self, x: int) -> tuple[str, bool] | None:
        """The key drawn at cell ``x`` and whether it is enabled."""
        for start, end, key, _action, enabled in self._spans:
            if start <= x < end:
                return key, enabled
        return None

    def on_click(self, event: events.Click) -> None:
        hit = self.key_at(event.x)
        if hit is None:
            return
        key, enabled = hit
        if enabled:
            self.app.simulate_key(key)
        else:
            self.app.bell()
