"""WAV file audio: a looping WAV as the agent's voice, the caller written to a WAV.

:class:`WavWriter` keeps the RIFF header valid while it writes (sizes patched at most
once per ``patch_interval`` and on close), so a killed process still leaves a playable
file; files are created 0600 since they hold call audio.
"""

from __future__ import annotations

import logging
import os
import struct
import time
import wave
from typing import TYPE_CHECKING

from .audio_base import SAMPLE_RATE, AudioBackend, ChunkSource, PcmSource
from .tone import PcmLoop

if TYPE_CHECKING:
    import av
    from aiortc.mediastreams import MediaStreamTrack

log = logging.getLogger(__name__)

MAX_INPUT_SECONDS = 600  # a looping prompt, not an audiobook: bound the memory


class WavWriter:
    """Streaming PCM s16 WAV writer with a header that stays valid (RIFF/WAVE, 44 bytes)."""

    def __init__(self, path: str, rate: int = SAMPLE_RATE, channels: int = 1,
                 patch_interval: float = 1.0) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file = os.fdopen(fd, "wb")
        self.path = path
        self.rate = rate
        self.channels = channels
        self.patch_interval = patch_interval
        self.data_bytes = 0
        self._last_patch = time.monotonic()
        self._file.write(self._header())
        self._file.flush()

    def _header(self) -> bytes:
        block = 2 * self.channels
        return b"".join([
            b"RIFF", struct.pack("<I", 36 + self.data_bytes), b"WAVE",
            b"fmt ", struct.pack("<IHHIIHH", 16, 1, self.channels, self.rate,
                                 self.rate * block, block, 16),
            b"data", struct.pack("<I", self.data_bytes),
        ])

    def write(self, pcm: bytes) -> None:
        if self._file.closed or not pcm:
            return
        self._file.write(pcm)
        self.data_bytes += len(pcm)
        if time.monotonic() - self._last_patch >= self.patch_interval:
            self.patch()

    def patch(self) -> None:
        """Rewrite the sizes in the header and flush, so the file is complete as it is."""
        if self._file.closed:
            return
        self._file.seek(0)
        self._file.write(self._header())
        self._file.seek(0, os.SEEK_END)
        self._file.flush()
        self._last_patch = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self.patch()
            self._file.close()


def read_wav_pcm(path: str, rate: int = SAMPLE_RATE) -> bytes:
    """A 16-bit PCM WAV as mono s16 bytes at ``rate`` (converted when it is not)."""
    with wave.open(path, "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getcomptype() != "NONE":
            raise ValueError(f"{path}: only 16-bit PCM WAV files are supported")
        src_rate, channels = wav.getframerate(), wav.getnchannels()
        pcm = wav.readframes(min(wav.getnframes(), src_rate * MAX_INPUT_SECONDS))
    if channels == 1 and src_rate == rate:
        return pcm
    import av

    from .tracks import Resampler

    layout = "mono" if channels == 1 else "stereo"
    if channels > 2:
        raise ValueError(f"{path}: {channels} channels; use a mono or stereo WAV")
    frame = av.AudioFrame(format="s16", layout=layout, samples=len(pcm) // (2 * channels))
    frame.planes[0].update(pcm)
    frame.sample_rate = src_rate
    resampler = Resampler("s16", "mono", rate)
    out = bytearray()
    for part in [*resampler.resample(frame), *resampler.resample(None)]:
        out += bytes(part.planes[0])[: part.samples * 2]
    return bytes(out)


class FileBackend(AudioBackend):
    """WAV in (looped; silence when none) and WAV out (mono 48 kHz s16)."""

    name = "file"

    def __init__(self, file_in: str | None = None, file_out: str | None = None) -> None:
        super().__init__()
        self.file_in = file_in
        self.file_out = file_out
        self._pcm = read_wav_pcm(file_in) if file_in else b""
        self._by_rate: dict[int, bytes] = {SAMPLE_RATE: self._pcm}
        self._writer = WavWriter(file_out) if file_out else None
        parts = [f"playing {file_in}" if file_in else "silence out"]
        parts.append(f"recording the caller to {file_out}" if file_out else "caller not played")
        self.description = "; ".join(parts)

    def source_track(self) -> MediaStreamTrack:
        from .tracks import PacedAudioTrack, silence_chunk

        if not self._pcm:
            return PacedAudioTrack(self.metered(silence_chunk))
        return PacedAudioTrack(self.metered(PcmLoop(self._pcm).next_chunk))

    def pcm_source(self, rate: int) -> PcmSource:
        from .tracks import silence_chunk

        if not self.file_in:
            return ChunkSource(self.metered(silence_chunk), rate)
        pcm = self._by_rate.get(rate)
        if pcm is None:  # the WAV at this rate, once: a loop needs no per-call resampling
            pcm = self._by_rate[rate] = read_wav_pcm(self.file_in, rate)
        return ChunkSource(self.metered(PcmLoop(pcm).next_chunk), rate)

    def _play(self, frame: av.AudioFrame) -> None:
        if self._writer is not None:
            self._writer.write(self.to_pcm(frame))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        await super().close()
