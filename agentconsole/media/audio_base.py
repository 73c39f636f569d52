"""The audio backend interface, shared by :mod:`.audio` and the backend modules.

Besides audio in and out, every backend offers the hooks the console's devices screen
and its ring tone need: level listeners (a meter for what the agent says and hears),
device selection (only a sound card has devices to choose; the others say so with
:class:`AudioDeviceError`) and ``start_ring``/``stop_ring`` (a backend without a ring
device only records that it would ring).
"""

from __future__ import annotations

import abc
import logging
import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..errors import AgentConsoleError

if TYPE_CHECKING:
    import av
    from aiortc.mediastreams import MediaStreamTrack

    from .ringer import RingTone
    from .tracks import Resampler

log = logging.getLogger(__name__)

SAMPLE_RATE = 48000
#: Levels are measured on every Nth 20 ms frame: 5 gives about 10 reports a second.
LEVEL_EVERY = 5
#: The level reported for digital silence (log of zero has no value).
SILENCE_DBFS = -100.0

DeviceSpec = str | int
LevelListener = Callable[[str, float], None]


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool = False
    is_default_output: bool = False


@dataclass(frozen=True)
class DeviceSelection:
    """The devices a backend plays and captures on; None where it has none."""

    input: DeviceInfo | None = None
    output: DeviceInfo | None = None
    ring: DeviceInfo | None = None


class AudioDeviceError(AgentConsoleError):
    """A device cannot be chosen: the backend has none, or no device matches."""

    default_title = "Audio device"


def rms_dbfs(pcm: bytes) -> float:
    """Level of s16 mono PCM in dB relative to full scale (a full-scale sine is -3)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if not samples:
        return SILENCE_DBFS
    power = sum(s * s for s in samples) / len(samples)
    if power <= 0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 10 * math.log10(power / (32768.0 * 32768.0)))


class PcmSource(Protocol):
    """What a sender pulls: ``read(samples)`` of s16 mono PCM; ``close()`` when done."""

    rate: int

    def read(self, samples: int) -> bytes: ...

    def close(self) -> None: ...


class ChunkSource:
    """A :class:`PcmSource` over a ``chunk(samples) -> bytes`` function."""

    def __init__(self, chunk: Callable[[int], bytes], rate: int,
                 close: Callable[[], None] | None = None) -> None:
        self.rate = rate
        self.read = chunk
        self._close = close

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None


class TrackSource:
    """A :class:`PcmSource` reading a 48 kHz source track unpaced, converted to ``rate``."""

    def __init__(self, track: MediaStreamTrack, rate: int) -> None:
        self.rate = rate
        self._track = track
        self._chunk: Callable[[int], bytes] = getattr(track, "read_chunk")  # noqa: B009
        self._resampler: Resampler | None = None
        self._fifo = bytearray()
        self._pts = 0
        if rate != SAMPLE_RATE:
            from .tracks import Resampler

            self._resampler = Resampler("s16", "mono", rate)

    def read(self, samples: int) -> bytes:
        if self._resampler is None:
            return self._chunk(samples)
        from .tracks import make_frame

        while len(self._fifo) < 2 * samples:
            want = max(1, samples * SAMPLE_RATE // self.rate)
            frame = make_frame(self._chunk(want), self._pts, SAMPLE_RATE)
            self._pts += want
            for part in self._resampler.resample(frame):
                self._fifo += bytes(part.planes[0])[:part.samples * 2]
        out = bytes(self._fifo[:2 * samples])
        del self._fifo[:2 * samples]
        return out

    def close(self) -> None:
        self._track.stop()


class AudioBackend(abc.ABC):
    """Audio in and out for calls; one instance may serve several calls.

    ``source_track()`` gives each call its own track of 20 ms, 48 kHz mono s16 frames
    paced in real time. ``play()`` takes decoded frames in any rate/layout; the
    resamplers that convert them are shared per input format, single-threaded.
    """

    name: str = "base"
    #: True when ``start_ring``/``stop_ring`` open or close a device (run them off the loop).
    ring_blocks: bool = False
    #: True when :meth:`_play` drops what it gets (no device, no file).
    discards: bool = False

    def __init__(self) -> None:
        self.description: str = ""
        self.notice: str | None = None
        self.frames_played = 0
        self._resamplers: dict[tuple[str, str, int, int], Resampler] = {}
        self._closed = False
        self._level_listeners: list[LevelListener] = []
        self._level_counts = {"input": 0, "output": 0}
        #: The tone being rung (or that would ring, without a ring device); None if quiet.
        self.ringing: RingTone | None = None
        self.ring_starts = 0

    @abc.abstractmethod
    def source_track(self) -> MediaStreamTrack:
        """A new track of what the agent says."""

    def pcm_source(self, rate: int) -> PcmSource:
        """A new source of what the agent says, s16 mono at ``rate``, pulled by a sender
        that keeps its own clock (the plain RTP engine): no track, no frame objects.

        Backends that can make audio at any rate (null, tone, file, a sound card's
        capture tap) override this so a G.711 call does not resample 48 kHz down to 8;
        the default reads the 48 kHz track and converts.
        """
        return TrackSource(self.source_track(), rate)

    def play(self, frame: av.AudioFrame) -> None:
        """Take one decoded frame of what the agent hears."""
        self.frames_played += 1
        if self._level_listeners:
            self._meter_frame(frame)
        if not self._closed:
            self._play(frame)

    def _play(self, frame: av.AudioFrame) -> None:  # noqa: B027 - default is discard
        """Subclasses that output audio override this."""

    def play_pcm(self, pcm: bytes, rate: int) -> None:
        """:meth:`play` for s16 mono PCM at ``rate``; a backend that discards what it
        plays (``discards = True``) counts and meters it without building a frame."""
        if self.discards:
            self.frames_played += 1
            if self._level_listeners:
                self._meter("output", pcm)
            return
        from .tracks import make_frame

        self.play(make_frame(pcm, 0, rate))

    def to_pcm(self, frame: av.AudioFrame, rate: int = SAMPLE_RATE) -> bytes:
        """The frame as s16 mono bytes at ``rate``, through a shared resampler."""
        from .tracks import Resampler

        key = (frame.format.name, frame.layout.name, frame.sample_rate, rate)
        resampler = self._resamplers.get(key)
        if resampler is None:
            resampler = self._resamplers[key] = Resampler("s16", "mono", rate)
        out = bytearray()
        for part in resampler.resample(frame):
            out += bytes(part.planes[0])[: part.samples * 2]
        return bytes(out)

    # ----- level meter ---------------------------------------------------------------
    def add_level_listener(self, listener: LevelListener) -> None:
        """Call ``listener("input" | "output", dbfs)`` about 10 times a second per stream.

        "input" is what the call tracks take from this backend (the agent's voice,
        before mute), "output" what :meth:`play` receives. Listeners run on the event
        loop, inside the media path: they must be quick. Nothing is measured while no
        listener is registered.
        """
        if listener not in self._level_listeners:
            self._level_listeners.append(listener)

    def remove_level_listener(self, listener: LevelListener) -> None:
        if listener in self._level_listeners:
            self._level_listeners.remove(listener)

    def metered(self, chunk: Callable[[int], bytes]) -> Callable[[int], bytes]:
        """Wrap a track's ``chunk(samples) -> bytes`` so the input meter sees it."""

        def read(samples: int) -> bytes:
            pcm = chunk(samples)
            if self._level_listeners:
                self._meter("input", pcm)
            return pcm

        return read

    def _meter(self, direction: str, pcm: bytes) -> None:
        count = self._level_counts[direction] = self._level_counts[direction] + 1
        if (count - 1) % LEVEL_EVERY:  # the first frame reports at once
            return
        self._report_level(direction, rms_dbfs(pcm))

    def _meter_frame(self, frame: av.AudioFrame) -> None:
        count = self._level_counts["output"] = self._level_counts["output"] + 1
        if (count - 1) % LEVEL_EVERY:
            return
        if frame.format.name != "s16":  # decoders give s16; converting just to meter is waste
            return
        channels = len(frame.layout.channels)
        samples = array("h")
        samples.frombytes(bytes(frame.planes[0])[: frame.samples * channels * 2])
        mono = samples if channels == 1 else samples[::channels]
        self._report_level("output", rms_dbfs(mono.tobytes()))

    def _report_level(self, direction: str, dbfs: float) -> None:
        for listener in list(self._level_listeners):
            try:
                listener(direction, dbfs)
            except Exception:  # a meter must never cost a call its audio
                log.exception("audio level listener failed")

    # ----- devices ---------------------------------------------------------------------
    def selected_devices(self) -> DeviceSelection:
        """The devices in use; a backend without a sound card has none."""
        return DeviceSelection()

    def set_devices(self, input: DeviceSpec | None = None, output: DeviceSpec | None = None,
                    ring: DeviceSpec | None = None) -> None:
        """Switch devices while calls run; only a sound card has devices to choose."""
        why = f" ({self.notice})" if self.notice else ""
        raise AudioDeviceError(
            f"the {self.name!r} audio backend has no devices to choose{why}")

    # ----- ring tone ---------------------------------------------------------------------
    @property
    def has_ring_device(self) -> bool:
        """True when :meth:`start_ring` makes a sound (a sound card)."""
        return False

    def start_ring(self, tone: RingTone) -> None:
        """Ring ``tone`` until :meth:`stop_ring`; without a ring device, only record it."""
        if self.ringing is None:
            self.ring_starts += 1
        self.ringing = tone

    def stop_ring(self) -> None:
        self.ringing = None

    async def close(self) -> None:
        self._closed = True
        self._resamplers.clear()
        self._level_listeners.clear()
        self.stop_ring()
