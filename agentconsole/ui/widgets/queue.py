"""The incoming queue: one row per ringing call, with a live ring time.

Rows are keyed by call id so the 1 Hz tick rewrites only the Ring column; the table
cannot take focus (selection is the screen's, shared with the call panels, so the
same keys move through ringing and connected calls alike).
"""

from __future__ import annotations

from dataclasses import dataclass

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
        self._rows: list[QueueRow] = []
        self._selected: str | None = None

    def compose(self) -> ComposeResult:
        table: QueueTable = QueueTable(cursor_type="row", zebra_stripes=False,
                                       show_cursor=True)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        yield Static("No calls waiting", classes="queue--empty")

    def on_mount(self) -> None:
        self._render_rows()

    @property
    def table(self) -> QueueTable:
        return self.query_one(QueueTable)

    def show(self, rows: list[QueueRow], selected: str | None) -> None:
        """Replace the rows (calls came or went) or just refresh ring times."""
        same_calls = [r.call_id for r in rows] == [r.call_id for r in self._rows]
        old = self._rows
        self._rows = rows
        self._selected = selected
        if not self.is_mounted:
            return
        if same_calls:
            table = self.table
            for before, row in zip(old, rows, strict=True):
                if before != row:
                    for key, _label, width in COLUMNS:
                        changed = getattr(before, key) != getattr(row, key)
                        if changed or (key == "line" and before.selected != row.selected):
                            table.update_cell(row.call_id, key, _cell(row, key, width))
            self._move_cursor()
        else:
            self._render_rows()

    def _render_rows(self) -> None:
        table = self.table
        table.clear()
        for row in self._rows:
            table.add_row(*(_cell(row, key, width) for key, _l, width in COLUMNS),
                          key=row.call_id)
        empty = not self._rows
        self.set_class(empty, "-empty")
        table.display = not empty
        self.query_one(".queue--empty").display = empty
        self.border_title = "Incoming" if empty else f"Incoming ({len(self._rows)})"
        self._move_cursor()

    def _move_cursor(self) -> None:
        table = self.table
        ids = [r.call_id for r in self._rows]
        table.show_cursor = self._selected in ids
        if self._selected in ids:
            table.move_cursor(row=ids.index(self._selected), animate=False)


def _cell(row: QueueRow, key: str, width: int) -> str:
    if key == "line":
        return f"▶{row.line}" if row.selected else f" {row.line}"
    value = str(getattr(row, key))
    return truncate(value, width)
