"""The two in-process peers of the call benchmark, each run in a fresh interpreter.

- ``aiortc``: the floor — two bare ``RTCPeerConnection`` per call, as in
  reference/performance.md §1 (host candidates only, DTLS-SRTP, codec forced through
  ``setCodecPreferences``), but by default both ends send a paced 48 kHz sine, so the
  media work per call equals the agentconsole pair's (both directions).
- ``agentconsole``: two :class:`~agentconsole.Phone` objects; A dials B N times over
  loopback UDP SIP without a registrar, B answers every ``incoming`` session.

Both follow the same script: idle baseline, calls set up one after another (each one
complete before the next), warm-up, measuring window, teardown; then one JSON line.
"""

from __future__ import annotations

import asyncio
import fractions
import gc
import math
import os
import re
import struct
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from _measure import LagProbe, Result, cpu_seconds, percentile, rss_mb, threads

RATE = 48000
SAMPLES = 960  # 20 ms
SETUP_TIMEOUT_S = 15.0
_INVITE_CSEQ = re.compile(rb"\r\n(?:CSeq):[^\r\n]*INVITE", re.IGNORECASE)


def _sine_bytes(hz: int, amplitude: float = 0.3) -> bytes:
    """One second of a 48 kHz s16 mono sine; ``hz`` whole cycles, so it loops seamlessly."""
    peak = amplitude * 32767
    return b"".join(struct.pack("<h", int(peak * math.sin(2 * math.pi * hz * i / RATE)))
                    for i in range(RATE))


def make_sine_track(hz: int) -> Any:
    """A MediaStreamTrack of 20 ms 48 kHz s16 mono sine frames paced in real time."""
    import av
    from aiortc.mediastreams import MediaStreamTrack

    pcm = _sine_bytes(hz)

    class SineTrack(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self._start: float | None = None
            self._pts = 0

        async def recv(self) -> av.AudioFrame:
            if self._start is None:
                self._start = time.monotonic()
            else:
                self._pts += SAMPLES
                wait = self._start + self._pts / RATE - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            offset = (self._pts % RATE) * 2
            frame = av.AudioFrame(format="s16", layout="mono", samples=SAMPLES)
            frame.planes[0].update(pcm[offset:offset + SAMPLES * 2])
            frame.sample_rate = RATE
            frame.pts = self._pts
            frame.time_base = fractions.Fraction(1, RATE)
            return frame

    return SineTrack()


class Counter:
    """Frames decoded at one end of one call, and when the first one arrived."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.first: float | None = None
        self.first_packet: float | None = None  # plain RTP: the first packet received
        self.media: Any = None
        self.frames = 0
        self.source: Callable[[], int] | None = None  # reads the count elsewhere

    def count(self) -> int:
        return self.source() if self.source is not None else self.frames

    def poll_packet(self) -> bool:
        """Plain RTP: stamp the first received packet (what baresip's CALL_RTPESTAB
        measures), polled every millisecond while the call sets up; True once seen."""
        if self.first_packet is None:
            stream = getattr(self.media, "stream", None)
            if stream is not None and stream.receiver.stats.received:
                self.first_packet = time.perf_counter()
        return self.first_packet is not None

    def hit(self) -> None:
        self.frames += 1
        if self.first is None:
            self.first = time.perf_counter()

    @property
    def first_ms(self) -> float:
        return math.nan if self.first is None else (self.first - self.t0) * 1000


async def wait_until(check: Callable[[], bool], timeout: float, what: str,
                     stamp: tuple[Callable[[], bool], list[float]] | None = None) -> None:
    """Poll ``check`` every millisecond; ``stamp`` = (condition, list): the time the
    condition first held is appended to the list."""
    deadline = time.perf_counter() + timeout
    stamped = stamp is None
    while True:
        now = time.perf_counter()
        if not stamped and stamp is not None and stamp[0]():
            stamp[1].append(now)
            stamped = True
        if check() and stamped:
            return
        if now > deadline:
            raise TimeoutError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.001)


async def measure(result: Result, n: int, warmup: float, window: float,
                  setup_one: Callable[[int], Awaitable[None]],
                  frame_counts: Callable[[], list[int]]) -> None:
    """Idle baseline → N calls one after another → warm-up → window, into ``result``."""
    pid = os.getpid()
    gc.collect()
    await asyncio.sleep(0.5)
    result.threads_idle, result.rss_idle_mb = threads(pid), rss_mb(pid)
    probe = LagProbe()
    probe.start()
    try:
        for i in range(n):
            await setup_one(i)
            result.calls_up = i + 1
            if i == 0:
                result.rss_first_mb = rss_mb(pid)
        await asyncio.sleep(warmup)
        before, cpu0, t0 = frame_counts(), cpu_seconds(pid), time.perf_counter()
        probe.recording = True
        await asyncio.sleep(window)
        probe.recording = False
        after, cpu1, t1 = frame_counts(), cpu_seconds(pid), time.perf_counter()
        result.threads_calls, result.rss_calls_mb = threads(pid), rss_mb(pid)
    finally:
        await probe.stop()
    result.window_s, result.cpu_s = t1 - t0, cpu1 - cpu0
    result.fps = [(b - a) / (t1 - t0) for a, b in zip(before, after, strict=True)]
    result.min_fps = min(result.fps)
    result.lag_p99_ms = percentile(probe.samples, 99)
    result.lag_max_ms = max(probe.samples, default=math.nan)


def _record_setup(result: Result, at_b: Counter, at_a: Counter | None) -> None:
    if at_a is not None and at_b.first_packet is not None and at_a.first_packet is not None:
        result.packet_ms.append((max(at_a.first_packet, at_b.first_packet) - at_b.t0) * 1000)
    result.setup_b_ms.append(at_b.first_ms)
    if at_a is not None:
        result.setup_a_ms.append(at_a.first_ms)
        result.setup_ms.append(max(at_b.first_ms, at_a.first_ms))
    else:
        result.setup_ms.append(at_b.first_ms)


# ----- bare aiortc ------------------------------------------------------------------------
async def run_aiortc(result: Result, n: int, warmup: float, window: float,
                     both_ways: bool) -> None:
    import aioice.ice
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender

    # aioice leaves loopback out; this bench alone sends its ICE over 127.0.0.1
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    mime = {"opus": "audio/opus", "pcmu": "audio/pcmu"}[result.codec]
    prefs = [c for c in RTCRtpSender.getCapabilities("audio").codecs
             if c.mimeType.lower() == mime]
    pcs: list[Any] = []
    counters: list[Counter] = []
    tasks: set[asyncio.Task[None]] = set()

    def consume(track: Any, counter: Counter) -> None:
        async def loop() -> None:
            while True:
                await track.recv()
                counter.hit()

        task = asyncio.ensure_future(loop())
        tasks.add(task)

    async def setup_one(index: int) -> None:
        t0 = time.perf_counter()
        config = RTCConfiguration(iceServers=[])
        pc_a, pc_b = RTCPeerConnection(config), RTCPeerConnection(config)
        pcs.extend((pc_a, pc_b))
        at_b, at_a = Counter(t0), Counter(t0)
        pc_b.on("track", lambda track: consume(track, at_b))
        pc_a.on("track", lambda track: consume(track, at_a))
        transceiver = pc_a.addTransceiver(make_sine_track(440),
                                          direction="sendrecv" if both_ways else "sendonly")
        transceiver.setCodecPreferences(prefs)
        await pc_a.setLocalDescription(await pc_a.createOffer())
        await pc_b.setRemoteDescription(pc_a.localDescription)
        if both_ways:
            pc_b.addTrack(make_sine_track(880))
        await pc_b.setLocalDescription(await pc_b.createAnswer())
        await pc_a.setRemoteDescription(pc_b.localDescription)
        up: list[float] = []
        await wait_until(lambda: at_b.first is not None
                         and (at_a.first is not None or not both_ways),
                         SETUP_TIMEOUT_S, f"first frame of call {index + 1}",
                         (lambda: pc_a.connectionState == pc_b.connectionState == "connected",
                          up))
        result.connected_ms.append((up[0] - t0) * 1000)
        counters.extend((at_b, at_a) if both_ways else (at_b,))
        _record_setup(result, at_b, at_a if both_ways else None)

    try:
        await measure(result, n, warmup, window, setup_one,
                      lambda: [c.count() for c in counters])
    finally:
        for pc in pcs:
            await pc.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ----- agentconsole -----------------------------------------------------------------------
def phone_yaml(user: str, codec: str, tone_hz: int, max_calls: int,
               profile: str = "webrtc") -> str:
    return f"""
account:
  aor: "sip:{user}@127.0.0.1"
  transport: udp
  register: false
sip:
  local_host: 127.0.0.1
media:
  host_addresses: ["127.0.0.1"]
  profile: {profile}
  codecs: [{ {"opus": "opus", "pcmu": "PCMU"}[codec] }]
audio:
  backend: tone
  tone_hz: {tone_hz}
calls:
  max_calls: {max_calls}
  auto_hold: false
  dial_rate_limit_s: 0
"""


async def run_agentconsole(result: Result, n: int, warmup: float, window: float) -> None:
    from agentconsole import Phone, parse_config

    # The phone imports aiortc on its first call; load it before the idle baseline, as
    # the bare pair does, and report what that first-call import costs.
    loaded = time.perf_counter()
    import agentconsole.media.peer  # noqa: F401
    import agentconsole.media.plain  # noqa: F401
    import agentconsole.media.tracks  # noqa: F401
    from agentconsole.media.ringer import RING_TONES, RingSignal
    from agentconsole.media.tone import ToneGenerator

    # Once-per-process tables (a tone backend's sine, the ringback's cadence) are
    # computed on first use; a console pays them on its first call, not on each.
    for hz in (440, 880):
        ToneGenerator(hz)
    RingSignal(RING_TONES["us"], 48000)
    result.note = f"aiortc import {(time.perf_counter() - loaded) * 1000:.0f} ms, excluded"

    profile = result.profile
    profile_plain = profile != "webrtc"
    a = Phone(parse_config(phone_yaml("1001", result.codec, 440, max(n, 1), profile)))
    b = Phone(parse_config(phone_yaml("1002", result.codec, 880, max(n, 1), profile)))
    await a.start()
    await b.start()
    assert b.transport is not None and b.transport.local_address is not None
    target = f"sip:1002@127.0.0.1:{b.transport.local_address[1]}"
    outbound: list[Any] = []
    counters: list[Counter] = []
    pending: dict[str, Any] = {"t0": 0.0, "at_b": None, "ok": None}
    answers: set[asyncio.Task[Any]] = set()

    def on_trace(entry: Any) -> None:
        head = entry.data.split(b"\r\n\r\n", 1)[0]
        if entry.direction == "in" and pending["ok"] is None \
                and head.startswith(b"SIP/2.0 200") and _INVITE_CSEQ.search(head):
            pending["ok"] = time.perf_counter()

    def on_incoming(session: Any) -> None:
        counter: Counter = pending["at_b"]
        pending["b_session"] = session
        hook_first_frame(session, counter)
        task = asyncio.ensure_future(session.answer())
        answers.add(task)
        task.add_done_callback(answers.discard)

    a.add_trace_hook(on_trace)
    b.on("incoming", on_incoming)

    async def setup_one(index: int) -> None:
        t0 = time.perf_counter()
        at_b, at_a = Counter(t0), Counter(t0)
        pending.update(t0=t0, at_b=at_b, ok=None, b_session=None)
        session = await a.call(target)
        hook_first_frame(session, at_a)
        outbound.append(session)
        failed: list[Any] = []
        session.on("failed", failed.append)
        up: list[float] = []

        def connected() -> bool:
            inbound = pending["b_session"]
            return session.media.connected and inbound is not None and inbound.media.connected

        def both_up() -> bool:
            packets = [c.poll_packet() for c in (at_a, at_b)]  # stamp both, every ms
            return bool(failed) or (all(packets) or not profile_plain) and (
                at_b.first is not None and at_a.first is not None)

        await wait_until(both_up,
                         SETUP_TIMEOUT_S, f"first frame of call {index + 1} at both ends",
                         (lambda: connected() or bool(failed), up))
        if failed:
            raise RuntimeError(f"call {index + 1} failed: {failed[0]}")
        result.connected_ms.append((up[0] - t0) * 1000)
        counters.extend((at_b, at_a))
        result.answer_ms.append((pending["ok"] - t0) * 1000 if pending["ok"] else math.nan)
        _record_setup(result, at_b, at_a)

    try:
        # One uncounted call first: the first call of a process also pays lazy imports
        # and codec/filter initialisation, a start-up cost rather than a per-call one.
        started = time.perf_counter()
        await setup_one(-1)
        cold = (time.perf_counter() - started) * 1000
        first = outbound.pop()
        first.hangup()
        await wait_until(lambda: not a.sessions and not b.sessions, SETUP_TIMEOUT_S,
                         "the warm-up call to end")
        for name in ("connected_ms", "answer_ms", "setup_ms", "setup_a_ms", "setup_b_ms",
                     "packet_ms"):
            getattr(result, name).clear()
        counters.clear()
        result.note += f"; first call {cold:.0f} ms, excluded"
        await measure(result, n, warmup, window, setup_one,
                      lambda: [c.count() for c in counters])
    finally:
        for session in outbound:
            session.hangup()
        await asyncio.sleep(0.3)
        await a.stop()
        await b.stop()


def hook_first_frame(session: Any, counter: Counter) -> None:
    """Count the session's decoded frames; note when the first one arrived.

    Frames are counted with ``media.frames_received``; the per-frame hook only stamps
    the first frame and then takes itself off.
    """
    media = session.media
    base = media.frames_received

    def first(_frame: Any) -> None:
        counter.first = time.perf_counter()
        media.on_remote_frame = None

    media.on_remote_frame = first
    counter.source = lambda: media.frames_received - base
    counter.media = media


# ----- entry ------------------------------------------------------------------------------
def run_worker(kind: str, codec: str, n: int, warmup: float, window: float,
               both_ways: bool, profile: str = "webrtc") -> Result:
    """Run one measurement in this interpreter; errors are returned, not raised."""
    result = Result(kind=kind, codec=codec, n=n, profile=profile)
    try:
        if kind == "aiortc":
            result.note = "both ways" if both_ways else "one way, as §1"
            asyncio.run(run_aiortc(result, n, warmup, window, both_ways))
        else:
            asyncio.run(run_agentconsole(result, n, warmup, window))
    except Exception:
        result.error = traceback.format_exc()
    return result
