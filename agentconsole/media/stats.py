"""Call-quality report: the seed SDK's ``Report`` built from WebRTC statistics.

The seed refreshes its report from ``getStats()`` every 3 s while a call is up
(reference/sdk-parity.md §2 and §3.5). :func:`build_report` is the pure part: it takes
a stats mapping (aiortc's ``RTCStatsReport`` or hand-made dicts) and the previous
report of the same call, and returns the next one, so max/avg jitter can be tracked
across reports and tests can feed it without a network.

Units: RFC 3550 §6.4.1 interarrival jitter is in RTP timestamp units on the wire;
aiortc reports it that way, the W3C API in seconds. Pass ``clock_rate`` for the former.
Loss ratios are 0..1; jitter and RTT are ms. Tx loss and Tx jitter come from the
remote's RTCP receiver reports (the ``remote-inbound-rtp`` entries).

No aiortc import here.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .mos import estimate_mos

ICE_RESULTS = {"host": "local", "srflx": "public", "prflx": "public", "relay": "turn"}

# Report field → the seed's camelCase name (sdk-parity §2, "Report").
SEED_NAMES: dict[str, str] = {
    "timestamp": "lksTimestamp",
    "date": "lksDate",
    "call_id": "callId",
    "extension": "extension",
    "ice_result": "iceResult",
    "network_type": "lksNetworkType",
    "device_type": "lksDeviceType",
    "duration": "lksDuration",
    "audio_codec": "lksAudioCodec",
    "audio_rx": "lksAudioRx",
    "audio_rx_lost": "lksAudioRxLost",
    "audio_rx_max_jitter": "lksAudioRxMaxjitter",
    "audio_rx_avg_jitter": "lksAudioRxAvgjitter",
    "audio_tx": "lksAudioTx",
    "audio_tx_lost": "lksAudioTxLost",
    "audio_tx_max_jitter": "lksAudioTxMaxjitter",
    "audio_tx_avg_jitter": "lksAudioTxAvgjitter",
    "video_codec": "lksVideoCodec",
    "video_rx": "lksVideoRx",
    "video_rx_lost": "lksVideoRxLost",
    "video_rx_max_jitter": "lksVideoRxMaxjitter",
    "video_rx_avg_jitter": "lksVideoRxAvgjitter",
    "video_tx": "lksVideoTx",
    "video_tx_lost": "lksVideoTxLost",
    "video_tx_max_jitter": "lksVideoTxMaxjitter",
    "video_tx_avg_jitter": "lksVideoTxAvgjitter",
}


@dataclass(frozen=True)
class Report:
    """One call-quality snapshot; every field of the seed's Report plus RTT and MOS."""

    timestamp: int = 0  # ms since the epoch, set once when the call is answered
    date: str = ""  # "YYYY-MM-DD hh:mm:ss", local time of ``timestamp``
    call_id: str = ""
    extension: str = ""
    ice_result: str = ""  # local | public | turn
    network_type: str = ""
    device_type: str = "terminal"
    duration: int = 0  # seconds
    audio_codec: str = ""
    audio_rx: int = 0  # packets received
    audio_rx_lost: float = 0.0  # fraction 0..1
    audio_rx_max_jitter: float = 0.0  # ms
    audio_rx_avg_jitter: float = 0.0  # ms
    audio_tx: int = 0  # packets sent
    audio_tx_lost: float = 0.0  # fraction 0..1, from the remote's receiver reports
    audio_tx_max_jitter: float = 0.0
    audio_tx_avg_jitter: float = 0.0
    video_codec: str = ""
    video_rx: int = 0
    video_rx_lost: float = 0.0
    video_rx_max_jitter: float = 0.0
    video_rx_avg_jitter: float = 0.0
    video_tx: int = 0
    video_tx_lost: float = 0.0
    video_tx_max_jitter: float = 0.0
    video_tx_avg_jitter: float = 0.0
    rtt_ms: float = 0.0
    mos: float = 0.0  # what the agent hears
    mos_tx: float = 0.0  # what the customer hears, from their RTCP receiver reports
    # History kept between reports of one call (not part of the seed's Report).
    audio_rx_lost_packets: int = 0
    audio_tx_lost_packets: int = 0
    rx_jitter_samples: int = field(default=0, repr=False)
    tx_jitter_samples: int = field(default=0, repr=False)

    @classmethod
    def empty(cls, call_id: str = "", extension: str = "") -> Report:
        """A report before any stats (the seed resets its report when a call starts);
        the first :func:`build_report` on it sets the timestamp."""
        return cls(call_id=call_id, extension=extension)

    def to_seed_dict(self) -> dict[str, str]:
        """The seed's field names, every value a string as the seed emits them."""
        out: dict[str, str] = {}
        for name, seed in SEED_NAMES.items():
            out[seed] = _seed_str(name, getattr(self, name))
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _seed_str(name: str, value: object) -> str:
    if isinstance(value, float):
        if name.endswith("_lost"):
            return f"{value:.6f}" if value > 0 else "0"
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return text or "0"
    return str(value)


def _get(entry: object, name: str, default: Any = None) -> Any:
    if isinstance(entry, Mapping):
        return entry.get(name, default)
    return getattr(entry, name, default)


@dataclass
class _Stream:
    packets: int = 0
    lost: int = 0
    received: int | None = None
    jitter: float | None = None  # in the report's unit
    rtt: float | None = None  # seconds


def _collect(stats: Mapping[str, Any], kind: str) -> dict[str, _Stream]:
    found: dict[str, _Stream] = {}
    for entry in stats.values():
        if _get(entry, "kind", "audio") != kind:
            continue
        typ = str(_get(entry, "type", ""))
        if typ not in ("inbound-rtp", "outbound-rtp", "remote-inbound-rtp"):
            continue
        s = found.setdefault(typ, _Stream())
        if typ == "outbound-rtp":
            s.packets += int(_get(entry, "packetsSent", 0) or 0)
            continue
        received = int(_get(entry, "packetsReceived", 0) or 0)
        s.packets += received
        s.received = (s.received or 0) + received
        s.lost += max(0, int(_get(entry, "packetsLost", 0) or 0))
        jitter = _get(entry, "jitter")
        if jitter is not None:
            s.jitter = max(float(jitter), s.jitter or 0.0)
        rtt = _get(entry, "roundTripTime")
        if rtt is not None:
            s.rtt = float(rtt)
    return found


def _fraction(lost: int, denominator: int) -> float:
    return round(lost / denominator, 6) if lost > 0 and denominator > 0 else 0.0


def _jitter_ms(value: float | None, clock_rate: int | None) -> float | None:
    if value is None:
        return None
    return value * 1000.0 / clock_rate if clock_rate else value * 1000.0


def _track(prev_max: float, prev_avg: float, n: int, cur: float | None) -> tuple[float, float, int]:
    """Max and running mean of the jitter samples seen so far."""
    if cur is None:
        return prev_max, prev_avg, n
    avg = (prev_avg * n + cur) / (n + 1)
    return max(prev_max, cur), round(avg, 3), n + 1


def _format_date(timestamp_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp_ms / 1000))


def build_report(
    stats: Mapping[str, Any],
    previous: Report | None = None,
    *,
    now: float,
    call_id: str = "",
    extension: str = "",
    codec: str | None = None,
    clock_rate: int | None = None,
    ice_result: str = "",
    network_type: str = "",
    started_at: float | None = None,
) -> Report:
    """The next report of a call from its stats (see the module doc for units).

    ``now`` and ``started_at`` are epoch seconds; ``started_at`` defaults to the first
    report's time, as the seed resets its report when the call is answered.
    ``ice_result`` may be a candidate type (host/srflx/prflx/relay) or already mapped.
    """
    prev = previous or Report()
    timestamp = prev.timestamp or int(now * 1000)
    start = started_at if started_at is not None else timestamp / 1000
    audio = _collect(stats, "audio")
    inbound = audio.get("inbound-rtp", _Stream())
    outbound = audio.get("outbound-rtp", _Stream())
    remote = audio.get("remote-inbound-rtp", _Stream())

    rx_cur = _jitter_ms(inbound.jitter, clock_rate)
    rx_max, rx_avg, rx_n = _track(
        prev.audio_rx_max_jitter, prev.audio_rx_avg_jitter, prev.rx_jitter_samples, rx_cur
    )
    tx_cur = _jitter_ms(remote.jitter, clock_rate)
    tx_max, tx_avg, tx_n = _track(
        prev.audio_tx_max_jitter, prev.audio_tx_avg_jitter, prev.tx_jitter_samples, tx_cur
    )
    tx_denominator = remote.lost + remote.received if remote.received else outbound.packets
    rtt_ms = round(remote.rtt * 1000, 3) if remote.rtt is not None else prev.rtt_ms

    # MOS on the loss of the last interval when there is one: a call that recovers
    # from a bad minute should show it.
    d_recv = inbound.packets - prev.audio_rx
    d_lost = inbound.lost - prev.audio_rx_lost_packets
    rx_lost = _fraction(inbound.lost, inbound.lost + inbound.packets)
    interval_loss = _fraction(d_lost, d_lost + d_recv) if d_recv > 0 else rx_lost
    codec_name = codec or prev.audio_codec
    mos = estimate_mos(codec_name, interval_loss, rtt_ms, rx_cur if rx_cur is not None else 0)

    tx_lost = _fraction(remote.lost, tx_denominator)
    mos_tx = prev.mos_tx
    if tx_cur is not None:  # the far end reported on our stream (RTCP RR, §6.4.2)
        mos_tx = estimate_mos(codec_name, tx_lost, rtt_ms, tx_cur)

    return Report(
        timestamp=timestamp,
        date=_format_date(timestamp),
        call_id=call_id or prev.call_id,
        extension=extension or prev.extension,
        ice_result=ICE_RESULTS.get(ice_result, ice_result) or prev.ice_result,
        network_type=network_type or prev.network_type,
        duration=max(0, math.ceil(now - start - 1e-9)),
        audio_codec=codec_name,
        audio_rx=inbound.packets,
        audio_rx_lost=rx_lost,
        audio_rx_max_jitter=round(rx_max, 3),
        audio_rx_avg_jitter=rx_avg,
        audio_tx=outbound.packets,
        audio_tx_lost=tx_lost,
        audio_tx_max_jitter=round(tx_max, 3),
        audio_tx_avg_jitter=tx_avg,
        rtt_ms=rtt_ms,
        mos=mos if (inbound.packets or outbound.packets) else 0.0,
        mos_tx=mos_tx,
        audio_rx_lost_packets=inbound.lost,
        audio_tx_lost_packets=remote.lost,
        rx_jitter_samples=rx_n,
        tx_jitter_samples=tx_n,
    )
