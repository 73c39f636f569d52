"""Buffers between a device thread and the calls: one capture tap per call track, the
shared playback buffer, and mixing the ring tone into it.

Used by every backend that talks to real audio (PortAudio in :mod:`.audio_sd`,
PulseAudio in :mod:`.audio_pulse`): the device side runs in its own thread at the
device's rate, the call side on the event loop at 48 kHz. Every buffer is bounded, so
a stalled consumer costs at most ``MAX_BUFFER_SECONDS`` of latency, never memory.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING

from .audio_base import SAMPLE_RATE, ChunkSource, PcmSource

if TYPE_CHECKING:
    from aiortc.mediastreams import MediaStreamTrack

    from .tracks import Resampler

MAX_BUFFER_SECONDS = 0.2
#: Captured audio older than this behind the track is dropped: a call's track starts
#: pulling only once its media is up, and what the device captured before would
#: otherwise stay as a constant extra delay for the whole call.
MAX_CAPTURE_LAG_S = 0.04


class CaptureTap:
    """Captured audio for one call: raw at the device rate, then at the call's ``rate``
    (48 kHz for a WebRTC track; a plain-RTP call's codec rate, so G.711 resamples once).

    The device thread calls :meth:`push` (under the backend's lock); the call's track
    or RTP sender calls :meth:`read` on the event loop.
    """

    def __init__(self, device_rate: int, lock: threading.Lock,
                 rate: int = SAMPLE_RATE) -> None:
        from .tracks import Resampler

        self.raw = bytearray()
        self.ready = bytearray()
        self.device_rate = device_rate
        self.rate = rate
        self.resampler: Resampler = Resampler("s16", "mono", rate)
        self._lock = lock

    def push(self, data: bytes) -> None:
        """Append captured PCM (caller holds the lock); the oldest is dropped past the bound."""
        limit = int(self.device_rate * MAX_BUFFER_SECONDS) * 2
        self.raw += data
        if len(self.raw) > limit:
            del self.raw[: len(self.raw) - limit]

    def read(self, samples: int) -> bytes:
        """``samples`` of s16 mono at the tap's rate, padded with silence when the device
        is behind."""
        from .tracks import make_frame

        with self._lock:
            raw = bytes(self.raw)
            self.raw.clear()
        if raw:
            frame = make_frame(raw, 0, self.device_rate)
            frame.pts = None
            for part in self.resampler.resample(frame):
                self.ready += bytes(part.planes[0])[: part.samples * 2]
        need = samples * 2
        excess = len(self.ready) - need - int(self.rate * MAX_CAPTURE_LAG_S) * 2
        if excess > 0:
            del self.ready[: excess - excess % 2]
        chunk = bytes(self.ready[:need])
        del self.ready[:need]
        return chunk + bytes(need - len(chunk))


def add_tap(taps: list[CaptureTap], lock: threading.Lock, device_rate: int, rate: int,
            added: Callable[[], None] | None = None) -> tuple[CaptureTap, Callable[[], None]]:
    """A new tap in ``taps`` (under ``lock``; ``added`` runs there too, to wake a capture
    thread) and the function that removes it."""
    tap = CaptureTap(device_rate, lock, rate)
    with lock:
        taps.append(tap)
        if added is not None:
            added()

    def remove() -> None:
        with lock:
            if tap in taps:
                taps.remove(tap)

    return tap, remove


def capture_track(taps: list[CaptureTap], lock: threading.Lock, device_rate: int,
                  metered: Callable[[Callable[[int], bytes]], Callable[[int], bytes]],
                  added: Callable[[], None] | None = None) -> MediaStreamTrack:
    """A call's 48 kHz track of captured audio, its tap removed when the track ends."""
    from .tracks import PacedAudioTrack

    tap, remove = add_tap(taps, lock, device_rate, SAMPLE_RATE, added)
    track = PacedAudioTrack(metered(tap.read))
    track.on("ended", remove)
    return track


def capture_source(taps: list[CaptureTap], lock: threading.Lock, device_rate: int, rate: int,
                   metered: Callable[[Callable[[int], bytes]], Callable[[int], bytes]],
                   added: Callable[[], None] | None = None) -> PcmSource:
    """Captured audio at ``rate`` for a plain-RTP sender (no track, no frames); closing
    the source removes its tap."""
    tap, remove = add_tap(taps, lock, device_rate, rate, added)
    return ChunkSource(metered(tap.read), rate, remove)


def bounded_append(buffer: bytearray, pcm: bytes, rate: int) -> None:
    """Queue ``pcm`` for playback, keeping at most ``MAX_BUFFER_SECONDS`` at ``rate``."""
    limit = int(rate * MAX_BUFFER_SECONDS) * 2
    buffer += pcm
    if len(buffer) > limit:
        del buffer[: len(buffer) - limit]


def take(buffer: bytearray, size: int, keep: int | None = None) -> bytes:
    """The first ``size`` bytes of ``buffer`` (removed), padded with silence. With
    ``keep``, at most that many bytes stay queued behind them (older ones are dropped),
    so a backlog built while a stream was opening does not delay the rest of a call."""
    if keep is not None and len(buffer) > size + keep:
        del buffer[: len(buffer) - size - keep]
    chunk = bytes(buffer[:size])
    del buffer[:size]
    return chunk + bytes(size - len(chunk))


def mix(a: bytes, b: bytes) -> bytes:
    """Sum two equal-length s16 buffers with clipping (runs in a device thread)."""
    if not any(a):
        return b
    left, right = array("h"), array("h")
    left.frombytes(a)
    right.frombytes(b)
    return array("h", (max(-32768, min(32767, x + y))
                       for x, y in zip(left, right, strict=True))).tobytes()
