"""The incoming queue: one line per ringing call, with a live ring time.

Each call is its own one-row widget, keyed by call id and reused, so the 1 Hz tick
repaints the six Ring cells of the calls whose time moved and nothing else (a table
widget re-renders every visible cell when any one changes). A call that arrives is
mounted, one that is answered or gone is removed, and moving the selection restyles two
lines. The queue cannot take focus: selection is the screen's, shared with the call
panels, so the same keys move through ringing and connected calls alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Static

from ..view import fit, truncate


@dataclass(frozen=True)
class QueueRow:
    call_id: str
    line: int
    name: str
    number: str
    company: str
    queue: str
    ring: str
    selected: bool = False  # drawn as ▶ too, so selection survives NO_COLOR


COLUMNS = (("line", "#", 3), ("name", "Caller", 16), ("number", "Number", 14),
           ("company", "Company", 14), ("queue", "Queue/DID", 11), ("ring", "Ring", 6))
WIDTHS = {key: width for key, _label, width in COLUMNS}
GAP = 2  # blank cells between two columns
#: How a wider terminal's spare cells are shared out, and where a column stops growing.
GROW = {"name": (3, 32), "company": (2, 30), "queue": (2, 24), "number": (1, 20)}


@lru_cache(maxsize=32)
def column_widths(width: int) -> dict[str, int]:
    """Column widths for a line ``width`` cells wide: the minimum widths above, plus the
    spare cells given to name, company, queue and number in the ``GROW`` shares."""
    widths = dict(WIDTHS)
    spare = width - (1 + sum(widths.values()) + GAP * (len(widths) - 1))
    while spare > 0:
        growing = [k for k, (_share, cap) in GROW.items() if widths[k] < cap]
        if not growing:
            break
        total = sum(GROW[k][0] for k in growing)
        given = 0
        for key in growing:
            step = min(GROW[key][1] - widths[key], max(1, spare * GROW[key][0] // total))
            step = min(step, spare - given)
            widths[key] += step
            given += step
        spare -= given
        if given == 0:
            break
    return widths


def ring_x(width: int) -> int:
    """Where the Ring column starts on a line (the tick repaints from here on only)."""
    widths = column_widths(width)
    return 1 + sum(widths[key] + GAP for key, _label, _width in COLUMNS if key != "ring")


def cell_text(row: QueueRow, key: str, width: int | None = None) -> str:
    """What column ``key`` shows for ``row`` (before padding), cut to ``width`` cells."""
    if key == "line":
        return f"▶{row.line}" if row.selected else f" {row.line}"
    return truncate(str(getattr(row, key)), width or WIDTHS[key])


def _line(cells: dict[str, str], width: int) -> Content:
    widths = column_widths(width)
    padded = [fit(cells[key], widths[key]) for key, _label, _width in COLUMNS]
    return Content(" " + (" " * GAP).join(padded))


class QueueHeader(Widget):
    """The column titles, laid out like the lines below them."""

    def render(self) -> Content:
        return _line({key: label for key, label, _width in COLUMNS}, self.size.width)


class QueueLine(Widget):
    """One ringing call, on one terminal line."""

    DEFAULT_CSS = """
    QueueLine { height: 1; }
    QueueLine.-selected {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    """

    def __init__(self, row: QueueRow) -> None:
        super().__init__()  # no DOM id: Call-IDs come from the network
        self.row = row
        self._content: Content | None = None
        self._width = -1
        self.set_class(row.selected, "-selected")

    def render(self) -> Content:
        width = self.size.width
        if self._content is None or width != self._width:
            widths = column_widths(width)
            cells = {key: cell_text(self.row, key, widths[key]) for key in WIDTHS}
            self._content, self._width = _line(cells, width), width
        return self._content

    def show(self, row: QueueRow) -> None:
        old, self.row = self.row, row
        if row == old:
            return
        self._content = None
        if row.selected != old.selected:
            self.set_class(row.selected, "-selected")
        if replace(old, ring=row.ring) == row:  # the tick: repaint the Ring cells only
            self.refresh(Region(ring_x(self.size.width), 0, WIDTHS["ring"], 1))
        else:
            self.refresh()


class QueueRows(VerticalScroll, can_focus=False):
    DEFAULT_CSS = """
    QueueRows { height: auto; max-height: 6; background: $surface; }
    """


class IncomingQueue(Vertical):
    DEFAULT_CSS = """
    IncomingQueue {
        height: auto;
        max-height: 9;
        border: round $warning;
        border-title-color: $warning;
        border-title-style: bold;
    }
    IncomingQueue.-empty {
        border: round $panel;
        border-title-color: $foreground-muted;
        border-title-style: none;
    }
    IncomingQueue .queue--header { height: 1; background: $panel; text-style: bold; }
    IncomingQueue .queue--empty { color: $foreground-muted; padding: 0 1; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._lines: dict[str, QueueLine] = {}  # what the queue shows, in line order
        self._pending: list[QueueRow] = []
        self._selected: str | None = None
        self._empty: bool | None = None

    def compose(self) -> ComposeResult:
        yield QueueHeader(classes="queue--header")
        yield QueueRows()
        yield Static("No calls waiting", classes="queue--empty")

    def on_mount(self) -> None:
        self._apply(self._pending)
        self._pending = []

    # ----- what tests and the benchmark read ------------------------------------------------
    @property
    def scroller(self) -> QueueRows:
        return self.query_one(QueueRows)

    @property
    def row_count(self) -> int:
        return len(self._lines)

    def row_ids(self) -> list[str]:
        return list(self._lines)

    def cell(self, call_id: str, key: str) -> str:
        line = self._lines[call_id]
        return cell_text(line.row, key, column_widths(line.size.width)[key])

    @property
    def cursor_row(self) -> int | None:
        ids = list(self._lines)
        return ids.index(self._selected) if self._selected in ids else None

    # ----- updates (attributes down) --------------------------------------------------------
    def show(self, rows: list[QueueRow], selected: str | None) -> None:
        """Reconcile the lines with ``rows``, repainting only what differs."""
        moved = selected != self._selected
        self._selected = selected
        if not self.is_mounted:
            self._pending = rows
            return
        if self._apply(rows) or moved:
            self._scroll_to_selected()

    def set_ring(self, call_id: str, ring: str) -> None:
        """The tick's update: one call's ring time."""
        line = self._lines.get(call_id)
        if line is not None and line.row.ring != ring:
            line.show(replace(line.row, ring=ring))

    def update_row(self, row: QueueRow) -> None:
        """One call changed: repaint its line."""
        line = self._lines.get(row.call_id)
        if line is not None:
            line.show(row)

    def select_call(self, call_id: str | None) -> None:
        """Move the selection: restyle the old and the new line, scroll to the new one."""
        if call_id == self._selected:
            return
        rows = [replace(line.row, selected=line.row.call_id == call_id)
                for line in self._lines.values()]
        self.show(rows, call_id)

    def _apply(self, rows: list[QueueRow]) -> bool:
        """Reconcile; True if lines came, went or moved (the selection must be re-shown)."""
        wanted = [r.call_id for r in rows]
        structure = wanted != list(self._lines)
        keep = set(wanted)
        for call_id in [c for c in self._lines if c not in keep]:
            self._lines.pop(call_id).remove()
        scroller = self.scroller
        if structure and [c for c in wanted if c in self._lines] != list(self._lines):
            for call_id in wanted:  # the order changed (rare): re-stack the kept lines
                if call_id in self._lines:
                    scroller.move_child(self._lines[call_id], after=len(scroller.children) - 1)
        new: list[QueueLine] = []
        lines: dict[str, QueueLine] = {}
        for row in rows:
            line = self._lines.get(row.call_id)
            if line is None:
                line = QueueLine(row)
                new.append(line)
            else:
                line.show(row)
            lines[row.call_id] = line
        self._lines = lines
        if new:
            scroller.mount(*new)
        self._set_empty(not rows)
        title = "Incoming" if not rows else f"Incoming ({len(rows)})"
        if self.border_title != title:
            self.border_title = title
        return structure

    def _set_empty(self, empty: bool) -> None:
        if empty == self._empty:
            return
        self._empty = empty
        self.set_class(empty, "-empty")
        self.query_one(".queue--header").display = not empty
        self.scroller.display = not empty
        self.query_one(".queue--empty").display = empty

    def _scroll_to_selected(self) -> None:
        line = self._lines.get(self._selected) if self._selected is not None else None
        if line is None:
            return
        if line.is_mounted:
            self.scroller.scroll_to_widget(line, animate=False)
        else:
            self.call_after_refresh(self._scroll_to_selected)

