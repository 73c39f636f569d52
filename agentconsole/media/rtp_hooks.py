"""The one adapter that reaches into aiortc's RTP internals, for RFC 4733 DTMF.

aiortc (1.16) has no DTMF sender and drops RTP whose payload type it cannot decode.
What this module does, and why each piece is the least invasive option found:

- **Negotiation**: :func:`install_telephone_event` appends ``telephone-event/8000``
  (PT 101) to aiortc's process-wide audio codec table once, so it appears in offers
  and answers and is matched in the remote's SDP. The table is aiortc's only source
  of codecs; ``MediaSession`` always puts the event codec *last* in its preferences
  and refuses a negotiation where it would come first, so aiortc never picks it as
  the codec to encode with (it encodes with the first negotiated codec).
- **Sending**: aiortc keeps the sequence number and timestamp base in locals of
  ``RTCRtpSender._run_rtp``; the only seam is the DTLS transport's ``_send_rtp``
  through which every plaintext RTP/RTCP packet passes before SRTP protection. The
  instance's ``_send_rtp`` is wrapped: audio packets of our SSRC are renumbered by an
  :class:`~.dtmf.OutboundSplicer` (and withheld while an event plays, so the event
  is not mixed with the key's audio), event packets are injected with the sender's
  SSRC (``sender._ssrc``), the next sequence numbers, and a timestamp on the audio's
  RTP clock. RTCP passes untouched (the SR packet count omits event packets).
- **Receiving**: the receiver instance's ``_handle_rtp_packet`` is wrapped: event
  packets go to the callback, audio packets are renumbered past them
  (:class:`~.dtmf.InboundSplicer`) so the audio jitter buffer, which waits for each
  sequence number, does not stall after a digit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .dtmf import (
    DEFAULT_DURATION_MS,
    PACKET_INTERVAL_MS,
    TELEPHONE_EVENT_CLOCK,
    InboundSplicer,
    OutboundSplicer,
    event_packets,
)

if TYPE_CHECKING:
    from aiortc import RTCRtpCodecParameters, RTCRtpTransceiver

log = logging.getLogger(__name__)

TELEPHONE_EVENT_MIME = "audio/telephone-event"
TELEPHONE_EVENT_PT = 101
_installed = False


def install_telephone_event() -> None:
    """Add telephone-event/8000 to aiortc's audio codecs (once per process)."""
    global _installed
    if _installed:
        return
    from aiortc import RTCRtpCodecParameters
    from aiortc.codecs import CODECS

    if not any(is_telephone_event(c) for c in CODECS["audio"]):
        CODECS["audio"].append(RTCRtpCodecParameters(
            mimeType=TELEPHONE_EVENT_MIME, clockRate=TELEPHONE_EVENT_CLOCK, channels=1,
            payloadType=TELEPHONE_EVENT_PT))
    _installed = True


def is_telephone_event(codec: Any) -> bool:
    return str(getattr(codec, "mimeType", "")).lower() == TELEPHONE_EVENT_MIME


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The transceiver's negotiated codecs (aiortc keeps them in ``_codecs``)."""
    return list(getattr(transceiver, "_codecs", []) or [])


class RtpHooks:
    """Event packets into and out of one transceiver's audio RTP stream."""

    def __init__(self, transceiver: RTCRtpTransceiver,
                 on_event: Callable[[int, bytes], None]) -> None:
        sender, receiver = transceiver.sender, transceiver.receiver
        self.event_pts: frozenset[int] = frozenset()
        self.outbound = OutboundSplicer(sender._ssrc)
        self.inbound = InboundSplicer()
        self.event_clock = 8000  # telephone-event/8000 unless negotiated otherwise
        self._on_event = on_event
        dtls: Any = sender.transport
        self._send: Callable[[bytes], Awaitable[None]] = dtls._send_rtp
        handle: Callable[..., Awaitable[None]] = receiver._handle_rtp_packet

        async def send_rtp(data: bytes) -> None:
            if len(data) > 1 and not 192 <= data[1] <= 223:  # RTP, not RTCP (RFC 5761 §4)
                out = self.outbound.audio(data, time.monotonic())
                if out is None:
                    return
                data = out
            await self._send(data)

        async def handle_rtp_packet(packet: Any, arrival_time_ms: int) -> None:
            if packet.payload_type in self.event_pts:
                self.inbound.note_event(packet.sequence_number)
                self._on_event(packet.timestamp, bytes(packet.payload))
                return
            if self.event_pts:
                packet.sequence_number = self.inbound.audio_seq(packet.sequence_number)
            await handle(packet, arrival_time_ms=arrival_time_ms)

        dtls._send_rtp = send_rtp
        receiver._handle_rtp_packet = handle_rtp_packet  # type: ignore[method-assign]

    def configure(self, transceiver: RTCRtpTransceiver) -> int | None:
        """Follow a (re-)negotiation: event payload types and the audio clock.

        Returns the telephone-event PT to send with, None when not negotiated.
        """
        codecs = negotiated_codecs(transceiver)
        events = [c for c in codecs if is_telephone_event(c)]
        self.event_pts = frozenset(c.payloadType for c in events if c.payloadType is not None)
        audio = [c for c in codecs if not is_telephone_event(c)]
        if audio:
            self.outbound.clock_rate = audio[0].clockRate
        if events and events[0].clockRate:
            self.event_clock = events[0].clockRate
        return events[0].payloadType if events else None

    async def play_event(self, digit: str, payload_type: int, *,
                         duration_ms: int = DEFAULT_DURATION_MS,
                         interval_ms: int = PACKET_INTERVAL_MS) -> None:
        """Send one digit's packets on time; audio is withheld until the last end packet.

        Timestamps and durations are on the negotiated event clock (RFC 4733 §2.3,
        §2.5.1.2). With Opus (48 kHz audio) and telephone-event/8000 the audio timeline
        is rescaled to 8 kHz for the events: stamped on the 48 kHz clock, rtpengine reads
        the gap between two digits six times too long and holds every other digit back
        until the peer's jitter buffer drops it (seen with baresip through the rig).
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        timestamp = self.outbound.timestamp_at(time.monotonic())
        if self.outbound.clock_rate != self.event_clock:
            timestamp = (timestamp * self.event_clock // self.outbound.clock_rate) & 0xFFFFFFFF
        self.outbound.event_active = True
        try:
            for item in event_packets(digit, duration_ms=duration_ms, interval_ms=interval_ms):
                delay = start + item.at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._send(self.outbound.event_packet(
                    payload_type=payload_type, timestamp=timestamp, marker=item.marker,
                    payload=item.payload))
        finally:
            self.outbound.event_active = False
        log.debug("sent DTMF %s (PT %d, ts %d)", digit, payload_type, timestamp)
