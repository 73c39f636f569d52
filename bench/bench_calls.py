"""Call benchmark: agentconsole against its floor (bare aiortc) and a native peer (baresip).

For N = 1, 5 and 10 simultaneous calls on loopback it measures, for each peer, the
set-up time (dial → 200 OK → first decoded frame at both ends), CPU seconds per
call-second, OS threads per call, RSS and RSS per added call, the lowest frames/s of
any call and the event-loop lag, then prints the ratios the performance targets are
stated in (reference/performance.md, "Suggested targets"). Every measurement runs in a
fresh process, one after another, so nothing one peer loads or patches (aiortc's
resamplers, aioice's host list) leaks into another's figures.

Run:  .venv/bin/python bench/bench_calls.py            (about 2.5 minutes)
      .venv/bin/python bench/bench_calls.py --codecs opus,pcmu --json results.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
# the repository first: the package then imports from the tree even when the venv's
# editable install is stale
sys.path[:0] = [str(HERE.parent), str(HERE)]

from _measure import Result, percentile  # noqa: E402

PEERS = ("aiortc", "agentconsole", "baresip")
CODECS = ("opus", "pcmu")
PROFILES = ("webrtc", "rtp", "srtp")
TARGETS = {"setup": 1.5, "cpu": 1.3, "threads": 4.0, "mem": 1.0, "baresip": 10.0}
#: Plain RTP / SDES-SRTP against the baresip pair on the same profile (issue 13).
PLAIN_TARGETS = {"cpu": 1.5, "cpu_stretch": 1.0, "setup_ms": 20.0, "threads": 0.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        epilog="Columns are explained in bench/README.md. Each (peer, codec, N) runs in its "
               "own process; the whole default run takes about 2.5 minutes on 2 vCPUs.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", default="1,5,10",
                        help="simultaneous call counts, comma-separated (default 1,5,10)")
    parser.add_argument("--codecs", default="opus",
                        help="codecs to run: opus, pcmu or opus,pcmu (default opus; "
                             "each codec adds about 2.5 minutes)")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help="peers to run (default aiortc,agentconsole,baresip; baresip is "
                             "skipped with a note when it is not installed)")
    parser.add_argument("--window", type=float, default=10.0,
                        help="measuring window in seconds (default 10)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds between the last call up and the window (default 3)")
    parser.add_argument("--one-way", action="store_true",
                        help="bare aiortc floor sends one way only, exactly as "
                             "performance.md §1 (default: both ways, like the phones)")
    parser.add_argument("--baresip-port", type=int, default=25060,
                        help="base port of the baresip pair: SIP base and base+10, ctrl_tcp "
                             "base+2/+3, RTP base+200..+599 (default 25060)")
    parser.add_argument("--profiles", default="webrtc",
                        help="media profiles: webrtc (ICE + DTLS-SRTP), rtp (RTP/AVP), srtp "
                             "(SDES RTP/SAVP), comma-separated (default webrtc); the bare "
                             "aiortc floor runs for webrtc only")
    parser.add_argument("--pin", action="store_true",
                        help="pin every measured process to CPU 0 (the one-core capacity "
                             "runs: e.g. --profiles rtp --codecs pcmu --calls 30 --pin)")
    parser.add_argument("--json", metavar="PATH",
                        help="also write every raw result as JSON to PATH ('-' = stdout)")
    parser.add_argument("--worker", choices=("aiortc", "agentconsole"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--codec", default="opus", help=argparse.SUPPRESS)
    parser.add_argument("--profile", default="webrtc", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.profile_list = [p.strip().lower() for p in args.profiles.split(",") if p.strip()]
    for profile in args.profile_list:
        if profile not in PROFILES:
            parser.error(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
    args.call_counts = [int(x) for x in args.calls.split(",") if x.strip()]
    args.codec_list = [c.strip().lower() for c in args.codecs.split(",") if c.strip()]
    args.peer_list = [p.strip().lower() for p in args.peers.split(",") if p.strip()]
    for codec in args.codec_list:
        if codec not in CODECS:
            parser.error(f"unknown codec {codec!r} (choose from {', '.join(CODECS)})")
    for peer in args.peer_list:
        if peer not in PEERS:
            parser.error(f"unknown peer {peer!r} (choose from {', '.join(PEERS)})")
    if not args.call_counts or min(args.call_counts) < 1 or max(args.call_counts) > 200:
        parser.error("--calls takes counts between 1 and 200")
    return args


# ----- running ----------------------------------------------------------------------------
def run_python_peer(args: argparse.Namespace, peer: str, codec: str, n: int,
                    profile: str = "webrtc") -> Result:
    """One measurement in a fresh interpreter (this script with --worker)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", peer, "--n", str(n),
               "--codec", codec, "--window", str(args.window), "--warmup", str(args.warmup),
               "--profile", profile]
    if args.one_way:
        command.append("--one-way")
    if args.pin:
        command = ["taskset", "-c", "0", *command]
    limit = args.warmup + args.window + 8 * n + 60
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return Result(kind=peer, codec=codec, n=n, profile=profile,
                      error=f"timed out after {limit:.0f} s\n{err}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return Result(kind=peer, codec=codec, n=n, profile=profile,
                      error=f"worker exited {proc.returncode}\n{err[-3000:]}")
    result = Result.from_json(json.loads(lines[-1]))
    if result.error and err.strip():
        result.error += "\n--- worker stderr (tail) ---\n" + err[-2000:]
    return result


def run_all(args: argparse.Namespace) -> list[Result]:
    from _baresip import baresip_binary

    results: list[Result] = []
    have_baresip = baresip_binary() is not None
    for profile in args.profile_list:
        for codec in args.codec_list:
            for n in args.call_counts:
                for peer in args.peer_list:
                    if peer == "aiortc" and profile != "webrtc":
                        continue  # the bare aiortc floor is WebRTC only
                    results.append(run_one(args, peer, profile, codec, n, have_baresip))
    return results


def run_one(args: argparse.Namespace, peer: str, profile: str, codec: str, n: int,
            have_baresip: bool) -> Result:
    from _baresip import run_baresip

    started = time.monotonic()
    if peer == "baresip" and not have_baresip:
        return Result(kind=peer, codec=codec, n=n, profile=profile,
                      error="baresip is not installed")
    if peer == "baresip":
        result = run_baresip(codec, n, args.warmup, args.window, args.baresip_port, profile,
                             args.pin)
    else:
        result = run_python_peer(args, peer, codec, n, profile)
    state = "FAILED" if result.error else "ok"
    print(f"  {peer:12} {profile:6} {codec:4} N={n:<3} {state} "
          f"({time.monotonic() - started:.1f} s)", file=sys.stderr, flush=True)
    return result


# ----- reporting --------------------------------------------------------------------------
def _f(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def results_table(results: list[Result]) -> list[str]:
    head = ["peer", "profile", "codec", "N", "up", "set-up ms p50 (min–max)",
            "1st packet ms", "200 OK ms", "connected ms",
            "1st frame B / A ms",
            "CPU-s/call-s", "CPU %", "threads idle→N", "thr/call", "RSS MB idle / N",
            "MB/added call", "min fps", "lag p99 / max ms"]
    lines = [_row(head), _row("---" for _ in head)]
    for r in results:
        if r.error and not r.calls_up:
            lines.append(_row([r.kind, r.profile, r.codec, str(r.n), "0", "FAILED (see below)"]
                              + [""] * (len(head) - 6)))
            continue
        setup = (f"{_f(r.setup_median())} ({_f(min(r.setup_ms, default=math.nan))}–"
                 f"{_f(max(r.setup_ms, default=math.nan))})")
        first = f"{_f(percentile(r.setup_b_ms, 50))} / {_f(percentile(r.setup_a_ms, 50))}"
        cpu_pct = r.cpu_s / r.window_s * 100 if r.window_s else math.nan
        lines.append(_row([
            r.kind + (f" ({r.note})" if r.note else ""), r.profile, r.codec, str(r.n),
            str(r.calls_up),
            setup, _f(percentile(r.packet_ms, 50)), _f(percentile(r.answer_ms, 50)),
            _f(percentile(r.connected_ms, 50)), first,
            _f(r.cpu_per_call_s, 4), _f(cpu_pct), f"{r.threads_idle}→{r.threads_calls}",
            _f(r.threads_per_call), f"{_f(r.rss_idle_mb)} / {_f(r.rss_calls_mb)}",
            _f(r.rss_per_added_mb, 2), _f(r.min_fps, 2),
            f"{_f(r.lag_p99_ms)} / {_f(r.lag_max_ms)}" if r.lag_p99_ms is not None else "–",
        ]))
    return lines


def _find(results: list[Result], kind: str, codec: str, n: int,
          profile: str = "webrtc") -> Result | None:
    for r in results:
        if (r.kind, r.codec, r.n, r.profile) == (kind, codec, n, profile) and r.calls_up == n:
            return r
    return None


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def _setup_cells(ac: Result, bare: Result | None, native: Result | None) -> list[str]:
    """Set-up ratio and the budget: 1.5 × the bare pair + one SIP INVITE/200 exchange,
    taken as the fastest dial → 200 OK of the native stack on the same loopback."""
    ac_setup = ac.setup_median()
    if bare is None:
        return ["–", "–", _f(ac_setup)]
    sip = min(native.answer_ms, default=0.0) if native is not None else 0.0
    budget = TARGETS["setup"] * bare.setup_median() + sip
    return [_f(ac_setup / bare.setup_median(), 2), _f(budget),
            f"{_f(ac_setup)} {_mark(ac_setup <= budget)}"]


def _per_leg(ac: Result, bare: Result | None) -> list[str]:
    """Threads and memory per call *leg*: each call of a pair run is two legs in one
    process (A's and B's), while the targets count the calls of one console."""
    threads = ac.threads_per_call
    mem = ac.rss_per_added_mb
    bare_mem = bare.rss_per_added_mb / 2 if bare is not None else math.nan
    cells = [f"{_f(threads / 2)} ({_f(threads)}) {_mark(threads / 2 <= TARGETS['threads'])}"]
    if math.isnan(mem):
        cells.append("–")
    else:
        cells.append(f"{_f(mem / 2, 2)} ({_f(mem, 2)}) {_mark(mem / 2 <= TARGETS['mem'])}"
                     f"; bare {_f(bare_mem, 2)}")
    return cells


def ratio_table(results: list[Result], codecs: list[str], counts: list[int]) -> list[str]:
    head = ["codec", "N", "set-up ac ÷ bare", "budget ms (1.5×bare + SIP)", "set-up ac ms",
            "CPU ac ÷ bare (≤1.3)", "threads per leg (pair) (≤4)",
            "MB per added leg (pair) (≤1)", "CPU ac ÷ baresip (≤10)"]
    lines = [_row(head), _row("---" for _ in head)]
    for codec in codecs:
        for n in counts:
            ac = _find(results, "agentconsole", codec, n)
            bare = _find(results, "aiortc", codec, n)
            native = _find(results, "baresip", codec, n)
            if ac is None:
                lines.append(_row([codec, str(n), "agentconsole run failed"] + [""] * 6))
                continue
            cells = [codec, str(n)] + _setup_cells(ac, bare, native)
            if bare is not None:
                cpu = ac.cpu_per_call_s / bare.cpu_per_call_s
                cells.append(f"{_f(cpu, 2)} {_mark(cpu <= TARGETS['cpu'])}")
            else:
                cells.append("–")
            cells += _per_leg(ac, bare)
            if native is not None:
                vs = ac.cpu_per_call_s / native.cpu_per_call_s
                cells.append(f"{_f(vs, 1)} {_mark(vs <= TARGETS['baresip'])}")
            else:
                cells.append("–")
            lines.append(_row(cells))
    return lines


def plain_table(results: list[Result], profiles: list[str], codecs: list[str],
                counts: list[int]) -> list[str]:
    """agentconsole on plain RTP / SDES-SRTP against the baresip pair on the same profile:
    CPU ≤ 1.5× (stretch 1.0×), set-up ≤ baresip's + 20 ms, no thread per call."""
    head = ["profile", "codec", "N", "CPU ac ÷ baresip (≤1.5, stretch ≤1.0)",
            "set-up ac − baresip ms, 1st packet (≤ +20)", "… 1st frame played (≤ +20)",
            "threads per call (0)", "min fps ac"]
    lines = [_row(head), _row("---" for _ in head)]
    for profile in profiles:
        if profile == "webrtc":
            continue
        for codec in codecs:
            for n in counts:
                ac = _find(results, "agentconsole", codec, n, profile)
                native = _find(results, "baresip", codec, n, profile)
                if ac is None:
                    lines.append(_row([profile, codec, str(n), "agentconsole run failed",
                                       "", "", "", ""]))
                    continue
                cells = [profile, codec, str(n)]
                if native is not None:
                    cpu = ac.cpu_per_call_s / native.cpu_per_call_s
                    mark = "✓✓" if cpu <= PLAIN_TARGETS["cpu_stretch"] else _mark(
                        cpu <= PLAIN_TARGETS["cpu"])
                    packet = ac.setup_median("packet_ms") - native.setup_median()
                    frame = ac.setup_median() - native.setup_median()
                    cells += [f"{_f(cpu, 2)} {mark}",
                              f"{_f(packet)} {_mark(packet <= PLAIN_TARGETS['setup_ms'])}",
                              f"{_f(frame)} {_mark(frame <= PLAIN_TARGETS['setup_ms'])}"]
                else:
                    cells += ["–", "–", "–"]
                threads = ac.threads_per_call
                cells += [f"{_f(threads, 2)} {_mark(threads <= PLAIN_TARGETS['threads'])}",
                          _f(ac.min_fps, 2)]
                lines.append(_row(cells))
    return lines


def report(args: argparse.Namespace, results: list[Result], elapsed: float) -> str:
    direction = "one way (§1)" if args.one_way else "both ways"
    out = [f"# Call benchmark — window {args.window:g} s after {args.warmup:g} s warm-up, "
           f"calls set up one after another; bare aiortc sends {direction}; "
           f"{'pinned to CPU 0; ' if args.pin else ''}"
           f"load average at start {os.getloadavg()[0]:.2f}; total {elapsed:.0f} s", ""]
    out += results_table(results)
    if "agentconsole" in args.peer_list and "webrtc" in args.profile_list:
        out += ["", "## Ratios against the targets (ac = agentconsole, bare = aiortc pair)", ""]
        out += ratio_table(results, args.codec_list, args.call_counts)
    if "agentconsole" in args.peer_list and set(args.profile_list) - {"webrtc"}:
        out += ["", "## Plain RTP / SDES-SRTP against the baresip pair (same profile)", ""]
        out += plain_table(results, args.profile_list, args.codec_list, args.call_counts)
    failures = [r for r in results if r.error]
    if failures:
        out += ["", "## Failures", ""]
        for r in failures:
            out += [f"### {r.kind} {r.codec} N={r.n} ({r.calls_up} calls up)", "```",
                    r.error.rstrip(), "```"]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        from _pyworkers import run_worker

        result = run_worker(args.worker, args.codec, args.n, args.warmup, args.window,
                            both_ways=not args.one_way, profile=args.profile)
        print(json.dumps(result.to_json()), flush=True)
        return 0
    started = time.monotonic()
    runs = len(args.codec_list) * len(args.call_counts) * len(args.peer_list) \
        * len(args.profile_list)
    print(f"running up to {runs} measurements, one at a time ...", file=sys.stderr, flush=True)
    results = run_all(args)
    print(report(args, results, time.monotonic() - started))
    if args.json:
        payload = json.dumps([r.to_json() for r in results], indent=1)
        if args.json == "-":
            print(payload)
        else:
            Path(args.json).write_text(payload + "\n")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
