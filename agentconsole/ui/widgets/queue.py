"""The incoming queue: one row per ringing call, with a live ring time.

Rows are keyed by call id and reused: the 1 Hz tick rewrites only the Ring cells that
changed (``update_cell``), a call that arrives is appended and one that is answered or
gone is removed, and moving the selection rewrites the two ``▶`` cells. The table is
cleared and refilled only when the order of the remaining calls changed. The table
cannot take focus (selection is the screen's, shared with the call panels, so the same
keys move through ringing and connected calls alike).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ..view import truncate


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


class QueueTable(DataTable[str], can_focus=False):
    pass


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
    IncomingQueue QueueTable { height: auto; max-height: 7; background: $surface; }
    IncomingQueue .queue--empty { color: $foreground-muted; padding: 0 1; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._rows: dict[str, QueueRow] = {}  # what the table shows, in table order
        self._selected: str | None = None
        self._empty: bool | None = None

    def compose(self) -> ComposeResult:
        table: QueueTable = QueueTable(cursor_type="row", zebra_stripes=False,
                                       show_cursor=True)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        yield Static("No calls waiting", classes="queue--empty")

    def on_mount(self) -> None:
        rows = list(self._rows.values())
        self._rows = {}
        self._apply(rows)
        self._move_cursor()

    @property
    def table(self) -> QueueTable:
        return self.query_one(QueueTable)

    def show(self, rows: list[QueueRow], selected: str | None) -> None:
        """Reconcile the table with ``rows``, rewriting only the cells that differ."""
        moved = selected != self._selected
        self._selected = selected
        if not self.is_mounted:
            self._rows = {r.call_id: r for r in rows}
            return
        if self._apply(rows) or moved:
            self._move_cursor()

    def set_ring(self, call_id: str, ring: str) -> None:
        """The tick's update: one Ring cell."""
        row = self._rows.get(call_id)
        if row is not None and row.ring != ring and self.is_mounted:
            self._rows[call_id] = replace(row, ring=ring)
            self.table.update_cell(call_id, "ring", _cell(self._rows[call_id], "ring"))

    def update_row(self, row: QueueRow) -> None:
        """One call changed: rewrite the cells of its row that differ."""
        if row.call_id in self._rows:
            self.show([row if r.call_id == row.call_id else r for r in self._rows.values()],
                      self._selected)

    def select_call(self, call_id: str | None) -> None:
        """Move the selection: rewrite the old and new ``▶`` cells, move the cursor."""
        if call_id == self._selected:
            return
        rows = [replace(r, selected=r.call_id == call_id) for r in self._rows.values()]
        self.show(rows, call_id)

    def _apply(self, rows: list[QueueRow]) -> bool:
        """Reconcile; True if rows came, went or moved (the cursor row must follow)."""
        table = self.table
        wanted = [r.call_id for r in rows]
        structure = wanted != list(self._rows)
        keep = set(wanted)
        for call_id in [c for c in self._rows if c not in keep]:
            table.remove_row(call_id)
            del self._rows[call_id]
        kept = list(self._rows)
        if wanted[: len(kept)] != kept:  # the order changed: refill
            table.clear()
            self._rows = {}
        for row in rows:
            before = self._rows.get(row.call_id)
            if before is None:
                table.add_row(*(_cell(row, key) for key in WIDTHS), key=row.call_id)
            elif before != row:
                for key in WIDTHS:
                    changed = getattr(before, key) != getattr(row, key)
                    if changed or (key == "line" and before.selected != row.selected):
                        table.update_cell(row.call_id, key, _cell(row, key))
            self._rows[row.call_id] = row
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
        self.table.display = not empty
        self.query_one(".queue--empty").display = empty

    def _move_cursor(self) -> None:
        table = self.table
        ids = list(self._rows)
        table.show_cursor = self._selected in ids
        if self._selected in ids:
            table.move_cursor(row=ids.index(self._selected), animate=False)


def _cell(row: QueueRow, key: str) -> str:
    if key == "line":
        return f"▶{row.line}" if row.selected else f" {row.line}"
    return truncate(str(getattr(row, key)), WIDTHS[key])
