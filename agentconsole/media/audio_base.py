"""The audio backend interface, shared by :mod:`.audio` and the backend modules."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import av
    from aiortc.mediastreams import MediaStreamTrack

    from .tracks import Resampler

SAMPLE_RATE = 48000


class AudioBackend(abc.ABC):
    """Audio in and out for calls; one instance may serve several calls.

    ``source_track()`` gives each call its own track of 20 ms, 48 kHz mono s16 frames
    paced in real time. ``play()`` takes decoded frames in any rate/layout; the
    resamplers that convert them are shared per input format, single-threaded.
    """

    name: str = "base"

    def __init__(self) -> None:
        self.description: str = ""
        self.notice: str | None = None
        self.frames_played = 0
        self._resamplers: dict[tuple[str, str, int, int], Resampler] = {}
        self._closed = False

    @abc.abstractmethod
    def source_track(self) -> MediaStreamTrack:
        """A new track of what the agent says."""

    def play(self, frame: av.AudioFrame) -> None:
        """Take one decoded frame of what the agent hears."""
        self.frames_played += 1
        if not self._closed:
            self._play(frame)

    def _play(self, frame: av.AudioFrame) -> None:  # noqa: B027 - default is discard
        """Subclasses that output audio override this."""

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

    async def close(self) -> None:
        self._closed = True
        self._resamplers.clear()
