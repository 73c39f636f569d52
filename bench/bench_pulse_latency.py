"""Audio through a PulseAudio server: the delay each route adds, measured end to end.

A private PulseAudio daemon (tests/e2e/pulse.py: null sinks, no sound card) stands for
the agent's desktop at the far end of an SSH tunnel; its default source is set to the
monitor of its default sink, so whatever a backend plays comes back to its capture.
For each route the benchmark plays 20 ms frames through the backend exactly as a call
does (``backend.play(frame)``), puts a short 1 kHz burst in every ``--gap`` seconds, and
times when the burst comes out of the backend's capture track (``track.recv()``, the
frames a call would send). That round trip — playback buffer, server, capture buffer —
is what the two directions of a call add together, before any network.

Routes:
- ``pulse-simple``: :class:`agentconsole.media.audio_pulse.PulseBackend` (libpulse-simple,
  server-side buffers of ``--latency`` ms) at 16 and 48 kHz.
- ``portaudio-alsa``: the sound-card backend on PortAudio's ALSA device ``pulse``
  (libasound2-plugins), with PortAudio's default latency — what ``audio.backend:
  sounddevice`` gives over a tunnel.

Run:  .venv/bin/python bench/bench_pulse_latency.py            (about 40 s)
      .venv/bin/python bench/bench_pulse_latency.py --bursts 30 --latency 20,40,80
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
from array import array
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from agentconsole.media.tone import sine  # noqa: E402
from agentconsole.media.tracks import make_frame  # noqa: E402

FRAME = 960  # 20 ms at 48 kHz
BURST_HZ = 1000
THRESHOLD = 2000  # peak of a captured sample that counts as "the burst arrived"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bursts", type=int, default=15, help="bursts per route (default 15)")
    parser.add_argument("--gap", type=float, default=0.6, help="seconds between bursts")
    parser.add_argument("--latency", default="20,40,80",
                        help="pulse-simple buffer sizes to try, ms (default 20,40,80)")
    return parser.parse_args(argv)


async def measure(backend: object, bursts: int, gap: float) -> list[float]:
    """Milliseconds from ``play(burst)`` to the burst leaving the capture track."""
    loop = asyncio.get_running_loop()
    track = backend.source_track()  # type: ignore[attr-defined]
    sent: list[float] = []
    heard: list[float] = []
    pairs: list[float] = []
    quiet = make_frame(bytes(FRAME * 2), 0)
    burst_pcm = sine(BURST_HZ, FRAME, 48000, 0.5).tobytes()

    async def feed() -> None:
        start = loop.time()
        frames_per_gap = round(gap / 0.02)
        settle = 50  # one second of silence first: streams open, buffers fill
        for n in range(settle + frames_per_gap * (bursts + 2)):
            await asyncio.sleep(max(0.0, start + n * 0.02 - loop.time()))
            is_burst = n >= settle and n % frames_per_gap == 0 and len(sent) < bursts
            if is_burst:
                sent.append(loop.time())
            backend.play(make_frame(burst_pcm, n * FRAME) if is_burst else quiet)  # type: ignore[attr-defined]

    async def listen() -> None:
        armed = True
        while len(heard) < bursts:
            frame = await track.recv()
            samples = array("h", bytes(frame.planes[0])[: frame.samples * 2])
            first = next((i for i, s in enumerate(samples) if abs(s) > THRESHOLD), None)
            if first is None:
                armed = True
                continue
            if armed and sent:
                heard.append(loop.time() - (frame.samples - first) / 48000)
                pairs.append(heard[-1] - sent[-1])  # the latest burst: they are gap apart
            armed = False

    feeder = asyncio.ensure_future(feed())
    with contextlib.suppress(TimeoutError):  # bursts not heard are counted as lost
        await asyncio.wait_for(listen(), gap * (bursts + 4) + 10)
    feeder.cancel()
    track.stop()
    return [p * 1000 for p in pairs]


def row(name: str, values: list[float], bursts: int) -> str:
    if not values:
        return f"| {name} | 0/{bursts} | – | – | – |"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (f"| {name} | {len(values)}/{bursts} | {statistics.median(values):.0f} | "
            f"{p90:.0f} | {min(values):.0f}–{max(values):.0f} |")


async def run_route(make: Callable[[], object], args: argparse.Namespace) -> list[float]:
    backend = make()
    try:
        return await measure(backend, args.bursts, args.gap)
    finally:
        await backend.close()  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tests.e2e.pulse import PulseServer

    with tempfile.TemporaryDirectory(prefix="bench-pulse-") as tmp:
        server = PulseServer(Path(tmp))
        server.start()
        try:
            server.pactl_run("set-default-source", "speaker.monitor")  # loop back
            os.environ.update({k: v for k, v in server.env().items()
                               if k in ("PULSE_SERVER", "XDG_RUNTIME_DIR")})
            print("| route | bursts heard | median ms | p90 ms | range ms |")
            print("|---|---|---|---|---|")
            for latency in (int(x) for x in args.latency.split(",")):
                for rate in (16000, 48000):
                    from agentconsole.media.audio_pulse import PulseBackend

                    values = asyncio.run(run_route(
                        lambda lat=latency, r=rate: PulseBackend(server.server, rate=r,
                                                                 latency_ms=lat), args))
                    print(row(f"pulse-simple {latency} ms buffers, {rate // 1000} kHz",
                              values, args.bursts), flush=True)
            from agentconsole.media.audio_sd import SounddeviceBackend

            values = asyncio.run(run_route(
                lambda: SounddeviceBackend(input="pulse", output="pulse"), args))
            print(row("portaudio-alsa (device 'pulse')", values, args.bursts), flush=True)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
