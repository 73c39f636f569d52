"""The sending half of a plain RTP call: one tick in, RTP packets out (no I/O).

Every 20 ms tick the sender takes 20 ms of the agent's audio (s16 mono from the audio
backend's PCM source, opened at the codec's rate so nothing is resampled; silence when
muted), shows it to the local taps (the recorder), brings it to the codec's rate if a
re-negotiation changed it, and cuts packets of the negotiated packet time. It owns the
outgoing stream's SSRC, sequence numbers and RTP timestamps (RFC 3550 §5.1: random
starts; the timestamp follows the sampling clock, so it keeps advancing on hold and
the first packet after a gap carries the marker bit, RFC 3551 §4.1).

DTMF (RFC 4733 §2.5): a digit replaces the audio for its duration, in the same SSRC
and sequence space. Its packets come from :func:`~..dtmf.event_packets` (growing
durations, the end packet three times) and go out on the ticks at or after their
times; the event's timestamp is where the audio stood when it began, on the event's
clock (with Opus and telephone-event/8000 the 48 kHz timeline is scaled to 8 kHz, as
:mod:`..rtp_hooks` does for the WebRTC path).
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..dtmf import PACKET_INTERVAL_MS, event_packets
from .clock import TICK_S
from .codecs import PCMU, CodecSpec, Encoder, make_encoder
from .packet import build_rtp
from .statistics import SenderStats

if TYPE_CHECKING:
    import av

    from ..audio_base import PcmSource
    from ..tracks import Resampler

log = logging.getLogger(__name__)

Tap = Callable[["av.AudioFrame"], None]


class AudioSender:
    """Agent audio → RTP packets; ``source`` supplies s16 mono PCM at its own rate
    (best the codec's: then nothing is resampled)."""

    def __init__(self, source: PcmSource, *, rng: random.Random | None = None) -> None:
        rng = rng or random.Random()
        self._source = source
        self._source_samples = round(source.rate * TICK_S)
        self._silence = bytes(2 * self._source_samples)
        self.ssrc = rng.getrandbits(32)
        self.seq = rng.getrandbits(16)
        self.timestamp = rng.getrandbits(32)  # of the next sample to be packetised
        self.stats = SenderStats(self.ssrc, self.seq)
        self.muted = False
        self.sending = False
        self.taps: list[Tap] = []
        self.codec: CodecSpec = PCMU
        self.payload_type = 0
        self._packet_samples = PCMU.samples(0.02)
        self._encoder: Encoder | None = None
        self._resampler: Resampler | None = None
        self._fifo = bytearray()
        self._marker = True
        self._pts = 0
        self._event_pt: int | None = None
        self._event_clock = 8000
        self._event: deque[tuple[float, bytes, bool]] = deque()  # (at, payload, marker)
        self._event_ts = 0
        self._event_done: Callable[[], None] | None = None

    # ----- configuration ---------------------------------------------------------------
    def configure(self, codec: CodecSpec, payload_type: int, ptime_ms: int,
                  event_pt: int | None, event_clock: int) -> None:
        """Follow a (re-)negotiation; the stream's SSRC and numbering carry on."""
        if codec is not self.codec or self._encoder is None:
            self.timestamp += self.codec.rtp_units(len(self._fifo) // 2)
            self._fifo.clear()
            self.codec = codec
            self._encoder = make_encoder(codec)
            self._resampler = None
            if codec.sample_rate != self._source.rate:
                from ..tracks import Resampler

                self._resampler = Resampler("s16", "mono", codec.sample_rate)
                # Prime it: its filter holds back a few samples, so without this the
                # first tick's output is short of a packet and the call's first packet
                # waits a tick (20 ms of set-up time).
                self._fifo += self._to_codec_rate(self._silence)
        self.payload_type = payload_type
        self._packet_samples = codec.samples(ptime_ms / 1000)
        self._event_pt = event_pt
        self._event_clock = event_clock

    @property
    def event_pt(self) -> int | None:
        return self._event_pt

    @property
    def event_active(self) -> bool:
        return bool(self._event)

    # ----- DTMF --------------------------------------------------------------------------
    def start_event(self, digit: str, duration_ms: int, now: float,
                    done: Callable[[], None] | None = None) -> None:
        """Send ``digit`` from the next tick on; ``done()`` after its last packet."""
        if self._event_pt is None:
            raise ValueError("telephone-event was not negotiated")
        timestamp = self.timestamp + self.codec.rtp_units(len(self._fifo) // 2)
        if self.codec.clock_rate != self._event_clock:
            timestamp = timestamp * self._event_clock // self.codec.clock_rate
        self._event_ts = timestamp & 0xFFFFFFFF
        self._event = deque((now + p.at, p.payload, p.marker) for p in event_packets(
            digit, duration_ms=duration_ms, interval_ms=PACKET_INTERVAL_MS,
            clock_rate=self._event_clock))
        self._event_done = done

    def _event_packets(self, now: float) -> list[bytes]:
        out: list[bytes] = []
        assert self._event_pt is not None
        while self._event and self._event[0][0] <= now + 1e-6:
            _, payload, marker = self._event.popleft()
            out.append(self._packet(self._event_pt, self._event_ts, payload, marker))
        if not self._event:
            self._marker = True  # the audio after an event starts a talkspurt
            done, self._event_done = self._event_done, None
            if done is not None:
                done()
        return out

    def cancel_event(self) -> None:
        self._event.clear()
        done, self._event_done = self._event_done, None
        if done is not None:
            done()

    # ----- the tick ------------------------------------------------------------------------
    def skip(self, ticks: int) -> None:
        """The clock jumped ``ticks`` ahead: move the timestamp, start a new talkspurt."""
        self.timestamp += self.codec.rtp_units(self.codec.samples(TICK_S)) * ticks
        self._marker = True

    def tick(self, now: float) -> list[bytes]:
        """20 ms of audio in; the packets to send (plain RTP, before any SRTP)."""
        if not self.sending:
            self.timestamp += self.codec.rtp_units(
                len(self._fifo) // 2 + self.codec.samples(TICK_S))
            self._fifo.clear()
            self._marker = True
            if self._event:
                self.cancel_event()
            return []
        pcm = self._source.read(self._source_samples)
        if self.muted:
            pcm = self._silence
        if self.taps:
            self._tap(pcm)
        if self._event:
            self.timestamp += self.codec.rtp_units(self.codec.samples(TICK_S))
            return self._event_packets(now)
        self._fifo += self._to_codec_rate(pcm)
        return self._packetise()

    def _to_codec_rate(self, pcm: bytes) -> bytes:
        if self._resampler is None:
            return pcm
        from ..tracks import make_frame

        frame = make_frame(pcm, self._pts, self._source.rate)
        self._pts += self._source_samples
        out = b""
        for part in self._resampler.resample(frame):
            out += bytes(part.planes[0])[:part.samples * 2]
        return out

    def _packetise(self) -> list[bytes]:
        out: list[bytes] = []
        size = 2 * self._packet_samples
        assert self._encoder is not None
        while len(self._fifo) >= size:
            payload = self._encoder.encode(bytes(self._fifo[:size]))
            del self._fifo[:size]
            if payload:
                out.append(self._packet(self.payload_type, self.timestamp, payload,
                                        self._marker))
                self._marker = False
            self.timestamp += self.codec.rtp_units(self._packet_samples)
        return out

    def _packet(self, payload_type: int, timestamp: int, payload: bytes,
                marker: bool) -> bytes:
        packet = build_rtp(payload_type, self.seq, timestamp, self.ssrc, payload, marker)
        self.seq = (self.seq + 1) & 0xFFFF
        self.stats.sent(len(payload))
        return packet

    def _tap(self, pcm: bytes) -> None:
        from ..tracks import make_frame

        frame = make_frame(pcm, self._pts, self._source.rate)
        for tap in list(self.taps):
            try:
                tap(frame)
            except Exception:  # a failing tap (recorder) must not stop the call's audio
                log.exception("local audio tap failed")
