"""DTMF without I/O: RFC 4733 telephone-event packets, SIP INFO bodies, digit plans.

Nothing here touches sockets, clocks or aiortc; :mod:`.rtp_hooks` puts the packets on
the wire and feeds received ones back.

Sending (RFC 4733 §2.5.1): one event per digit. Every packet of an event carries the
same RTP timestamp (the event's start, §2.5.1.2) and a duration that grows by one
packet interval per packet; the first packet has the marker bit (§2.5.1.3); the
final packet has the E bit and is sent three times (§2.5.1.4) so one loss does not
leave a stuck key. Volume is fixed at 10 (-10 dBm0, §2.3.4). Digits are 100 ms long
with at least 50 ms between them (JsSIP/the SDK's defaults, seed §3.9); ``,`` is a
2-second pause.

The splicers (§2.5.1.1 "same SSRC") share one RTP sequence space between the audio
packets aiortc produces and our event packets: outgoing audio is renumbered so the
stream stays continuous and audio packets are withheld while an event plays (what
WebRTC endpoints do: the receiver hears the event, not the key-click plus the tone);
incoming audio is renumbered past the event packets so aiortc's jitter buffer, which
waits for every sequence number, does not stall on the ones we took out.
"""

from __future__ import annotations

import random
import struct
from collections import deque
from dataclasses import dataclass

#: RFC 4733 §3.2 event codes for the 16 DTMF symbols.
EVENT_CODES: dict[str, int] = {
    **{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15,
}
DIGITS: dict[int, str] = {code: digit for digit, code in EVENT_CODES.items()}
PAUSE = ","
PAUSE_S = 2.0
TELEPHONE_EVENT_CLOCK = 8000
DEFAULT_DURATION_MS = 100
MIN_DURATION_MS = 40
MAX_DURATION_MS = 6000
DEFAULT_GAP_MS = 100
MIN_GAP_MS = 50
PACKET_INTERVAL_MS = 50
VOLUME = 10
END_REPEATS = 3

INFO_RELAY = "application/dtmf-relay"
INFO_DTMF = "application/dtmf"


class DtmfError(ValueError):
    """A digit string or setting that cannot be sent."""


def parse_digits(text: str) -> list[str]:
    """``"12a#,9"`` → ``["1", "2", "A", "#", ",", "9"]``; anything else raises."""
    out: list[str] = []
    for char in text:
        symbol = char.upper()
        if symbol not in EVENT_CODES and symbol != PAUSE:
            raise DtmfError(f"{char!r} is not a DTMF symbol (0-9 * # A-D, ',' pauses)")
        out.append(symbol)
    if not out:
        raise DtmfError("no DTMF digits given")
    return out


def check_timing(duration_ms: int, gap_ms: int) -> None:
    if not MIN_DURATION_MS <= duration_ms <= MAX_DURATION_MS:
        raise DtmfError(f"DTMF duration must be {MIN_DURATION_MS}-{MAX_DURATION_MS} ms")
    if gap_ms < MIN_GAP_MS:
        raise DtmfError(f"the gap between DTMF digits must be at least {MIN_GAP_MS} ms")


# ----- RFC 4733 packets ------------------------------------------------------------------
@dataclass(frozen=True)
class EventPacket:
    """One telephone-event payload and when to send it, relative to the event's start."""

    at: float
    payload: bytes
    marker: bool
    end: bool
    duration: int  # in telephone-event clock units


def event_payload(code: int, *, end: bool, duration: int, volume: int = VOLUME) -> bytes:
    """The 4-byte payload of RFC 4733 §2.3: event, E|R|volume, duration."""
    flags = (0x80 if end else 0) | (volume & 0x3F)
    return struct.pack("!BBH", code, flags, min(duration, 0xFFFF))


def event_packets(digit: str, *, duration_ms: int = DEFAULT_DURATION_MS,
                  interval_ms: int = PACKET_INTERVAL_MS,
                  clock_rate: int = TELEPHONE_EVENT_CLOCK,
                  volume: int = VOLUME) -> list[EventPacket]:
    """The packets of one event: growing durations, then the end packet three times.

    Packet *k* (from 1) goes out at ``(k-1)·interval`` reporting ``k·interval`` of
    duration, capped at the event's length; the end repeats follow one interval apart.
    """
    code = EVENT_CODES[digit.upper()]
    total = round(duration_ms * clock_rate / 1000)
    step = max(1, round(interval_ms * clock_rate / 1000))
    interval = interval_ms / 1000
    out: list[EventPacket] = []
    k = 1
    while k * step < total:
        out.append(EventPacket((k - 1) * interval, event_payload(
            code, end=False, duration=k * step, volume=volume), k == 1, False, k * step))
        k += 1
    for r in range(END_REPEATS):
        first = not out
        out.append(EventPacket((k - 1 + r) * interval, event_payload(
            code, end=True, duration=total, volume=volume), first, True, total))
    return out


def event_wire_time(duration_ms: int, interval_ms: int = PACKET_INTERVAL_MS) -> float:
    """Seconds from an event's first packet to its last end repeat."""
    return event_packets("0", duration_ms=duration_ms, interval_ms=interval_ms)[-1].at


@dataclass(frozen=True)
class PlannedDigit:
    start: float  # seconds after the first digit
    digit: str  # a DTMF symbol, or "," for a pause (nothing is sent)


def plan(digits: str, *, duration_ms: int = DEFAULT_DURATION_MS,
         gap_ms: int = DEFAULT_GAP_MS, interval_ms: int = PACKET_INTERVAL_MS
         ) -> list[PlannedDigit]:
    """When each symbol starts: duration + gap apart (never before the previous event's
    last end packet), ``,`` adds :data:`PAUSE_S`."""
    check_timing(duration_ms, gap_ms)
    step = max((duration_ms + gap_ms) / 1000,
               event_wire_time(duration_ms, interval_ms) + interval_ms / 1000)
    out: list[PlannedDigit] = []
    t = 0.0
    for symbol in parse_digits(digits):
        out.append(PlannedDigit(round(t, 6), symbol))
        t += PAUSE_S if symbol == PAUSE else step
    return out


def rtp_packet(*, payload_type: int, seq: int, timestamp: int, ssrc: int, marker: bool,
               payload: bytes) -> bytes:
    """A plain 12-byte-header RTP packet (RFC 3550 §5.1), version 2, no CSRC."""
    second = (0x80 if marker else 0) | (payload_type & 0x7F)
    return struct.pack("!BBHII", 0x80, second, seq & 0xFFFF, timestamp & 0xFFFFFFFF,
                       ssrc & 0xFFFFFFFF) + payload


def rtp_fields(data: bytes) -> tuple[int, int, int, int]:
    """(payload type, sequence number, timestamp, SSRC) of an RTP packet."""
    second, seq, ts, ssrc = struct.unpack_from("!xBHII", data)
    return second & 0x7F, seq, ts, ssrc


class OutboundSplicer:
    """Our telephone-events and aiortc's audio in one RTP stream (one SSRC).

    ``audio(packet, now)`` renumbers each outgoing audio packet of ``ssrc`` onto a
    continuous sequence (None while an event plays: that audio is withheld);
    ``event_packet`` takes the next number for an event packet. ``timestamp_at(now)``
    extrapolates the audio stream's RTP clock from its last packet, so an event starts
    at the timestamp the audio would have had (RFC 4733 §2.5.1.2).
    """

    def __init__(self, ssrc: int, clock_rate: int = TELEPHONE_EVENT_CLOCK) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.event_active = False
        self.withheld = 0
        self._next_seq: int | None = None
        self._last: tuple[int, float] | None = None  # (RTP timestamp, when)

    def audio(self, data: bytes, now: float) -> bytes | None:
        if len(data) < 12:
            return data
        _, seq, ts, ssrc = rtp_fields(data)
        if ssrc != self.ssrc:
            return data
        self._last = (ts, now)
        if self.event_active:
            self.withheld += 1
            return None
        if self._next_seq is None:
            self._next_seq = seq
        out = data[:2] + struct.pack("!H", self._next_seq) + data[4:]
        self._next_seq = (self._next_seq + 1) & 0xFFFF
        return out

    def timestamp_at(self, now: float) -> int:
        if self._last is None:
            self._last = (random.getrandbits(32), now)
        ts, at = self._last
        return (ts + round(max(0.0, now - at) * self.clock_rate)) & 0xFFFFFFFF

    def event_packet(self, *, payload_type: int, timestamp: int, marker: bool,
                     payload: bytes) -> bytes:
        if self._next_seq is None:
            self._next_seq = random.getrandbits(16)
        seq = self._next_seq
        self._next_seq = (seq + 1) & 0xFFFF
        return rtp_packet(payload_type=payload_type, seq=seq, timestamp=timestamp,
                          ssrc=self.ssrc, marker=marker, payload=payload)


def _before(a: int, b: int) -> bool:
    """RFC 1982 serial order of 16-bit sequence numbers: ``a`` precedes ``b``."""
    return a != b and ((b - a) & 0xFFFF) < 0x8000


class InboundSplicer:
    """Renumber received audio past the event packets taken out of the stream."""

    def __init__(self, window: int = 256) -> None:
        self._events: deque[int] = deque(maxlen=window)
        self._retired = 0

    def note_event(self, seq: int) -> None:
        if len(self._events) == self._events.maxlen:
            self._retired += 1
        self._events.append(seq)

    def audio_seq(self, seq: int) -> int:
        earlier = sum(1 for s in self._events if _before(s, seq))
        return (seq - self._retired - earlier) & 0xFFFF


@dataclass(frozen=True)
class ReceivedDigit:
    digit: str
    duration_ms: int
    timestamp: int


class EventReceiver:
    """Telephone-event payloads in, each digit out once (RFC 4733 §2.5.2).

    An event is identified by its RTP timestamp: the digit is reported at its first
    E-bit packet; the repeats carry the same timestamp and are ignored. When all end
    packets are lost, the next event (a new timestamp) or :meth:`flush` reports it.
    """

    def __init__(self, clock_rate: int = TELEPHONE_EVENT_CLOCK) -> None:
        self.clock_rate = clock_rate
        self._current: tuple[int, int, int] | None = None  # (timestamp, code, duration)
        self._done: deque[int] = deque(maxlen=16)

    def feed(self, timestamp: int, payload: bytes) -> list[ReceivedDigit]:
        if len(payload) < 4:
            return []
        code, flags, duration = struct.unpack_from("!BBH", payload)
        if code not in DIGITS or timestamp in self._done:
            return []
        out: list[ReceivedDigit] = []
        if self._current is not None and self._current[0] != timestamp:
            out += self.flush()
        self._current = (timestamp, code, duration)
        if flags & 0x80:
            out += self.flush()
        return out

    def flush(self) -> list[ReceivedDigit]:
        if self._current is None:
            return []
        timestamp, code, duration = self._current
        self._current = None
        self._done.append(timestamp)
        ms = round(duration * 1000 / self.clock_rate) if self.clock_rate else 0
        return [ReceivedDigit(DIGITS[code], ms, timestamp)]


# ----- SIP INFO (RFC 6086 carrying the de-facto dtmf-relay / dtmf bodies) -------------------
def info_body(digit: str, duration_ms: int = DEFAULT_DURATION_MS) -> bytes:
    """``application/dtmf-relay`` body: ``Signal=5\\r\\nDuration=160\\r\\n``."""
    symbol = digit.upper()
    if symbol not in EVENT_CODES:
        raise DtmfError(f"{digit!r} is not a DTMF symbol")
    return f"Signal={symbol}\r\nDuration={int(duration_ms)}\r\n".encode("ascii")


def _signal(value: str) -> str | None:
    value = value.strip().upper()
    if value in EVENT_CODES:
        return value
    if value.isdigit() and int(value) in DIGITS:  # some gateways send 10 for *, 11 for #
        return DIGITS[int(value)]
    return None


def parse_info(content_type: str, body: bytes) -> tuple[str, int] | None:
    """(digit, duration in ms, 0 when absent) of a DTMF INFO body, or None if it is not one.

    ``application/dtmf-relay``: ``Signal=`` and optional ``Duration=`` lines;
    ``application/dtmf``: the bare symbol. Malformed bodies are ignored (None).
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        return None
    if kind == INFO_DTMF:
        digit = _signal(text)
        return (digit, 0) if digit else None
    if kind != INFO_RELAY:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip().lower()] = value.strip()
    digit = _signal(fields.get("signal", ""))
    if digit is None:
        return None
    duration = fields.get("duration", "0")
    if not duration.isdigit() or int(duration) > 60_000:
        return None
    return digit, int(duration)
