"""Waiting for conditions in asyncio tests, never for a fixed wall-clock span.

A test that needs something to have happened (media to flow, a digit to arrive, a
transport to reconnect) waits for exactly that, with a timeout that only turns a hang
into a failure. A test that needs a span of *audio* to pass (a silent stretch of a
recording, no packets during hold) measures it in frames of media, which is the
system's own clock for those properties.

:func:`wait_until` is the one place that polls: it re-checks the predicate every
:data:`POLL_S` seconds. The poll is short so a met condition is noticed within a
fraction of a 20 ms audio frame; it never decides *when* a test goes on, the predicate
does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

#: Interval between two checks of a predicate (the only timed sleep in the helpers).
POLL_S = 0.01
#: One audio frame of the media stack: 20 ms, so 50 frames are one second of audio.
FRAME_S = 0.02


class CountsFrames(Protocol):
    """Anything with a running count of received audio frames (a ``MediaSession``)."""

    @property
    def frames_received(self) -> int: ...


async def wait_until(predicate: Callable[[], object], timeout: float = 5.0,
                     what: str = "the condition") -> None:
    """Return as soon as ``predicate()`` is true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(POLL_S)


async def frames_flow(media: CountsFrames, n: int, timeout: float = 5.0) -> int:
    """Wait until ``media`` received ``n`` more frames than now; return the new count.

    ``n`` frames are ``n * 20 ms`` of the remote's audio: the way to let a span of
    media time pass while the other side is sending.
    """
    start = media.frames_received
    await wait_until(lambda: media.frames_received >= start + n, timeout,
                     f"{n} more received audio frames (from {start})")
    return media.frames_received


async def audio_clock(frames: int) -> None:
    """Let ``frames`` frames of paced audio time pass when nobody sends (hold).

    The frames come from the same real-time pacer that feeds every sender
    (``PacedAudioTrack``), so the span is the one a sender would have filled.
    """
    from agentconsole.media.audio import NullBackend

    track = NullBackend().source_track()
    try:
        for _ in range(frames + 1):  # the first frame starts the clock
            await track.recv()
    finally:
        track.stop()
