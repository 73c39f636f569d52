"""Shared measuring pieces of the call benchmark: process probes, a loop-lag probe and
the result record each worker prints as one JSON line.

Every figure is taken the same way for every peer so that the ratios printed by
``bench_calls.py`` compare like with like (reference/performance.md, "Unit").
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

try:
    import psutil
except ImportError:  # pragma: no cover - psutil is optional, /proc is the fallback
    psutil = None

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of ``pid`` so far (psutil, else /proc)."""
    if psutil is not None:
        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime


def threads(pid: int) -> int:
    """OS threads of ``pid`` (entries of /proc/<pid>/task)."""
    return len(os.listdir(f"/proc/{pid}/task"))


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (10^6 bytes)."""
    with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * _PAGE / 1e6


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class LagProbe:
    """Event-loop lag: how late a 20 ms sleep wakes up (one ptime, as in §1b)."""

    def __init__(self, period: float = 0.02) -> None:
        self.period = period
        self.samples: list[float] = []
        self.recording = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.period)
            if self.recording:
                self.samples.append((time.perf_counter() - before - self.period) * 1000)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


@dataclass
class Result:
    """What one run (one peer, one codec, N calls) measured; ``None`` = not measured."""

    kind: str
    codec: str
    n: int
    profile: str = "webrtc"  # webrtc (ICE + DTLS-SRTP) | rtp (RTP/AVP) | srtp (SDES RTP/SAVP)
    calls_up: int = 0
    setup_ms: list[float] = field(default_factory=list)  # dial → first frame at both ends
    setup_b_ms: list[float] = field(default_factory=list)  # dial → first frame at callee
    setup_a_ms: list[float] = field(default_factory=list)  # dial → first frame at caller
    answer_ms: list[float] = field(default_factory=list)  # dial → 200 OK seen by caller
    connected_ms: list[float] = field(default_factory=list)  # dial → ICE+DTLS up, both ends
    packet_ms: list[float] = field(default_factory=list)  # dial → first RTP packet, both ends
    window_s: float = 0.0
    cpu_s: float = 0.0
    threads_idle: int = 0
    threads_calls: int = 0
    rss_idle_mb: float = 0.0
    rss_first_mb: float = 0.0
    rss_calls_mb: float = 0.0
    min_fps: float | None = None
    fps: list[float] = field(default_factory=list)  # every call end, B and A alternating
    lag_p99_ms: float | None = None
    lag_max_ms: float | None = None
    note: str = ""
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        return cls(**data)

    # derived figures ------------------------------------------------------------------
    @property
    def cpu_per_call_s(self) -> float:
        """CPU seconds per call-second over the window."""
        if not self.window_s or not self.calls_up:
            return math.nan
        return self.cpu_s / self.window_s / self.calls_up

    @property
    def threads_per_call(self) -> float:
        return (self.threads_calls - self.threads_idle) / self.calls_up if self.calls_up \
            else math.nan

    @property
    def rss_per_added_mb(self) -> float:
        """(RSS with N calls − RSS with the first call up) / (N − 1)."""
        if self.calls_up < 2:
            return math.nan
        return (self.rss_calls_mb - self.rss_first_mb) / (self.calls_up - 1)

    def setup_median(self, which: str = "setup_ms") -> float:
        return percentile(getattr(self, which), 50)
