"""A shift, compressed: 2,000 calls through the demo switch in one console process.

Run: ``.venv/bin/python bench/bench_soak.py`` (about an hour; ``--calls 300 --every 50``
for a shake-out in ten minutes; ``--help``).

The real :class:`AgentConsoleApp` (headless, Textual's Pilot, notifications on) on a
real Phone registered over UDP to the demo switch, which runs with its simulated parties
in a **child process**: the figures below are the console's process alone. The agent
works by keys (``tests/soak/driver.py`` has the plan): customers ring, ``a`` answers,
hold and resume, DTMF, local recording with a pause, a blind transfer to a colleague or
a hang-up (by the agent or the customer), rejected and missed calls, calls dialled to
the DTMF read-back number, and the wrap-up form filed with a code after every answered
call. Media is plain RTP (``--profile``; the parties follow it), and a call talks for
``--talk-frames`` received frames of 20 ms.

Every ``--every`` calls, with no call up, it prints a row: elapsed time, RSS, open fds,
asyncio tasks, OS threads, the Python heap (``--tracemalloc``: slower), history rows,
sessions alive in the phone and widgets in the DOM. At the end: the growth of each
resource per 1,000 calls after ``--warmup`` calls (least squares over the rows), the
history check (every call placed is there once: by call id, no duplicate, none
missing), what the console logged at WARNING or above, and a non-zero exit status when
a resource grew beyond its tolerance, the history is wrong, a call got stuck or a check
failed.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.soak.driver import Sample, Shift, logged_to, shift  # noqa: E402

#: Allowed growth per 1,000 calls after warm-up (least-squares slope over the rows).
TOLERANCE = {"rss_mb": 4.0, "fds": 1.0, "tasks": 1.0, "threads": 1.0, "heap_mb": 2.0}
#: No call (nor a sample) takes this long unless the event loop itself is stuck (every wait
#: of the driver ends in 20 s): then the stacks go to stderr and the run exits (status 1).
FROZEN_S = 300.0
COLUMNS = (("calls", 6), ("elapsed s", 9), ("s/call", 6), ("RSS MB", 7), ("fds", 4),
           ("tasks", 5), ("threads", 7), ("heap MB", 7), ("history", 7), ("sessions", 8),
           ("widgets", 7))


def row(sample: Sample, previous: Sample | None) -> str:
    pace = "" if previous is None or sample.calls == previous.calls else \
        f"{(sample.elapsed - previous.elapsed) / (sample.calls - previous.calls):.2f}"
    heap = "" if sample.heap_mb is None else f"{sample.heap_mb:.1f}"
    cells = (sample.calls, f"{sample.elapsed:.0f}", pace, f"{sample.rss_mb:.1f}", sample.fds,
             sample.tasks, sample.threads, heap, sample.history_rows, sample.sessions,
             sample.widgets)
    return "| " + " | ".join(f"{c!s:>{w}}" for c, (_n, w) in zip(cells, COLUMNS,
                                                                 strict=True)) + " |"


def header() -> str:
    names = "| " + " | ".join(f"{n:>{w}}" for n, w in COLUMNS) + " |"
    rule = "|" + "|".join("-" * (w + 1) + ":" for _n, w in COLUMNS) + "|"
    return f"{names}\n{rule}"


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares growth per 1,000 calls."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return 1000 * cov / var if var else 0.0


def verdicts(samples: list[Sample], warmup: int) -> tuple[list[str], bool]:
    after = [s for s in samples if s.calls >= warmup]
    if len(after) < 2:
        return [f"fewer than two rows from call {warmup} on: no growth verdict"], True
    lines, ok = [], True
    for key, limit in TOLERANCE.items():
        values = [(s.calls, getattr(s, key)) for s in after]
        if any(v is None for _c, v in values):
            continue
        growth = slope([(c, float(v)) for c, v in values])
        good = growth <= limit
        ok &= good
        lines.append(f"{key:>8}: {growth:+.2f} per 1000 calls from call {after[0].calls} on "
                     f"(tolerance {limit:g}): {'flat' if good else 'GROWS'}")
    return lines, ok


async def run(args: argparse.Namespace, workdir: Path) -> int:
    with logged_to(workdir / "console.log") as logged:
        return await run_logged(args, workdir, logged)


async def run_logged(args: argparse.Namespace, workdir: Path, logged: Counter[str]) -> int:
    async with shift(workdir, profile=args.profile, talk_frames=args.talk_frames) as s:
        print(header(), flush=True)
        first = await s.sample(0)
        print(row(first, None), flush=True)
        try:
            stuck = await work(s, args)
        finally:
            faulthandler.cancel_dump_traceback_later()
        samples = s.log.samples
        history = s.history_check()
    print()
    lines, flat = verdicts(samples, args.warmup)
    for line in lines:
        print(line)
    done = len(s.log.call_ids)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(s.log.kinds.items()))
    print(f"calls: {done} ({kinds}); read-backs heard {s.log.readbacks}; "
          f"recordings checked {s.log.recordings}")
    print(f"history: {samples[-1].history_rows} rows for {done} calls: "
          + ("every call once" if not history else "; ".join(history)))
    problems = s.log.problems + ([stuck] if stuck else [])
    for problem in problems:
        print(f"problem: {problem}")
    print("console log, WARNING and above: "
          + (", ".join(f"{k} {v}" for k, v in sorted(logged.items())) or "none")
          + f" ({workdir / 'console.log'})")
    return 0 if flat and not history and not problems else 1


async def work(s: Shift, args: argparse.Namespace) -> str | None:
    """Take the calls; sample every ``--every``; a stuck call ends the run, and so does a
    frozen event loop (the watchdog thread dumps every stack)."""
    previous = s.log.samples[-1]
    for n in range(args.calls):
        faulthandler.dump_traceback_later(FROZEN_S, exit=True, file=sys.__stderr__)
        try:
            await s.call(n)
        except (AssertionError, RuntimeError, TimeoutError) as exc:
            return f"stuck at call {n}: {exc}; sessions {list(s.phone.sessions.values())}, " \
                   f"screen {type(s.app.screen).__name__}"
        done = n + 1
        if done % args.progress == 0 and done % args.every:
            pace = (time.monotonic() - s.started) / done
            print(f"  … {done} calls, {pace:.2f} s/call", file=sys.stderr, flush=True)
        if done % args.every == 0 or done == args.calls:
            sample = await s.sample(done)
            print(row(sample, previous), flush=True)
            previous = sample
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--warmup", type=int, default=250,
                        help="calls before the growth verdicts start (caches fill)")
    parser.add_argument("--profile", default="rtp", choices=("rtp", "srtp", "webrtc"))
    parser.add_argument("--talk-frames", type=int, default=50,
                        help="audio frames (20 ms) each call talks before the actions")
    parser.add_argument("--progress", type=int, default=50, help="a progress line every N")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="trace the Python heap (a column; several times slower)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="history, logs and recordings here (default: a temp dir)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.tracemalloc:
        tracemalloc.start()
    print(f"{args.calls} calls, {args.profile} media, console pid in this process, demo "
          f"switch and parties in a child process; files in {workdir}", flush=True)
    return asyncio.run(run(args, workdir))


if __name__ == "__main__":
    sys.exit(main())
