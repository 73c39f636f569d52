"""The children of ``bench_console.py``: the apps it measures on a pty.

``console`` (the real console on the test suite's fake phone), ``bare`` (plain Textual
with the same widget count) and ``echo`` (Textual's floor). Each reports its 1 Hz ticks
and scroll changes to the parent through the pipe named in ``BENCH_REPORT_FD``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REPORT_FD = "BENCH_REPORT_FD"
CONSOLE_YAML = """\
account: {aor: "sip:1004@127.0.0.1", password: "x", transport: ws,
          ws_url: "ws://127.0.0.1:9/ws"}
audio: {backend: "null"}
ui: {notify: {bell: false}}
"""


def _report(line: str) -> None:
    fd = os.environ.get(REPORT_FD)
    if fd:
        os.write(int(fd), f"{line} {time.monotonic():.6f}\n".encode())


def _instrument(app: Any, scrollers: Any) -> None:
    """Report ticks and scroll changes (after each frame) to the parent."""
    last: list[tuple[float, ...]] = [()]
    display = app._display

    def wrapped(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        try:
            now = tuple(float(w.scroll_y) for w in scrollers())
        except Exception:  # noqa: BLE001 - not mounted yet
            return
        if now != last[0]:
            last[0] = now
            _report("S " + ",".join(f"{v:g}" for v in now))

    app._display = wrapped


def child_console(ringing: int, talking: int) -> None:
    sys.path.insert(0, str(ROOT))
    from agentconsole.config import parse_config
    from agentconsole.softphone.status import TimerType, advance_timer
    from agentconsole.ui.app import AgentConsoleApp
    from agentconsole.ui.widgets import CallList, IncomingQueue
    from tests.ui.fakes import FakePhone, FakeSession

    class TickingSession(FakeSession):
        """Timers advance with the clock, as a real Session's do."""

        @property
        def timer(self) -> TimerType:
            return advance_timer(self._timer, self.status, time.monotonic() - self._since)

        @timer.setter
        def timer(self, value: TimerType) -> None:
            self._timer, self._since = value, time.monotonic()

    config = parse_config(CONSOLE_YAML)
    phone = FakePhone(config, session_class=TickingSession)

    class BenchConsole(AgentConsoleApp):
        # CSS_PATH resolves against the defining module's directory: point it back.
        CSS_PATH = str(Path(sys.modules[AgentConsoleApp.__module__].__file__ or "").parent
                       / "app.tcss")

        def on_mount(self) -> None:
            self.set_timer(0.3, self.populate)

        async def populate(self) -> None:
            for i in range(talking):
                await phone.ring(f"2{i:03d}", f"Talker {i}", "Acme").answer()
            for i in range(ringing):
                phone.ring(f"3{i:03d}", f"Caller {i}", "Initech", "sales")
            talking_ids = [s.call_id for s in phone.sessions.values() if not s.status.is_ring]
            self.main.selected = talking_ids[0] if talking_ids else None
            self.main.sync()
            self.set_timer(6.0, lambda: _report("R"))  # after the incoming toasts expire

        def _tick(self) -> None:
            _report("T")
            super()._tick()

    app = BenchConsole(config, phone)
    _instrument(app, lambda: (app.main.query_one(IncomingQueue).scroller,
                              app.main.query_one(CallList)))
    app.run()


def child_bare(rows: int, panels: int, timers: str) -> None:
    from textual.app import App, ComposeResult
    from textual.containers import Vertical, VerticalScroll
    from textual.widgets import DataTable, Footer, Header, Label

    class Panel(Vertical):
        DEFAULT_CSS = ("Panel { height: 4; border: heavy $accent; }"
                       " Panel.sel { border: heavy $success; }")

        def __init__(self, n: int) -> None:
            super().__init__()
            self.n, self.seconds, self.muted = n, 0, False

        def compose(self) -> ComposeResult:
            yield Label(f"Talker {self.n}  2{self.n:03d}")
            yield Label("Talk 00:00", classes="timer")

        def on_mount(self) -> None:
            if timers == "panel":
                self.set_interval(1.0, self.tick)

        def tick(self) -> None:
            self.seconds += 1
            self.draw()

        def draw(self) -> None:
            badge = "  MUTED" if self.muted else ""
            self.query_one(".timer", Label).update(
                f"Talk {self.seconds // 60:02d}:{self.seconds % 60:02d}{badge}")

    class Bare(App[None]):
        CSS = "DataTable { height: auto; max-height: 7; } VerticalScroll { height: 1fr; }"
        BINDINGS = [("down", "step(1)", "Next"), ("up", "step(-1)", "Prev"), ("m", "mute", "Mute")]
        AUTO_FOCUS = None

        def compose(self) -> ComposeResult:
            yield Header()
            yield Label("Incoming")
            table: DataTable[str] = DataTable(cursor_type="row")
            table.can_focus = False
            table.add_columns("#", "Caller", "Number", "Company", "Queue", "Ring")
            for i in range(rows):
                table.add_row(str(i + 1), f"Caller {i}", f"3{i:03d}", "Initech", "sales", "00:00")
            yield table
            with VerticalScroll():
                yield from (Panel(i) for i in range(panels))
            yield Footer()

        def on_mount(self) -> None:
            self.sel = 0
            self.panels = list(self.query(Panel))
            if timers == "app":
                self.set_interval(1.0, self.tick)
            else:  # per-panel timers tick at their own phases; this only marks seconds
                self.set_interval(1.0, lambda: _report("T"))
            self.set_timer(1.0, lambda: _report("R"))
            self._show()

        def tick(self) -> None:
            _report("T")
            for panel in self.panels:
                panel.tick()

        def _show(self) -> None:
            for i, panel in enumerate(self.panels):
                panel.set_class(i == self.sel, "sel")
            if self.sel < len(self.panels):
                self.query_one(VerticalScroll).scroll_to_widget(self.panels[self.sel],
                                                                animate=False)
            else:
                table = self.query_one(DataTable)
                table.move_cursor(row=self.sel - len(self.panels), animate=False)

        def action_step(self, delta: int) -> None:
            self.sel = (self.sel + delta) % max(1, rows + panels)
            self._show()

        def action_mute(self) -> None:
            if self.panels:
                panel = self.panels[min(self.sel, len(self.panels) - 1)]
                panel.muted = not panel.muted
                panel.draw()

    app = Bare()
    _instrument(app, lambda: (app.query_one(DataTable), app.query_one(VerticalScroll)))
    app.run()


def child_echo() -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Label

    class Echo(App[None]):
        def compose(self) -> ComposeResult:
            yield Label("Incoming: ready", id="out")

        def on_mount(self) -> None:
            self.count = 0
            self.set_interval(1.0, lambda: _report("T"))  # no-op tick, for the same filter
            self.set_timer(1.0, lambda: _report("R"))

        def on_key(self, event: Any) -> None:
            self.count += 1
            self.query_one("#out", Label).update(f"key {event.key} #{self.count}")

    app = Echo()
    _instrument(app, lambda: ())
    app.run()


def run_child(kind: str, rest: list[str]) -> None:
    """``--child KIND ARGS``: run one child app until the parent stops it."""
    if kind == "console":
        child_console(int(rest[0]), int(rest[1]))
    elif kind == "bare":
        child_bare(int(rest[0]), int(rest[1]), rest[2])
    else:
        child_echo()
