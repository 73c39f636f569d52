"""RTP reception and transmission statistics, and what RTCP carries of them (RFC 3550).

Sans-IO: every method takes the arrival or current time; nothing reads a clock.

- :class:`ReceiverStats` follows the remote's stream: the extended highest sequence
  number and restarts (Appendix A.1), expected and lost packets and the fraction lost
  per reporting interval (A.3), interarrival jitter (A.8), and the last sender report
  for the LSR/DLSR fields (§6.4.1). A new SSRC (the far end moved the media to another
  server) starts a new source; the call's totals carry on across it.
- :class:`SenderStats` counts what we sent and turns the remote's reception report on
  our stream into loss, jitter and the round-trip time (§6.4.1: RTT = A − LSR − DLSR).
- :func:`stats_entries` exposes both in the shape of WebRTC's ``getStats()`` entries,
  so :func:`agentconsole.media.stats.build_report` fills the call report from plain RTP
  exactly as it does from aiortc.
- :class:`RtcpTimer` spaces compound packets: the first after about a second (a call
  report shows an RTT early), then every 5 s randomised over [0.5, 1.5] (§6.3.1).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .packet import ReportBlock, SenderInfo, ntp_middle, ntp_time

MAX_DROPOUT = 3000  # A.1: a forward jump up to this is a gap, not a restart
MAX_MISORDER = 100  # A.1: a backward step up to this is reordering
SEQ_MOD = 1 << 16


@dataclass
class _Source:
    """One remote SSRC's counters (RFC 3550 A.1 ``source`` structure)."""

    ssrc: int
    base_seq: int
    max_seq: int
    cycles: int = 0
    bad_seq: int = SEQ_MOD + 1
    received: int = 0
    expected_prior: int = 0
    received_prior: int = 0

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self.base_seq + 1

    @property
    def lost(self) -> int:
        return self.expected - self.received


class ReceiverStats:
    """What we received from the remote (RFC 3550 Appendix A.1, A.3, A.8)."""

    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self.jitter = 0.0  # RTP timestamp units, as RTCP carries it
        self.duplicates_or_old = 0
        self._source: _Source | None = None
        self._transit: float | None = None
        self._done_received = 0  # totals of earlier SSRCs of this call
        self._done_lost = 0
        self._last_sr: tuple[int, float] | None = None  # (LSR value, arrival)

    @property
    def ssrc(self) -> int | None:
        return self._source.ssrc if self._source else None

    @property
    def received(self) -> int:
        return self._done_received + (self._source.received if self._source else 0)

    @property
    def lost(self) -> int:
        return self._done_lost + (max(0, self._source.lost) if self._source else 0)

    def _start(self, ssrc: int, seq: int, keep_sr: bool = False) -> _Source:
        if self._source is not None:
            self._done_received += self._source.received
            self._done_lost += max(0, self._source.lost)
        self._source = _Source(ssrc, base_seq=seq, max_seq=seq)
        self._transit = None
        if not keep_sr:
            self._last_sr = None
        return self._source

    def update(self, ssrc: int, seq: int) -> bool:
        """Count one packet (A.1 ``update_seq``); False for a duplicate, a very late
        packet or the first of a restart that is not yet confirmed."""
        src = self._source
        if src is None or ssrc != src.ssrc:
            src = self._start(ssrc, seq)
            src.received = 1
            return True
        udelta = (seq - src.max_seq) % SEQ_MOD
        if udelta == 0:
            self.duplicates_or_old += 1
            return False
        if udelta < MAX_DROPOUT:
            if seq < src.max_seq:
                src.cycles += SEQ_MOD
            src.max_seq = seq
        elif udelta <= SEQ_MOD - MAX_MISORDER:
            if seq != src.bad_seq:  # a big jump: wait for a second packet to confirm it
                src.bad_seq = (seq + 1) % SEQ_MOD
                return False
            src = self._start(ssrc, seq, keep_sr=True)  # the sender restarted its numbering
        src.received += 1
        return True

    def update_jitter(self, timestamp: int, arrival: float) -> None:
        """Interarrival jitter (A.8) from an audio packet's timestamp and arrival time."""
        transit = arrival * self.clock_rate - timestamp
        if self._transit is not None:
            d = abs(transit - self._transit)
            if d < self.clock_rate * 10:  # a timestamp jump (new talkspurt base) is not jitter
                self.jitter += (d - self.jitter) / 16
        self._transit = transit

    def on_sender_report(self, info: SenderInfo, arrival: float) -> None:
        self._last_sr = (ntp_middle(info.ntp), arrival)

    def report_block(self, now: float) -> ReportBlock | None:
        """The reception report for our next RTCP packet (A.3), None before any packet."""
        src = self._source
        if src is None:
            return None
        expected, received = src.expected, src.received
        interval_expected = expected - src.expected_prior
        interval_lost = interval_expected - (received - src.received_prior)
        src.expected_prior, src.received_prior = expected, received
        fraction = 0
        if interval_expected > 0 and interval_lost > 0:
            fraction = min(255, (interval_lost << 8) // interval_expected)
        lsr, dlsr = 0, 0
        if self._last_sr is not None:
            lsr = self._last_sr[0]
            dlsr = int((now - self._last_sr[1]) * 65536) & 0xFFFFFFFF
        cumulative = max(-(1 << 23), min((1 << 23) - 1, src.lost))
        return ReportBlock(src.ssrc, fraction, cumulative, src.extended_max & 0xFFFFFFFF,
                           int(self.jitter), lsr, dlsr)


class SenderStats:
    """What we sent, and what the remote's reception reports say about it."""

    def __init__(self, ssrc: int, first_seq: int) -> None:
        self.ssrc = ssrc
        self.first_seq = first_seq
        self.packets = 0
        self.octets = 0
        self.remote_lost = 0
        self.remote_received: int | None = None
        self.remote_jitter: float | None = None  # RTP timestamp units
        self.rtt: float | None = None  # seconds

    def sent(self, payload_bytes: int) -> None:
        self.packets += 1
        self.octets += payload_bytes

    def on_report(self, block: ReportBlock, arrival_unix: float) -> None:
        """A reception report about our SSRC (§6.4.1); ``arrival_unix`` is wall time."""
        if block.ssrc != self.ssrc:
            return
        self.remote_lost = max(0, block.cumulative_lost)
        expected = (block.highest_seq - self.first_seq) % (1 << 32) + 1
        if expected <= self.packets + 1 + MAX_MISORDER:
            self.remote_received = max(0, expected - self.remote_lost)
        self.remote_jitter = float(block.jitter)
        if block.lsr:
            arrival = ntp_middle(ntp_time(arrival_unix))
            units = (arrival - block.lsr - block.dlsr) % (1 << 32)
            if units < 1 << 31:  # a negative RTT (clock skew between reports) is noise
                self.rtt = units / 65536


def stats_entries(rx: ReceiverStats, tx: SenderStats) -> dict[str, Any]:
    """getStats()-shaped entries (W3C webrtc-stats) for :func:`~..stats.build_report`.

    Jitter stays in RTP timestamp units, as aiortc reports it: the caller passes the
    codec's RTP clock rate to ``build_report``.
    """
    out: dict[str, Any] = {
        "inbound": {"type": "inbound-rtp", "kind": "audio", "packetsReceived": rx.received,
                    "packetsLost": rx.lost, "jitter": rx.jitter},
        "outbound": {"type": "outbound-rtp", "kind": "audio", "packetsSent": tx.packets,
                     "bytesSent": tx.octets},
    }
    if tx.remote_jitter is not None:
        remote: dict[str, Any] = {"type": "remote-inbound-rtp", "kind": "audio",
                                  "packetsLost": tx.remote_lost, "jitter": tx.remote_jitter}
        if tx.remote_received is not None:
            remote["packetsReceived"] = tx.remote_received
        if tx.rtt is not None:
            remote["roundTripTime"] = tx.rtt
        out["remote"] = remote
    return out


class RtcpTimer:
    """When to send the next compound RTCP packet (RFC 3550 §6.2, §6.3.1)."""

    def __init__(self, interval: float = 5.0, first: float = 1.0,
                 rng: random.Random | None = None) -> None:
        self.interval = interval
        self._rng = rng or random.Random()
        self._first = first
        self.next_at: float | None = None

    def start(self, now: float) -> None:
        self.next_at = now + self._first * self._rng.uniform(0.5, 1.5)

    def hurry(self, now: float, within: float) -> None:
        """Send the next packet within ``within`` seconds (once per call: our first
        reception report on the far end's first SR, so the RTT is known early)."""
        if self.next_at is None or self.next_at > now + within:
            self.next_at = now + within

    def due(self, now: float) -> bool:
        """True when a packet is due; the next one is then scheduled."""
        if self.next_at is None or now < self.next_at:
            return False
        self.next_at = now + self.interval * self._rng.uniform(0.5, 1.5)
        return True
