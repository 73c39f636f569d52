"""The SIP trace: every message the phone sent or received, live, filterable.

The app collects entries from ``Phone.add_trace_hook`` into a :class:`TraceBuffer` from
the start (so the trace of a failed call is there when the agent opens the screen
afterwards), capped at :data:`MAX_ENTRIES` so a long shift costs bounded memory. The
hook redacts credentials (Authorization / Proxy-Authorization values) before the
console ever sees a message; the screen adds nothing back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from ...softphone.api import TraceEntry
from ..view import truncate
from ..widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from ..app import AgentConsoleApp

MAX_ENTRIES = 2000
COLUMNS = (("time", "Time", 12), ("dir", "Dir", 5), ("transport", "Via", 4),
           ("remote", "Remote", 21), ("summary", "Message", 0))


def column_widths(terminal_width: int) -> dict[str, int]:
    """Fixed columns, the message takes the rest (cell padding 2, scrollbar 2)."""
    widths = {key: width for key, _label, width in COLUMNS}
    if terminal_width < 110:
        widths["remote"] = 15
    fixed = sum(widths.values()) + 2 * len(widths) + 2
    widths["summary"] = max(20, terminal_width - fixed)
    return widths


class TraceBuffer:
    """The last ``maxlen`` trace entries, numbered; one listener is told of new ones."""

    def __init__(self, maxlen: int = MAX_ENTRIES) -> None:
        self.entries: deque[tuple[int, TraceEntry]] = deque(maxlen=maxlen)
        self.seq = 0
        self.listener: Callable[[], None] | None = None

    def add(self, entry: TraceEntry) -> None:
        self.seq += 1
        self.entries.append((self.seq, entry))
        if self.listener is not None:
            self.listener()

    @property
    def first_seq(self) -> int:
        return self.entries[0][0] if self.entries else self.seq + 1


def entry_text(entry: TraceEntry) -> str:
    return entry.data.decode("utf-8", "replace")


def summary(entry: TraceEntry) -> str:
    """The start line, plus the CSeq method for responses (``200 OK · INVITE``)."""
    text = entry_text(entry)
    first = text.split("\r\n", 1)[0].split("\n", 1)[0].strip()
    if first.startswith("SIP/2.0 "):
        first = first[8:]
        for line in text.splitlines():
            if line.lower().startswith(("cseq:", "cseq :")):
                first += " · " + line.split(":", 1)[1].strip().split(" ")[-1]
                break
    return first or "(keep-alive)"


def remote_text(entry: TraceEntry) -> str:
    remote = entry.remote
    if not remote:
        return ""
    host, port = remote[0], remote[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def matches(entry: TraceEntry, needle: str) -> bool:
    if not needle:
        return True
    hay = " ".join((entry.direction, entry.transport, remote_text(entry), entry_text(entry)))
    return needle.casefold() in hay.casefold()


class TraceScreen(Screen[None]):
    AUTO_FOCUS = "#trace-table"
    DEFAULT_CSS = """
    TraceScreen { layout: vertical; }
    TraceScreen #trace-title { height: 1; background: $panel; padding: 0 1; }
    TraceScreen #trace-filter { margin: 0 1; }
    TraceScreen DataTable { height: 1fr; background: $surface; }
    TraceScreen #trace-detail { height: 40%; border: round $panel-lighten-2;
        border-title-color: $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "back", "Back"),
                Binding("slash,ctrl+f", "filter", "Filter"),
                Binding("p", "pause", "Pause/follow")]

    class Arrived(Message, bubble=False):
        """New entries are in the buffer (coalesced: one per batch)."""

    def __init__(self, buffer: TraceBuffer, back_keys: tuple[str, ...] = ("f5",)) -> None:
        super().__init__(id="trace")
        self._bindings.bind(",".join(back_keys), "back", "Back", show=False)
        self.buffer = buffer
        self.shown: list[tuple[int, TraceEntry]] = []
        self.paused = False
        self._pending = False
        self.widths = column_widths(80)

    @property
    def console(self) -> AgentConsoleApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static("", id="trace-title")
        yield Input(placeholder="filter: method, number, Call-ID, address… (/)",
                    id="trace-filter")
        table: DataTable[str] = DataTable(cursor_type="row", id="trace-table")
        self.widths = column_widths(self.app.size.width)
        for key, label, _width in COLUMNS:
            table.add_column(label, key=key, width=self.widths[key])
        yield table
        with VerticalScroll(id="trace-detail") as detail:
            detail.border_title = "Message"
            yield Static("", id="trace-text")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.buffer.listener = self._on_new
        self.rebuild()

    def on_unmount(self) -> None:
        if self.buffer.listener == self._on_new:
            self.buffer.listener = None

    def _on_new(self) -> None:
        if not self._pending:
            self._pending = True
            self.post_message(self.Arrived())

    @property
    def needle(self) -> str:
        return self.query_one("#trace-filter", Input).value.strip()

    def rebuild(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.shown = []
        self._append([item for item in self.buffer.entries if matches(item[1], self.needle)])
        self._show_detail()

    def _append(self, items: list[tuple[int, TraceEntry]]) -> None:
        table = self.query_one(DataTable)
        follow = not self.paused and (not self.shown or table.cursor_row >= len(self.shown) - 1)
        for seq, entry in items:
            table.add_row(*_cells(entry, self.widths), key=str(seq))
            self.shown.append((seq, entry))
        if follow and self.shown:
            table.move_cursor(row=len(self.shown) - 1, animate=False)
        self._title()

    def _drop_evicted(self) -> None:
        first = self.buffer.first_seq
        table = self.query_one(DataTable)
        gone = 0
        while gone < len(self.shown) and self.shown[gone][0] < first:
            table.remove_row(str(self.shown[gone][0]))
            gone += 1
        del self.shown[:gone]

    @on(Arrived)
    def _arrived(self) -> None:
        self._pending = False
        last = self.shown[-1][0] if self.shown else 0
        needle = self.needle
        new = [item for item in self.buffer.entries if item[0] > last
               and matches(item[1], needle)]
        self._drop_evicted()
        self._append(new)

    def _title(self) -> None:
        total = len(self.buffer.entries)
        state = " · paused" if self.paused else ""
        shown = f"{len(self.shown)} of {total}" if self.needle else str(total)
        self.query_one("#trace-title", Static).update(
            f"[b]SIP trace[/b] · {shown} message{'s' if total != 1 else ''} "
            f"(last {self.buffer.entries.maxlen}){state} · credentials are redacted")

    @on(Input.Changed, "#trace-filter")
    def _filter_changed(self) -> None:
        self.rebuild()

    @on(Input.Submitted, "#trace-filter")
    def _filter_done(self) -> None:
        self.query_one(DataTable).focus()

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_detail()

    def selected(self) -> TraceEntry | None:
        table = self.query_one(DataTable)
        if not self.shown or table.cursor_row < 0:
            return None
        return self.shown[min(table.cursor_row, len(self.shown) - 1)][1]

    def _show_detail(self) -> None:
        entry = self.selected()
        text = self.query_one("#trace-text", Static)
        if entry is None:
            text.update("[$foreground-muted]No SIP messages yet.[/]" if not self.needle
                        else "[$foreground-muted]No message matches the filter.[/]")
            return
        arrow = "received from" if entry.direction == "in" else "sent to"
        head = f"{_time(entry.timestamp)} {arrow} {remote_text(entry)} over {entry.transport}"
        body = entry_text(entry).replace("\r\n", "\n").rstrip("\n")
        text.update(f"[$foreground-muted]{escape(head)}[/]\n{escape(body)}")

    def action_back(self) -> None:
        self.dismiss(None)

    def action_filter(self) -> None:
        self.query_one("#trace-filter", Input).focus()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._title()


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3]


def _cells(entry: TraceEntry, widths: dict[str, int]) -> tuple[str, ...]:
    direction = "→ out" if entry.direction == "out" else "← in"
    return (_time(entry.timestamp), direction, str(entry.transport).upper()[:4],
            truncate(remote_text(entry), widths["remote"]),
            truncate(summary(entry), widths["summary"]))
