"""The audio codecs of the plain RTP path: PCMU, PCMA, G.722, Opus (RFC 3551, RFC 7587).

G.711 goes through the C functions of ``audioop`` (the standard library up to Python
3.12, the ``audioop-lts`` package from 3.13): under a microsecond per 20 ms frame
(reference/performance.md §2b), bit-exact with every other G.711 implementation. G.722
and Opus go through FFmpeg's codecs in PyAV, the same libraries aiortc uses, but mono
(a phone call is mono: Opus is sent as one channel, which RFC 7587 §7 allows whatever
``/2`` the rtpmap says) and at a voice bit rate.

PCM in and out is 16-bit little-endian mono at the codec's own sample rate
(:attr:`CodecSpec.sample_rate`), which for G.722 is not its RTP clock rate (16 kHz
audio on an 8 kHz RTP clock, RFC 3551 §4.5.2).
"""

from __future__ import annotations

import fractions
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, cast

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

if TYPE_CHECKING:
    from av.audio.codeccontext import AudioCodecContext

_threads_limited = False
OPUS_BITRATE = 32000  # wideband voice, RFC 7587 §3.1.1 recommends 28-40 kbit/s for FB speech


@dataclass(frozen=True)
class CodecSpec:
    """One codec as SDP names it (``a=rtpmap``, RFC 8866 §6.6) and as we run it."""

    name: str  # config spelling: "PCMU", "PCMA", "G722", "opus"
    clock_rate: int  # RTP clock
    sample_rate: int  # PCM rate of the encoder/decoder
    channels: int  # as written in the rtpmap
    static_pt: int | None = None  # RFC 3551 §6
    default_pt: int | None = None  # the dynamic PT we offer
    fmtp: str | None = None  # what we ask for in our offers/answers

    @property
    def rtpmap(self) -> str:
        base = f"{self.name}/{self.clock_rate}"
        return f"{base}/{self.channels}" if self.channels != 1 else base

    @property
    def offer_pt(self) -> int:
        pt = self.static_pt if self.static_pt is not None else self.default_pt
        assert pt is not None
        return pt

    def samples(self, seconds: float) -> int:
        return round(self.sample_rate * seconds)

    def rtp_units(self, samples: int) -> int:
        """RTP timestamp increment for ``samples`` of PCM at the codec's rate."""
        return samples * self.clock_rate // self.sample_rate


PCMU = CodecSpec("PCMU", 8000, 8000, 1, static_pt=0)
PCMA = CodecSpec("PCMA", 8000, 8000, 1, static_pt=8)
G722 = CodecSpec("G722", 8000, 16000, 1, static_pt=9)
OPUS = CodecSpec("opus", 48000, 48000, 2, default_pt=111,
                 fmtp="minptime=10;useinbandfec=1;stereo=0;sprop-stereo=0")
CODECS: dict[str, CodecSpec] = {c.name.lower(): c for c in (OPUS, G722, PCMU, PCMA)}


def codec_for(encoding: str) -> CodecSpec | None:
    """The codec an rtpmap encoding names ("pcmu/8000", "OPUS/48000/2"), None if unknown
    or at a clock rate we do not run."""
    parts = encoding.strip().split("/")
    spec = CODECS.get(parts[0].lower())
    if spec is None:
        return None
    if len(parts) > 1 and parts[1].strip() != str(spec.clock_rate):
        return None
    return spec


class Encoder(Protocol):
    spec: CodecSpec

    def encode(self, pcm: bytes) -> bytes: ...


class Decoder(Protocol):
    spec: CodecSpec

    def decode(self, payload: bytes) -> bytes: ...


class G711Encoder:
    def __init__(self, spec: CodecSpec) -> None:
        self.spec = spec
        self._law = audioop.lin2ulaw if spec is PCMU else audioop.lin2alaw

    def encode(self, pcm: bytes) -> bytes:
        return self._law(pcm, 2)


class G711Decoder:
    def __init__(self, spec: CodecSpec) -> None:
        self.spec = spec
        self._law = audioop.ulaw2lin if spec is PCMU else audioop.alaw2lin

    def decode(self, payload: bytes) -> bytes:
        return self._law(payload, 2)


def _context(codec: str, mode: Literal["r", "w"], rate: int) -> AudioCodecContext:
    import av

    global _threads_limited
    if not _threads_limited:  # PyAV's encoder re-chunks through a per-CPU thread pool
        from ..tracks import limit_ffmpeg_threads

        _threads_limited = limit_ffmpeg_threads(1) or True
    ctx = cast("AudioCodecContext", av.CodecContext.create(codec, mode))
    ctx.thread_count = 1  # FFmpeg's default is one thread per CPU per context
    ctx.format = "s16"
    ctx.layout = "mono"
    ctx.sample_rate = rate
    if mode == "w":
        ctx.time_base = fractions.Fraction(1, rate)
    return ctx


class AvEncoder:
    """G.722 or Opus through PyAV; one 20 ms (or any whole-frame) chunk per call."""

    def __init__(self, spec: CodecSpec) -> None:
        self.spec = spec
        name = "libopus" if spec is OPUS else "g722"
        self._ctx = _context(name, "w", spec.sample_rate)
        if spec is OPUS:
            self._ctx.bit_rate = OPUS_BITRATE
            self._ctx.options = {"application": "voip"}
        self._pts = 0

    def encode(self, pcm: bytes) -> bytes:
        from ..tracks import make_frame

        frame = make_frame(pcm, self._pts, self.spec.sample_rate)
        self._pts += frame.samples
        return b"".join(bytes(p) for p in self._ctx.encode(frame))


class AvDecoder:
    def __init__(self, spec: CodecSpec) -> None:
        self.spec = spec
        self._ctx = _context("libopus" if spec is OPUS else "g722", "r", spec.sample_rate)

    def decode(self, payload: bytes) -> bytes:
        import av

        out = bytearray()
        for frame in self._ctx.decode(av.Packet(payload)):
            out += bytes(frame.planes[0])[:frame.samples * 2]
        return bytes(out)


def make_encoder(spec: CodecSpec) -> Encoder:
    if spec in (PCMU, PCMA):
        return G711Encoder(spec)
    return AvEncoder(spec)


def make_decoder(spec: CodecSpec) -> Decoder:
    if spec in (PCMU, PCMA):
        return G711Decoder(spec)
    return AvDecoder(spec)


def scale(pcm: bytes, gain: float) -> bytes:
    """16-bit PCM times ``gain`` (the concealer's fade)."""
    return audioop.mul(pcm, 2, gain)
