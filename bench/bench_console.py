"""Console keypress-to-screen latency, idle CPU and start-up on a real pty.

Run: ``.venv/bin/python bench/bench_console.py`` (about 2 minutes; ``--help``).

The parent opens a pty pair, starts a child interpreter on the slave side (Textual's
LinuxDriver, real ANSI output) and plays the terminal: it drains every byte, writes a
key and timestamps (CLOCK_MONOTONIC, shared by both processes) the first byte that comes
back and the moment output settles. The child reports, through a pipe, each 1 Hz tick
(presses that overlap a tick are dropped: their first byte may be the tick's) and every
change of the table/panel scroll offsets (to split presses that scroll from those that
do not). Children:

- ``console``: the real :class:`AgentConsoleApp` on the test suite's fake phone
  (``tests/ui/fakes.py``) holding N calls: N//2 ringing in the queue table, the rest
  talking in panels with running timers. A real phone with 50 calls on the rig is not
  practical, and the UI cannot tell the fake from the real Phone.
- ``bare``: plain Textual with the same widget count (header, a 7-row DataTable, K
  bordered two-label panels in a VerticalScroll, footer) and the same keys; timers either
  from one app-wide tick or one ``set_interval`` per panel (reference/performance.md §4).
- ``echo``: an empty app whose one label shows the last key: Textual's own floor.
- ``binary``: the ``agentconsole`` script with a real Phone (start-up only).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"down": b"\x1b[B", "up": b"\x1b[A", "m": b"m", "x": b"x"}
SETTLE_GAP_S = 0.04  # output is "settled" after this long without a byte
PRESS_GAP_S = 0.12

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _console_children import CONSOLE_YAML, REPORT_FD, run_child  # noqa: E402


# ===================================================================== parent side
class Child:
    """A child process on the slave side of a fresh pty; the parent is its terminal."""

    def __init__(self, argv: list[str], cols: int, rows: int, env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        report_r, report_w = os.pipe()
        full = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor",
                REPORT_FD: str(report_w), **env}
        for var in ("COLUMNS", "LINES", "TEXTUAL"):
            full.pop(var, None)
        self.spawned = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=full,
                                     pass_fds=(report_w,), start_new_session=True,
                                     cwd=ROOT)
        os.close(slave)
        os.close(report_w)
        self.master, self.report_fd = master, report_r
        self.reports: list[tuple[str, str, float]] = []
        self.out_bytes = 0
        self._partial = b""

    def _read_reports(self) -> None:
        while select.select([self.report_fd], [], [], 0)[0]:
            chunk = os.read(self.report_fd, 65536)
            if not chunk:
                return
            data = self._partial + chunk
            *lines, self._partial = data.split(b"\n")
            for line in lines:
                kind, *rest = line.decode().split(" ")
                self.reports.append((kind, " ".join(rest[:-1]), float(rest[-1])))

    def read(self, timeout: float) -> tuple[float, bytes] | None:
        """One chunk of output (with its arrival time), or None after ``timeout``."""
        ready = select.select([self.master], [], [], max(0.0, timeout))[0]
        self._read_reports()
        if not ready:
            return None
        try:
            data = os.read(self.master, 65536)
        except OSError:
            return None
        self.out_bytes += len(data)
        return time.monotonic(), data

    def drain(self, gap: float = SETTLE_GAP_S, limit: float = 3.0) -> float | None:
        """Read until ``gap`` seconds pass without output; the last byte's time."""
        last = None
        end = time.monotonic() + limit
        while time.monotonic() < end:
            got = self.read(gap)
            if got is None:
                break
            last = got[0]
        return last

    def wait_text(self, text: bytes, timeout: float) -> float:
        """Time (since spawn) of the chunk that completes ``text`` in the output."""
        seen = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.read(end - time.monotonic())
            if got is not None:
                seen = (seen + got[1])[-65536:]
                if text in seen:
                    return got[0] - self.spawned
        tail = seen[-1500:].decode("utf-8", "replace")
        raise RuntimeError(f"child never drew {text!r}; its last output:\n{tail}")

    def wait_report(self, kind: str, timeout: float) -> None:
        end = time.monotonic() + timeout
        while not any(r[0] == kind for r in self.reports):
            if time.monotonic() > end or self.proc.poll() is not None:
                raise RuntimeError(f"child sent no {kind!r} report (exit {self.proc.poll()})")
            self.read(0.05)

    def cpu_rss(self) -> tuple[float, float]:
        import psutil

        proc = psutil.Process(self.proc.pid)
        times = proc.cpu_times()
        return times.user + times.system, proc.memory_info().rss / 2**20

    def stop(self) -> None:
        os.write(self.master, b"\x11")  # ctrl+q
        try:
            self.proc.wait(1.5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.master)
        os.close(self.report_fd)


@dataclass
class Press:
    key: str
    first_ms: float
    settle_ms: float
    scrolled: bool


@dataclass
class Run:
    label: str
    first_frame_ms: float = 0.0
    presses: list[Press] = field(default_factory=list)
    dropped: int = 0
    idle_cpu: float | None = None
    idle_bytes_s: float | None = None
    rss_mb: float = 0.0


def press(child: Child, key: str) -> Press | None:
    """Write one key; time the first byte back and the settle; None if a tick overlapped."""
    child.drain()
    mark = len(child.reports)
    sent = time.monotonic()
    os.write(child.master, KEYS[key])
    got = child.read(1.0)
    if got is None:
        return None
    settled = child.drain() or got[0]
    child._read_reports()
    new = child.reports[mark:]
    if any(kind == "T" and sent - 0.03 <= t <= settled + 0.005 for kind, _v, t in new):
        return None
    scrolled = any(kind == "S" for kind, _v, _t in new)
    return Press(key, (got[0] - sent) * 1000, (settled - sent) * 1000, scrolled)


def play(child: Child, run: Run, keys: list[str]) -> None:
    for key in keys:
        result = press(child, key)
        if result is None:
            run.dropped += 1
        else:
            run.presses.append(result)
        time.sleep(PRESS_GAP_S)


def idle(child: Child, run: Run, seconds: float) -> None:
    child.drain()
    cpu0, _ = child.cpu_rss()
    bytes0, start = child.out_bytes, time.monotonic()
    while time.monotonic() - start < seconds:
        child.read(0.2)
    cpu1, rss = child.cpu_rss()
    elapsed = time.monotonic() - start
    run.idle_cpu = 100 * (cpu1 - cpu0) / elapsed
    run.idle_bytes_s = (child.out_bytes - bytes0) / elapsed
    run.rss_mb = rss


def measure(label: str, child_args: list[str], args: argparse.Namespace, *,
            navigate: int, mutes: int, marker: bytes = b"Incoming") -> Run:
    run = Run(label)
    home = tempfile.mkdtemp(prefix="bench-console-")
    env = {f"XDG_{v}_HOME": f"{home}/{v.lower()}" for v in ("DATA", "STATE", "CONFIG")}
    child = Child([sys.executable, __file__, "--child", *child_args], args.cols, args.rows, env)
    try:
        run.first_frame_ms = child.wait_text(marker, 15) * 1000
        child.wait_report("R", 20)
        play(child, run, ["m"] * mutes)
        play(child, run, ["down"] * navigate)
        if args.idle:
            idle(child, run, args.idle)
        else:
            run.rss_mb = child.cpu_rss()[1]
    finally:
        child.stop()
    return run


def first_frame_binary(args: argparse.Namespace) -> float:
    """Spawn -> first frame of the real ``agentconsole`` (real Phone, no server)."""
    home = tempfile.mkdtemp(prefix="bench-console-")
    config = Path(home) / "console.yaml"
    config.write_text(CONSOLE_YAML)
    env = {f"XDG_{v}_HOME": f"{home}/{v.lower()}" for v in ("DATA", "STATE", "CONFIG")}
    script = Path(sys.executable).parent / "agentconsole"
    child = Child([str(script), "--config", str(config)], args.cols, args.rows, env)
    try:
        return child.wait_text(b"Incoming", 15) * 1000
    finally:
        child.stop()


# ======================================================================== report
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def split(run: Run, scrolled: bool) -> str:
    subset = [p for p in run.presses if p.scrolled == scrolled]
    if not subset:
        return f"{'–':>5} {'–':>5} {'–':>5} {0:>3}"
    first = [p.first_ms for p in subset]
    settle = [p.settle_ms for p in subset]
    return (f"{statistics.median(first):5.1f} {pct(first, 0.95):5.1f} "
            f"{statistics.median(settle):5.1f} {len(subset):>3}")


def print_table(runs: list[Run], binary_ms: float | None) -> None:
    print(f"\n{'run':<28} {'first':>6} | {'non-scroll p50 p95 settle n':>27} | "
          f"{'scroll p50 p95 settle n':>23} | {'drop':>4} | {'idle CPU%':>9} "
          f"{'out B/s':>8} | {'RSS MB':>6}")
    for run in runs:
        cpu = f"{run.idle_cpu:9.2f} {run.idle_bytes_s:8.0f}" if run.idle_cpu is not None \
            else f"{'–':>9} {'–':>8}"
        print(f"{run.label:<28} {run.first_frame_ms:6.0f} | {split(run, False):>27} | "
              f"{split(run, True):>23} | {run.dropped:>4} | {cpu} | {run.rss_mb:6.1f}")
    print("\nby key (first byte p50 / p95 ms, n; scrolled presses counted in ()):")
    for run in runs:
        parts = []
        for key in ("m", "down"):
            got = [p for p in run.presses if p.key == key]
            if got:
                first = [p.first_ms for p in got]
                scrolled = sum(p.scrolled for p in got)
                parts.append(f"{key}: {statistics.median(first):.1f} / {pct(first, 0.95):.1f}"
                             f", {len(got)} ({scrolled})")
        if parts:
            print(f"  {run.label:<28} " + "   ".join(parts))
    if binary_ms is not None:
        print(f"\nagentconsole binary (real Phone) spawn -> first frame: {binary_ms:.0f} ms")
    print("latency columns: ms from key write to the first byte back (p50, p95) and to "
          "the output settling (p50); n presses")


def scenarios(args: argparse.Namespace) -> list[tuple[str, list[str], int, int, bytes]]:
    out: list[tuple[str, list[str], int, int, bytes]] = [
        ("echo (empty Textual app)", ["echo"], 0, args.presses // 2, b"ready")]
    for n in args.calls:
        ringing, talking = n // 2, n - n // 2
        nav = args.presses if n > 1 else 0
        out.append((f"console {n} calls ({ringing}r/{talking}t)",
                    ["console", str(ringing), str(talking)], nav, args.presses // 2,
                    b"Incoming"))
        out.append((f"bare {n} (rows {ringing}, panels {talking})",
                    ["bare", str(ringing), str(talking), "app"], nav, args.presses // 2,
                    b"Incoming"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--presses", type=int, default=60, help="navigation presses per run")
    parser.add_argument("--idle", type=float, default=20.0,
                        help="idle CPU window, s (0: off); CPU time is counted in 10 ms ticks")
    parser.add_argument("--cols", type=int, default=120)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        run_child(kind, rest)
        return 0
    runs = [measure(label, child, args, navigate=nav, mutes=mutes, marker=marker)
            for label, child, nav, mutes, marker in scenarios(args)]
    idle_args = argparse.Namespace(**{**vars(args), "presses": 0})
    for panels in (10, 50):  # the per-panel-timer design the console avoids
        runs.append(measure(f"bare idle, {panels} panel timers",
                            ["bare", "0", str(panels), "panel"], idle_args, navigate=0,
                            mutes=0))
    print_table(runs, first_frame_binary(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
