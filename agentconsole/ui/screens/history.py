"""The history screen: every call from the SQLite history, searchable, with call-back.

Opening it marks missed calls as seen (the header badge clears). The table is filled
from :meth:`CallHistory.search` on every change of the search box (the query is indexed
by start time and capped, so a year of calls stays instant). Enter shows one call in
full; the redial/dial keys of the main key map call the selected number back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Input, Static

from ...history import HistoryEntry
from ..actions import describe_keys
from ..view import fmt_duration, truncate
from ..widgets.key_footer import KeyFooter
from .dialogs import DIALOG_CSS

if TYPE_CHECKING:
    from ..app import AgentConsoleApp

LIMIT = 200
#: (key, label, width at 80 columns, width from 120 columns)
COLUMNS = (("when", "When", 11, 11), ("dir", "Dir", 3, 3), ("name", "Name", 13, 22),
           ("number", "Number", 12, 16), ("result", "Result", 11, 11),
           ("talk", "Talk", 5, 7), ("wrapup", "Wrap-up", 9, 24))


def column_widths(terminal_width: int) -> dict[str, int]:
    """Every column fits without a horizontal scrollbar from 80 columns up."""
    wide = terminal_width >= 120
    return {key: (big if wide else small) for key, _label, small, big in COLUMNS}


def fmt_when(ts: float | None, today: datetime) -> str:
    """``09:26:53`` today, ``03-13 17:02`` on another day."""
    if ts is None:
        return ""
    when = datetime.fromtimestamp(ts)
    return when.strftime("%H:%M:%S") if when.date() == today.date() else \
        when.strftime("%m-%d %H:%M")


def result_text(entry: HistoryEntry) -> str:
    return entry.disposition or "ongoing"


def detail_lines(entry: HistoryEntry) -> list[tuple[str, str]]:
    """(label, value) rows of the detail view, empty values left out."""
    def stamp(ts: float | None) -> str:
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""

    rows = [("Name", entry.name), ("Number", entry.number), ("Company", entry.company),
            ("Queue", "/".join(x for x in (entry.queue, entry.did) if x)),
            ("Direction", entry.direction), ("Result", result_text(entry)),
            ("Cause", f"{entry.end_cause} ({entry.end_code})" if entry.end_code
             else entry.end_cause),
            ("Started", stamp(entry.started_at)), ("Answered", stamp(entry.answered_at)),
            ("Ended", stamp(entry.ended_at)),
            ("Talk time", fmt_duration(entry.duration) if entry.answered_at else ""),
            ("Wrap-up", entry.wrapup_code), ("Notes", entry.wrapup_notes),
            ("Recording", entry.recording_path), ("Call id", entry.call_id)]
    return [(label, value) for label, value in rows if value]


class HistoryDetail(ModalScreen[bool]):
    """One call in full; dismisses True when the agent asks to call back."""

    DEFAULT_CSS = DIALOG_CSS.format(name="HistoryDetail") + """
    HistoryDetail .detail--label { color: $foreground-muted; width: 11; }
    HistoryDetail .detail--row { height: auto; }
    HistoryDetail .detail--value { width: 1fr; }
    """
    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, entry: HistoryEntry, callback_keys: tuple[str, ...]) -> None:
        super().__init__(id="history-detail")
        self.entry = entry
        self.callback_keys = callback_keys
        self._bindings.bind(",".join(callback_keys), "call_back", "Call back")

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Call · {self.entry.name or self.entry.number}"
            for label, value in detail_lines(self.entry):
                with Horizontal(classes="detail--row"):
                    yield Static(label, classes="detail--label")
                    yield Static(escape(value), classes="detail--value")
            with Horizontal():
                yield Button("Close [esc]", id="close")
                yield Button(f"Call back [{describe_keys(self.callback_keys[:1])}]",
                             id="call-back", variant="primary")

    def action_close(self) -> None:
        self.dismiss(False)

    def action_call_back(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "call-back")


class HistoryScreen(Screen[None]):
    AUTO_FOCUS = "#history-table"
    DEFAULT_CSS = """
    HistoryScreen { layout: vertical; }
    HistoryScreen #history-title { height: 1; background: $panel; padding: 0 1; }
    HistoryScreen #history-search { margin: 0 1; }
    HistoryScreen DataTable { height: 1fr; background: $surface; }
    HistoryScreen .history--empty { color: $foreground-muted; padding: 1 2; }
    """

    def __init__(self, keymap: dict[str, tuple[str, ...]]) -> None:
        super().__init__(id="history")
        self.callback_keys = keymap["redial"] + keymap["dial"]
        bindings = [Binding(",".join(("escape",) + keymap["history"]), "back", "Back"),
                    Binding("slash,ctrl+f", "search", "Search"),
                    Binding(",".join(self.callback_keys), "call_back", "Call back")]
        merged = BindingsMap(bindings)
        for key, found in self._bindings.key_to_bindings.items():
            merged.key_to_bindings.setdefault(key, []).extend(found)
        self._bindings = merged
        self.entries: list[HistoryEntry] = []
        self.widths = column_widths(80)

    @property
    def console(self) -> AgentConsoleApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static("", id="history-title")
        yield Input(placeholder="search number, name, company, result, wrap-up (/)",
                    id="history-search")
        table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True,
                                          id="history-table")
        self.widths = column_widths(self.app.size.width)
        for key, label, _small, _big in COLUMNS:
            table.add_column(label, key=key, width=self.widths[key])
        yield table
        yield Static("", classes="history--empty")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.console.mark_missed_seen()
        self.reload()

    def reload(self) -> None:
        """Re-run the search (a call ended, or the agent typed)."""
        history = self.console.history
        text = self.query_one("#history-search", Input).value
        self.entries = history.search(text, LIMIT) if history is not None else []
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        today = self.console.clock.now()
        for entry in self.entries:
            table.add_row(*(_cell(entry, key, width, today)
                            for key, width in self.widths.items()), key=str(entry.id))
        if self.entries:
            table.move_cursor(row=min(keep, len(self.entries) - 1), animate=False)
        empty = self.query_one(".history--empty", Static)
        empty.display = not self.entries
        if history is None:
            empty.update("The call history is off: " + (self.console.history_problem or ""))
        else:
            empty.update("No calls match." if text.strip() else "No calls yet.")
        self._title(text)

    def _title(self, text: str) -> None:
        count = len(self.entries)
        shown = f"{count}{'+' if count >= LIMIT else ''} call{'s' if count != 1 else ''}"
        found = f" matching {text.strip()!r}" if text.strip() else ""
        self.query_one("#history-title", Static).update(
            f"[b]History[/b] · {escape(shown + found)}")

    @on(Input.Changed, "#history-search")
    def _search_changed(self) -> None:
        self.reload()

    @on(Input.Submitted, "#history-search")
    def _search_done(self) -> None:
        self.query_one(DataTable).focus()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        entry = self.selected_entry()
        if entry is None:
            return

        def closed(call_back: bool | None) -> None:
            if call_back:
                self.run_worker(self._dial(entry.number), exit_on_error=False)

        self.app.push_screen(HistoryDetail(entry, self.callback_keys), closed)

    def selected_entry(self) -> HistoryEntry | None:
        table = self.query_one(DataTable)
        if not self.entries or table.cursor_row < 0:
            return None
        return self.entries[min(table.cursor_row, len(self.entries) - 1)]

    def action_back(self) -> None:
        self.dismiss(None)

    def action_search(self) -> None:
        self.query_one("#history-search", Input).focus()

    async def action_call_back(self) -> None:
        if isinstance(self.focused, Input):
            return
        entry = self.selected_entry()
        if entry is None:
            self.notify("Select a call first.", severity="warning")
            return
        await self._dial(entry.number)

    async def _dial(self, number: str) -> None:
        if self.is_current:
            self.dismiss(None)
        await self.console.dial(number)


def _cell(entry: HistoryEntry, key: str, width: int, today: datetime) -> str:
    value: Any
    if key == "when":
        value = fmt_when(entry.started_at, today)
    elif key == "dir":
        value = "in" if entry.direction == "inbound" else "out"
    elif key == "result":
        value = result_text(entry)
    elif key == "talk":
        value = fmt_duration(entry.duration) if entry.answered_at else ""
    elif key == "wrapup":
        value = entry.wrapup_code
    else:
        value = getattr(entry, key)
    return truncate(str(value), width)
