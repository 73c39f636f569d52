"""Audio tracks and a single-threaded resampler.

- :class:`Resampler` does what PyAV's ``AudioResampler`` does but builds its filter
  graph with one thread. PyAV's graph defaults to one thread per CPU, and aiortc makes
  one resampler per encoder, so each call would otherwise start as many native threads
  as the machine has cores (reference/performance.md §1a). Audio resampling of 20 ms
  frames gains nothing from threads.
- PyAV's audio encoder also re-chunks frames through a private resampler of its own
  (Opus needs exactly 960 samples), which no PyAV or aiortc setting reaches. What does
  reach it is FFmpeg's public ``av_cpu_force_count()`` (libavutil/cpu.h): the CPU count
  every "automatic" thread pool is sized from. :func:`limit_ffmpeg_threads` sets it to 1
  in the libavutil PyAV loaded. This product is audio-only, where FFmpeg threads only
  add hand-off cost to 20 ms frames.
- :func:`install_lean_resamplers` is the one place doing both: it sets the count and
  swaps :class:`Resampler` into aiortc's codec modules (a fallback for when libavutil
  cannot be found). Idempotent and process-wide; the swapped class keeps aiortc's call
  signature and behaviour.
- :class:`PacedAudioTrack` produces 20 ms, 48 kHz mono s16 frames in real time.
- :class:`ControlledTrack` sits between a backend's track and the RTP sender: mute
  (silence, no signalling), pause (hold: nothing is pulled, nothing is sent), and taps
  that see exactly what is sent (the recorder).
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import fractions
import glob
import importlib
import logging
import os
import sys
import time
from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.filter import Graph

log = logging.getLogger(__name__)

SAMPLE_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz, the packet time of every codec we offer
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
MAX_LAG = 0.1  # behind the clock by more than this: resynchronise, do not burst

_AIORTC_CODEC_MODULES = ("aiortc.codecs.opus", "aiortc.codecs.g711", "aiortc.codecs.g722")
_AIORTC_RESAMPLER = "AudioResampler"  # the name aiortc's codec modules import from av
_installed = False


class Resampler:
    """Convert audio frames' format/layout/rate (and optionally re-chunk them).

    Same call shape as ``av.AudioResampler`` but single-threaded, and it rebuilds its
    graph when the input changes (a re-INVITE can switch the codec) instead of raising.
    """

    def __init__(self, format: str | None = "s16", layout: str | None = "mono",
                 rate: int | None = SAMPLE_RATE, frame_size: int | None = None) -> None:
        self.format = format
        self.layout = layout
        self.rate = rate
        self.frame_size = frame_size or 0
        self._graph: Graph | None = None
        self._key: tuple[str, str, int] | None = None
        self._passthrough = False

    def _setup(self, frame: av.AudioFrame) -> None:
        self._key = (frame.format.name, frame.layout.name, frame.sample_rate)
        fmt = self.format or frame.format.name
        layout = self.layout or frame.layout.name
        rate = self.rate or frame.sample_rate
        self._passthrough = (
            (fmt, layout, rate) == self._key and not self.frame_size
        )
        self._graph = None
        if self._passthrough:
            return
        graph = Graph()
        graph.threads = 1  # must precede the first filter
        src_args = {
            "sample_rate": str(frame.sample_rate),
            "sample_fmt": frame.format.name,
            "channel_layout": frame.layout.name,
        }
        if frame.time_base is not None:
            src_args["time_base"] = str(frame.time_base)
        src = graph.add("abuffer", **src_args)
        conv = graph.add("aformat", sample_rates=str(rate), sample_fmts=fmt,
                         channel_layouts=layout)
        sink = graph.add("abuffersink")
        src.link_to(conv)
        conv.link_to(sink)
        graph.configure()
        if self.frame_size:
            graph.set_audio_frame_size(self.frame_size)
        self._graph = graph

    def resample(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        if frame is None:
            if self._graph is None:
                return []
        elif self._key != (frame.format.name, frame.layout.name, frame.sample_rate):
            self._setup(frame)
        if self._passthrough:
            return [frame] if frame is not None else []
        assert self._graph is not None
        self._graph.push(frame)
        out: list[av.AudioFrame] = []
        while True:
            try:
                pulled = self._graph.pull()
            except EOFError:
                break
            except av.FFmpegError as exc:
                if exc.errno != errno.EAGAIN:
                    raise
                break
            assert isinstance(pulled, av.AudioFrame)
            out.append(pulled)
        return out


def _libavutil_paths() -> list[str]:
    """Where the libavutil that PyAV uses lives: the mapped file first (Linux), else the
    copies bundled next to the ``av`` package (wheels), else none."""
    paths: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rsplit(None, 1)[-1] if "/" in line else ""
                if "libavutil" in os.path.basename(path) and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    base = os.path.dirname(os.path.dirname(av.__file__))
    for pattern in ("av.libs/libavutil*", "av/.dylibs/libavutil*", "av.libs/avutil*.dll"):
        paths += sorted(glob.glob(os.path.join(base, pattern)))
    return paths


def limit_ffmpeg_threads(count: int = 1) -> bool:
    """Size FFmpeg's automatic thread pools for ``count`` CPUs; True when it took effect.

    Every libavutil mapped is set, not only the first: PortAudio's ALSA plugins (the
    ``lavrate`` resampler) may have loaded the system's copy beside the one PyAV bundles.
    """
    done = False
    for path in _libavutil_paths():
        try:
            lib = ctypes.CDLL(path)
            lib.av_cpu_force_count.argtypes = [ctypes.c_int]
            lib.av_cpu_force_count.restype = None
            lib.av_cpu_force_count(count)
            done = True
        except (OSError, AttributeError) as exc:
            log.debug("cannot set the FFmpeg CPU count through %s: %s", path, exc)
    if not done:
        log.info("FFmpeg thread pools left at one thread per CPU (libavutil not found on "
                 "%s)", sys.platform)
    return done


def install_lean_resamplers() -> None:
    """Keep aiortc's encoders off per-CPU thread pools (once per process)."""
    global _installed
    if _installed:
        return
    limit_ffmpeg_threads(1)
    for name in _AIORTC_CODEC_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, _AIORTC_RESAMPLER):
            setattr(module, _AIORTC_RESAMPLER, Resampler)
    _installed = True
    log.debug("aiortc encoders use single-threaded resamplers")


def make_frame(data: bytes, pts: int, rate: int = SAMPLE_RATE) -> av.AudioFrame:
    """An s16 mono frame from raw little-endian samples."""
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(data) // 2)
    frame.planes[0].update(data)
    frame.sample_rate = rate
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, rate)
    return frame


def silent_like(frame: av.AudioFrame) -> av.AudioFrame:
    """A frame of zeros with the same shape and timing as ``frame``."""
    out = av.AudioFrame(format=frame.format.name, layout=frame.layout.name,
                        samples=frame.samples)
    for plane in out.planes:
        plane.update(bytes(plane.buffer_size))
    out.sample_rate = frame.sample_rate
    out.pts = frame.pts
    out.time_base = frame.time_base
    return out


class PacedAudioTrack(MediaStreamTrack):
    """20 ms frames of 48 kHz mono s16 from ``chunk(samples) -> bytes``, paced in real time.

    When the consumer stops pulling (hold) and comes back, the timestamps jump with the
    wall clock instead of bursting to catch up (RFC 3550 §5.1: the RTP timestamp
    reflects the sampling instant).
    """

    kind = "audio"

    def __init__(self, chunk: Callable[[int], bytes]) -> None:
        super().__init__()
        self._chunk = chunk
        self._start: float | None = None
        self._pts = 0

    async def _pace(self) -> None:
        now = time.monotonic()
        if self._start is None:
            self._start, self._pts = now, 0
            return
        self._pts += FRAME_SAMPLES
        wait = self._start + self._pts / SAMPLE_RATE - now
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -MAX_LAG:
            elapsed = int((now - self._start) * SAMPLE_RATE)
            self._pts = elapsed - elapsed % FRAME_SAMPLES

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._pace()
        return make_frame(self._chunk(FRAME_SAMPLES), self._pts)

    def read_chunk(self, samples: int) -> bytes:
        """The next ``samples`` at once, unpaced: for a sender that keeps its own clock
        (the plain RTP engine's 20 ms tick), with no frame object in between."""
        return self._chunk(samples)


def silence_chunk(samples: int) -> bytes:
    return bytes(2 * samples)


class ControlledTrack(MediaStreamTrack):
    """What the RTP sender reads: the backend's audio, muted or paused on request."""

    kind = "audio"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.source = source
        self.muted = False
        #: Called with each frame handed to the sender (silence when muted): the
        #: recorder's agent channel. Empty unless something records.
        self.taps: list[Callable[[av.AudioFrame], None]] = []
        self._sending = asyncio.Event()
        self._sending.set()

    @property
    def sending(self) -> bool:
        return self._sending.is_set()

    def set_sending(self, sending: bool) -> None:
        if sending:
            self._sending.set()
        else:
            self._sending.clear()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._sending.wait()
        frame = await self.source.recv()
        assert isinstance(frame, av.AudioFrame)
        if self.muted:
            frame = silent_like(frame)
        for tap in self.taps:
            try:
                tap(frame)
            except Exception:  # a failing tap (recorder) must not stop the call's audio
                log.exception("local audio tap failed")
        return frame

    def stop(self) -> None:
        super().stop()
        self.source.stop()
