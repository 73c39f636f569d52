"""A shift in a minute: does the console's memory stay flat over many calls?

Run: ``.venv/bin/python bench/bench_shift.py`` (about six minutes; ``--help``).

An agent takes 100-150 calls in an 8-hour shift. Here the real :class:`AgentConsoleApp`
(headless, driven by Textual's Pilot) on the test suite's fake phone works through
``--calls`` of them the way an agent does: a customer rings, ``a`` answers, the 1 Hz tick
runs with call reports feeding the quality line, ``h h`` hangs up, and the wrap-up form
gets a code and notes that go to the SQLite history. Every ``--every`` calls it prints
the process RSS, the Python heap (tracemalloc), the widgets in the DOM and the history
rows. A bare Textual app that mounts, updates and removes one panel per call is measured
the same way in the same run: Textual's own drift, the line to compare against.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
#: Textual and Rich fill bounded render caches (LRU, 1-4k entries) over the first calls;
#: the growth that matters is what is left after them.
WARM_CALLS = 100
sys.path.insert(0, str(ROOT))


def sample(app: Any, started: float) -> tuple[float, float, int, float]:
    gc.collect()
    rss = psutil.Process().memory_info().rss / 2**20
    heap = tracemalloc.get_traced_memory()[0] / 2**20
    widgets = len(list(app.screen.walk_children())) + 1
    return rss, heap, widgets, time.monotonic() - started


async def console_shift(calls: int, every: int) -> list[tuple[int, float, float, int, float, int]]:
    from agentconsole.config import Config
    from agentconsole.ui.app import AgentConsoleApp
    from tests.ui.fakes import FakePhone

    config = Config.from_mapping({
        "account": {"aor": "sip:1001@127.0.0.1", "password": "x", "transport": "ws",
                    "ws_url": "ws://127.0.0.1:9/ws"},
        "audio": {"backend": "null"},
        "ui": {"notify": {"bell": False}},
        "agent": {"wrapup": {"codes": ["Sale", "No sale", "Callback"]}},
    }, env={})
    phone = FakePhone(config)
    app = AgentConsoleApp(config, phone=phone)
    rows: list[tuple[int, float, float, int, float, int]] = []
    async with app.run_test(size=(120, 40)) as pilot:
        started = time.monotonic()
        for n in range(calls + 1):
            if n % every == 0:
                rss, heap, widgets, elapsed = sample(app, started)
                history = len(app.history.recent(1_000_000)) if app.history else 0
                rows.append((n, rss, heap, widgets, elapsed, history))
            if n == calls:
                break
            session = phone.ring(f"+1555{n:07d}", f"Customer {n}", "Acme", "sales")
            await pilot.pause()
            await pilot.press("a")
            for second in range(3):
                session.report(4.3 - second * 0.1, loss=0.01, jitter=5)
                app._tick()
            await pilot.press("h", "h")
            await pilot.pause()
            await pilot.press("down", "enter", *"ok", "enter")
            await pilot.pause()
    return rows


async def bare_shift(calls: int, every: int) -> list[tuple[int, float, float, int, float, int]]:
    from textual.app import App, ComposeResult
    from textual.containers import Vertical, VerticalScroll
    from textual.widgets import Footer, Header, Label

    class Panel(Vertical):
        DEFAULT_CSS = "Panel { height: 4; border: heavy $accent; }"

        def compose(self) -> ComposeResult:
            yield Label("Customer")
            yield Label("Talk 00:00", classes="timer")

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Header()
            yield VerticalScroll()
            yield Footer()

    app = Bare()
    rows: list[tuple[int, float, float, int, float, int]] = []
    async with app.run_test(size=(120, 40)) as pilot:
        started = time.monotonic()
        scroll = app.query_one(VerticalScroll)
        for n in range(calls + 1):
            if n % every == 0:
                rss, heap, widgets, elapsed = sample(app, started)
                rows.append((n, rss, heap, widgets, elapsed, 0))
            if n == calls:
                break
            panel = Panel()
            await scroll.mount(panel)
            for second in range(3):
                panel.query_one(".timer", Label).update(f"Talk 00:0{second}")
                await pilot.pause()
            await panel.remove()
            await pilot.pause()
    return rows


def show(label: str, rows: list[tuple[int, float, float, int, float, int]]) -> None:
    print(f"\n{label}")
    print(f"{'calls':>6} {'RSS MB':>8} {'heap MB':>8} {'widgets':>8} {'history':>8} "
          f"{'s':>6}")
    for n, rss, heap, widgets, elapsed, history in rows:
        print(f"{n:>6} {rss:8.1f} {heap:8.2f} {widgets:>8} {history:>8} {elapsed:6.1f}")
    warm = [r for r in rows if r[0] >= WARM_CALLS] or rows
    first, last = warm[0], rows[-1]
    calls = max(1, last[0] - first[0])
    rss_kb = 1024 * (last[1] - first[1]) / calls
    print(f"from call {first[0]} on (caches warm): RSS {rss_kb:+.1f} KB "
          f"and heap {1024 * (last[2] - first[2]) / calls:+.1f} KB per call; "
          f"{1000 * (last[4] - first[4]) / calls:.0f} ms per call")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--every", type=int, default=50)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="bench-shift-")
    for var in ("DATA", "STATE", "CONFIG"):
        os.environ[f"XDG_{var}_HOME"] = f"{home}/{var.lower()}"
    tracemalloc.start()
    console = asyncio.run(console_shift(args.calls, args.every))
    bare = asyncio.run(bare_shift(args.calls, args.every))
    show("console (fake phone, answer / 3 ticks with reports / hang up / wrap-up per call)",
         console)
    show("bare Textual (mount, update three times, remove one panel per call)", bare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
