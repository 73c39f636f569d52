"""The receiving half of a plain RTP call: packets in, 20 ms of audio out per tick.

Each packet (already decrypted) is counted for the reception statistics (RFC 3550
A.1, A.8) and sorted by payload type: audio goes into the jitter buffer,
telephone-events (RFC 4733 §2.5.2) to the DTMF receiver at once, comfort noise and
unknown payload types take their sequence number out of the buffer's way. A new SSRC
(the far end moved the media) restarts the buffer.

On each tick the player pulls packets until it has 20 ms of PCM: it decodes a frame
with the decoder of its payload type (the far end may switch codecs among those
negotiated), conceals a lost one, and plays nothing when the buffer is empty (hold,
silence suppression, the call not started): the audio backend hears exactly what came.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..dtmf import EventReceiver
from .clock import TICK_S
from .codecs import PCMU, CodecSpec, Decoder, make_decoder
from .jitter import FRAME, LOST, Concealer, JitterBuffer
from .packet import PacketError, parse_rtp
from .statistics import ReceiverStats

log = logging.getLogger(__name__)

#: play(pcm, sample_rate): 16-bit mono PCM of the far end for the audio backend.
Play = Callable[[bytes, int], None]
#: on_dtmf(digit, duration_ms)
OnDtmf = Callable[[str, int], None]


class AudioReceiver:
    """RTP packets → jitter buffer → decoded, concealed 20 ms chunks for ``play``."""

    def __init__(self, play: Play, *, on_dtmf: OnDtmf | None = None) -> None:
        self._play = play
        self.on_dtmf = on_dtmf
        self.receive: dict[int, CodecSpec] = {0: PCMU}
        self.event_pts: frozenset[int] = frozenset()
        self.clock_rate = PCMU.clock_rate
        self.stats = ReceiverStats(self.clock_rate)
        self.jitter = JitterBuffer(self.clock_rate)
        self.events = EventReceiver()
        self.unknown_payload = 0
        self._decoders: dict[str, Decoder] = {}
        self._concealer = Concealer()
        self._fifo = bytearray()
        self._rate = PCMU.sample_rate
        self._last_samples = PCMU.samples(TICK_S)

    def configure(self, receive: dict[int, CodecSpec], event_pts: frozenset[int],
                  event_clock: int) -> None:
        """Follow a (re-)negotiation: what each payload type is, the events' clock."""
        self.receive = dict(receive)
        self.event_pts = event_pts
        self.events.clock_rate = event_clock
        clock = next(iter(receive.values())).clock_rate if receive else self.clock_rate
        if clock != self.clock_rate:
            self.clock_rate = clock
            self.stats.clock_rate = clock
            self.jitter = JitterBuffer(clock)

    # ----- input -------------------------------------------------------------------------
    def on_packet(self, data: bytes, now: float) -> bool:
        """One RTP packet (plaintext); False when it is not RTP we can use."""
        try:
            payload_type, _marker, seq, timestamp, ssrc, payload = parse_rtp(data)
        except PacketError:
            return False
        if ssrc != self.stats.ssrc and self.stats.ssrc is not None:
            self.jitter.reset()
        self.stats.update(ssrc, seq)
        if payload_type in self.event_pts:
            self.jitter.skip(seq, now)
            for got in self.events.feed(timestamp, payload):
                if self.on_dtmf is not None:
                    self.on_dtmf(got.digit, got.duration_ms)
            return True
        if payload_type not in self.receive:
            self.unknown_payload += 1  # comfort noise (RFC 3389) or a format we did not agree
            self.jitter.skip(seq, now)
            return True
        self.stats.update_jitter(timestamp, now)
        self.jitter.push(seq, timestamp, payload, now, payload_type)
        return True

    def flush_events(self) -> None:
        """Report a digit whose end packets never came (the call is closing)."""
        for got in self.events.flush():
            if self.on_dtmf is not None:
                self.on_dtmf(got.digit, got.duration_ms)

    # ----- output ------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Play the next 20 ms if the buffer has them."""
        need = 2 * round(self._rate * TICK_S)
        while len(self._fifo) < need:
            kind, payload_type, payload = self.jitter.pop()
            if kind == FRAME:
                spec = self.receive.get(payload_type)
                if spec is None:
                    continue
                pcm = self._decode(spec, payload)
                if spec.sample_rate != self._rate:  # the far end switched codecs
                    self._fifo.clear()
                    self._rate = spec.sample_rate
                    need = 2 * round(self._rate * TICK_S)
                self._last_samples = len(pcm) // 2 or self._last_samples
                self._concealer.good(pcm)
                self._fifo += pcm
            elif kind == LOST:
                self._fifo += self._concealer.conceal(self._last_samples)
            else:
                return
        chunk = bytes(self._fifo[:need])
        del self._fifo[:need]
        self._play(chunk, self._rate)

    def _decode(self, spec: CodecSpec, payload: bytes) -> bytes:
        decoder = self._decoders.get(spec.name)
        if decoder is None:
            decoder = self._decoders[spec.name] = make_decoder(spec)
        try:
            return decoder.decode(payload)
        except Exception as exc:  # a corrupt frame is concealed, never fatal
            log.debug("cannot decode a %s frame: %s", spec.name, exc)
            return self._concealer.conceal(self._last_samples)
