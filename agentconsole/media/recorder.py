"""Local call recording: one stereo WAV per recording, left = agent, right = customer.

Guarantees (``reference/reliability.md`` §5) and how they are met:

- **Format**: 16 kHz, 16-bit, 2 channels (64 kB/s, ~230 MB an hour). 16 kHz keeps the
  wideband part of Opus/G.722 speech that 8 kHz would drop, at a third of 48 kHz's size.
- **One timeline**: a frame clock. Each 20 ms slot from ``start`` gets exactly one
  frame per channel, taken from what the taps delivered, or silence when nothing came
  (hold, loss, DTX). Audio is placed at its arrival time (within a 40 ms jitter
  allowance) and slots are written ``LATENCY_S`` behind the clock so audio that
  arrives a little late still lands in its slot; a channel's lead is capped so the
  two stay aligned. Paused spans are written as silence, so the file lasts exactly
  from ``start`` to ``stop`` (±1 frame).
- **Crash-safe**: samples are written straight to the file descriptor (no user-space
  buffer) and the RIFF and data sizes are patched in place at most ``HEADER_EVERY_S``
  after new data and at stop, so after ``kill -9`` the header never claims more than
  the file holds and ``wave`` opens it.
- **Privacy**: files are created 0600 (``O_EXCL | O_NOFOLLOW``) in a 0700 directory;
  names come from the local clock, the call direction, the dialled/caller number
  reduced to ``[0-9A-Za-z+_-]`` (max 32) and a hash of the Call-ID, and the final path
  is checked to be inside the directory.
- **Errors** (EACCES, ENOSPC, ...) stop the recording, keep what was written valid,
  and are reported through ``on_error``; the call is not affected.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import re
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import av

    from .interface import MediaTaps

log = logging.getLogger(__name__)

RATE = 16000
CHANNELS = 2
FRAME_S = 0.02
FRAME_SAMPLES = int(RATE * FRAME_S)  # 320 per channel
LATENCY_S = 0.06
GAP_SAMPLES = int(RATE * 0.04)
MAX_LEAD_SAMPLES = int(RATE * 0.1)
HEADER_EVERY_S = 0.5
HEADER_BYTES = 44
LEFT, RIGHT = 0, 1
_SILENCE = bytes(FRAME_SAMPLES * 2)
_UNSAFE = re.compile(r"[^0-9A-Za-z+_-]")


class RecordingError(OSError):
    """The recording could not be created or written."""

    @staticmethod
    def describe(exc: OSError, path: str) -> str:
        """A message an agent can act on (disk full, permissions, ...)."""
        return _describe(exc, path)


# ----- names and files ------------------------------------------------------------------
def sanitize(text: str, limit: int = 32) -> str:
    """Keep ``[0-9A-Za-z+_-]`` only (no path separators, dots or control characters)."""
    return _UNSAFE.sub("", text)[:limit]


def recording_name(started: float, direction: str, number: str, call_id: str) -> str:
    """``YYYYmmdd-HHMMSS_<direction>_<number>_<hash>.wav`` from local data only."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    digest = hashlib.sha256(call_id.encode("utf-8", "replace")).hexdigest()[:10]
    return (f"{stamp}_{sanitize(direction, 16) or 'call'}_"
            f"{sanitize(number) or 'unknown'}_{digest}.wav")


def wav_header(data_bytes: int) -> bytes:
    """The 44-byte RIFF/WAVE header for 16-bit PCM at :data:`RATE`, :data:`CHANNELS`."""
    block = CHANNELS * 2
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, CHANNELS, RATE, RATE * block, block, 16)
            + b"data" + struct.pack("<I", data_bytes))


def _describe(exc: OSError, path: str) -> str:
    if exc.errno == errno.ENOSPC:
        return f"recording stopped: the disk is full ({path})"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"recording stopped: no permission to write {path}"
    return f"recording stopped: {exc.strerror or exc} ({path})"


def create_file(directory: str, name: str) -> tuple[int, str]:
    """Open a new 0600 file ``name`` in ``directory`` (made 0700 if missing).

    ``name`` must already be sanitized; it is still checked to be a plain file name.
    An existing file or symlink is never opened (``O_EXCL``): ``-2``, ``-3`` ... are
    appended instead.
    """
    os.makedirs(directory, mode=0o700, exist_ok=True)
    base = os.path.realpath(directory)
    stem, ext = os.path.splitext(name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    for attempt in range(1, 100):
        candidate = name if attempt == 1 else f"{stem}-{attempt}{ext}"
        path = os.path.join(base, candidate)
        if (os.path.basename(candidate) != candidate or candidate.startswith(".")
                or os.path.dirname(os.path.abspath(path)) != base):
            raise RecordingError(errno.EINVAL, "recording name escapes the directory", path)
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            continue
        os.fchmod(fd, 0o600)  # whatever the umask
        return fd, path
    raise RecordingError(errno.EEXIST, "too many recordings with the same name", name)


class _Channel:
    """Samples waiting for their slot, placed on the file's timeline.

    ``pos`` is the sample index (from the recording's start) of ``buffer[0]``. Audio
    is appended in arrival order; when it arrives more than ``GAP_SAMPLES`` later
    than the end of what is buffered (loss, hold, DTX, or the first frame), silence
    is inserted so it lands at its arrival time; when the buffer runs more than
    ``MAX_LEAD_SAMPLES`` ahead of the clock (a burst), the oldest samples are dropped.
    """

    __slots__ = ("buffer", "pos", "realign")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.pos = 0
        self.realign = True

    @property
    def end(self) -> int:
        return self.pos + len(self.buffer) // 2

    def push(self, pcm: bytes, arrival: int) -> None:
        behind = arrival - self.end
        if behind > GAP_SAMPLES or (self.realign and behind > 0):
            self.buffer += bytes(2 * behind)
        self.realign = False
        self.buffer += pcm
        ahead = self.end - arrival - len(pcm) // 2 - MAX_LEAD_SAMPLES
        if ahead > 0:
            del self.buffer[: 2 * ahead]

    def take(self, slot_start: int) -> bytes:
        """The samples of slot ``[slot_start, slot_start + FRAME_SAMPLES)``, silence-filled."""
        skip = min(FRAME_SAMPLES, max(0, self.pos - slot_start))
        count = min(FRAME_SAMPLES - skip, len(self.buffer) // 2)
        chunk = bytes(self.buffer[: 2 * count])
        del self.buffer[: 2 * count]
        self.pos = max(self.pos + count, slot_start + FRAME_SAMPLES)
        return _SILENCE[: 2 * skip] + chunk + _SILENCE[: 2 * (FRAME_SAMPLES - skip - count)]


def _interleave(left: bytes, right: bytes) -> bytes:
    out = bytearray(len(left) * 2)
    out[0::4], out[1::4] = left[0::2], left[1::2]
    out[2::4], out[3::4] = right[0::2], right[1::2]
    return bytes(out)


class Recorder:
    """The frame clock and the WAV file; the caller supplies ``now`` (no clock reads).

    States: "recording", "pause", "stop" (final, also after an error).
    """

    def __init__(self, fd: int, path: str, start: float, *,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.start = start
        self.state = "recording"
        self.error: str | None = None
        self.on_error = on_error
        self._fd: int | None = fd
        self._channels = (_Channel(), _Channel())
        self._frames = 0  # slots written
        self._data_bytes = 0
        self._pauses: list[list[float]] = []  # [begin, end or inf]
        self._header_at = start
        self._header_dirty = False
        self._write(wav_header(0))

    @property
    def frames_written(self) -> int:
        return self._frames

    @property
    def duration_s(self) -> float:
        return self._frames * FRAME_S

    def _paused_at(self, t: float) -> bool:
        return any(b <= t < e for b, e in self._pauses)

    # ----- input ---------------------------------------------------------------------------
    def push(self, channel: int, pcm: bytes, now: float) -> None:
        """16 kHz mono s16 samples for LEFT (agent) or RIGHT (customer)."""
        if self.state != "recording":
            return
        self._channels[channel].push(pcm, round((now - self.start) * RATE))

    def pause(self, now: float) -> None:
        if self.state == "recording":
            self._pauses.append([now, float("inf")])
            self.state = "pause"

    def resume(self, now: float) -> None:
        if self.state == "pause":
            self._pauses[-1][1] = now
            self.state = "recording"
            for ch in self._channels:  # the next audio lands at its arrival time
                ch.realign = True

    # ----- output --------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Write every slot that ended ``LATENCY_S`` or more ago."""
        if self.state != "stop":
            self._write_until(int((now - LATENCY_S - self.start) / FRAME_S), now)

    def stop(self, now: float) -> None:
        """Write up to ``now`` (paused time as silence), fix the header, close."""
        if self.state == "stop" or self._fd is None:
            return
        if self.state == "pause":
            self.resume(now)
        self._write_until(round((now - self.start) / FRAME_S), now)
        if self._fd is not None:
            self._patch_header(now)
            self._close()
        self.state = "stop"

    def _write_until(self, slots: int, now: float) -> None:
        if slots <= self._frames or self._fd is None:
            return
        out = bytearray()
        for slot in range(self._frames, slots):
            mid = self.start + (slot + 0.5) * FRAME_S
            first = slot * FRAME_SAMPLES
            left = self._channels[LEFT].take(first)
            right = self._channels[RIGHT].take(first)
            if self._paused_at(mid):
                left = right = _SILENCE
            out += _interleave(left, right)
        if self._write(bytes(out)):
            self._frames = slots
            self._data_bytes += len(out)
            self._header_dirty = True
            self._pauses = [p for p in self._pauses
                            if p[1] > self.start + self._frames * FRAME_S]
            if now - self._header_at >= HEADER_EVERY_S:
                self._patch_header(now)

    def _write(self, data: bytes) -> bool:
        assert self._fd is not None
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            self._fail(exc)
            return False
        return True

    def _patch_header(self, now: float) -> None:
        if self._fd is None or not self._header_dirty:
            return
        try:
            os.pwrite(self._fd, struct.pack("<I", 36 + self._data_bytes), 4)
            os.pwrite(self._fd, struct.pack("<I", self._data_bytes), 40)
        except OSError as exc:
            self._fail(exc)
            return
        self._header_at = now
        self._header_dirty = False

    def _fail(self, exc: OSError) -> None:
        self.error = _describe(exc, self.path)
        log.warning("%s", self.error)
        self.state = "stop"
        fd, self._fd = self._fd, None
        if fd is not None:
            try:  # keep what was written playable
                os.pwrite(fd, struct.pack("<I", 36 + self._data_bytes), 4)
                os.pwrite(fd, struct.pack("<I", self._data_bytes), 40)
            except OSError:
                pass
            os.close(fd)
        if self.on_error is not None:
            self.on_error(self.error)

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:  # no fsync: it can stall the event loop; it only helps on power loss
            os.close(fd)


class FrameTap:
    """An ``av.AudioFrame`` callback feeding one recorder channel at 16 kHz mono."""

    def __init__(self, recorder: Recorder, channel: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from .tracks import Resampler

        self.recorder = recorder
        self.channel = channel
        self.clock = clock
        self._resampler = Resampler("s16", "mono", RATE)

    def __call__(self, frame: av.AudioFrame) -> None:
        if self.recorder.state != "recording":
            return
        pcm = bytearray()
        for part in self._resampler.resample(frame):
            pcm += bytes(part.planes[0])[: part.samples * 2]
        self.recorder.push(self.channel, bytes(pcm), self.clock())


class LiveRecording:
    """A :class:`Recorder` on a call: taps on both directions, ticked from the loop.

    The taps only append samples; the file is written by a task every
    ``TICK_S``, so the media path pays one resampling per frame and nothing else.
    """

    TICK_S = 0.1

    def __init__(self, media: MediaTaps, fd: int, path: str, *,
                 on_error: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.media = media
        self.clock = clock
        self._on_error = on_error
        self.recorder = Recorder(fd, path, clock(), on_error=self._failed)
        self._left = FrameTap(self.recorder, LEFT, clock)
        self._right = FrameTap(self.recorder, RIGHT, clock)
        self._task: asyncio.Task[None] | None = None
        if self.recorder.state == "stop":
            return
        media.add_local_tap(self._left)
        media.add_remote_tap(self._right)
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def state(self) -> str:
        return self.recorder.state

    @property
    def path(self) -> str:
        return self.recorder.path

    async def _run(self) -> None:
        while self.recorder.state != "stop":
            await asyncio.sleep(self.TICK_S)
            self.recorder.tick(self.clock())

    def _failed(self, message: str) -> None:
        if self._on_error is not None:
            self._on_error(message)

    def pause(self) -> None:
        self.recorder.pause(self.clock())

    def resume(self) -> None:
        self.recorder.resume(self.clock())

    def move_to(self, media: MediaTaps) -> None:
        """Listen to another media engine of the same call (a re-INVITE changed the
        media profile): the file, its pause state and its clock go on."""
        self.media.remove_local_tap(self._left)
        self.media.remove_remote_tap(self._right)
        self.media = media
        media.add_local_tap(self._left)
        media.add_remote_tap(self._right)

    def detach(self) -> None:
        """Stop feeding and ticking (the file is left as it is)."""
        self.media.remove_local_tap(self._left)
        self.media.remove_remote_tap(self._right)
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self._task = None

    def stop(self) -> None:
        self.detach()
        self.recorder.stop(self.clock())
