"""Report built from hand-made getStats() entries."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agentconsole.media.stats import SEED_NAMES, Report, build_report

T0 = 1_800_000_000.0


def stats(rx: int = 100, rx_lost: int = 0, rx_jitter: float = 480, tx: int = 100,
          tx_lost: int = 0, tx_jitter: float = 96, rtt: float = 0.04) -> dict[str, object]:
    return {
        "in": {"type": "inbound-rtp", "kind": "audio", "packetsReceived": rx,
               "packetsLost": rx_lost, "jitter": rx_jitter},
        "out": {"type": "outbound-rtp", "kind": "audio", "packetsSent": tx},
        "rin": {"type": "remote-inbound-rtp", "kind": "audio", "packetsReceived": tx - tx_lost,
                "packetsLost": tx_lost, "jitter": tx_jitter, "roundTripTime": rtt},
        "transport": {"type": "transport", "packetsSent": 5},
    }


def test_field_mapping() -> None:
    r = build_report(stats(rx=90, rx_lost=10), now=T0, call_id="c1", extension="1001",
                     codec="opus", clock_rate=48000, ice_result="host",
                     network_type="ethernet")
    assert r.timestamp == int(T0 * 1000) and len(r.date) == 19
    assert (r.call_id, r.extension, r.ice_result, r.network_type) == (
        "c1", "1001", "local", "ethernet")
    assert r.device_type == "terminal" and r.audio_codec == "opus"
    assert r.audio_rx == 90 and r.audio_rx_lost == pytest.approx(0.1)
    assert r.audio_rx_avg_jitter == pytest.approx(10.0)  # 480 / 48 kHz = 10 ms
    assert r.audio_tx == 100 and r.audio_tx_avg_jitter == pytest.approx(2.0)
    assert r.rtt_ms == pytest.approx(40.0)
    assert r.video_rx == 0 and r.video_codec == ""
    assert 1.0 < r.mos < 4.4


def test_seed_dict_has_every_seed_field_as_strings() -> None:
    r = build_report(stats(rx=90, rx_lost=10), now=T0, codec="PCMU", clock_rate=8000)
    seed = r.to_seed_dict()
    assert set(seed) == set(SEED_NAMES.values())
    assert len(seed) == 26
    assert all(isinstance(v, str) for v in seed.values())
    assert seed["lksAudioRxLost"] == "0.100000" and seed["lksAudioTxLost"] == "0"
    assert seed["lksAudioRx"] == "90" and seed["lksDeviceType"] == "terminal"
    assert seed["lksAudioRxAvgjitter"] == "60"  # 480 / 8 kHz


def test_max_and_avg_jitter_across_reports() -> None:
    r1 = build_report(stats(rx_jitter=480), now=T0, clock_rate=48000)
    r2 = build_report(stats(rx=200, rx_jitter=1440), r1, now=T0 + 3, clock_rate=48000)
    r3 = build_report(stats(rx=300, rx_jitter=96), r2, now=T0 + 6, clock_rate=48000)
    assert r3.audio_rx_max_jitter == pytest.approx(30.0)
    assert r3.audio_rx_avg_jitter == pytest.approx((10 + 30 + 2) / 3, abs=0.01)
    assert r3.timestamp == r1.timestamp and r3.duration == 6


def test_tx_loss_from_remote_inbound_rtp() -> None:
    r = build_report(stats(tx=200, tx_lost=20), now=T0)
    assert r.audio_tx_lost == pytest.approx(0.1)
    assert r.audio_tx_lost_packets == 20


def test_w3c_seconds_jitter_and_object_entries() -> None:
    @dataclass
    class Inbound:
        type: str = "inbound-rtp"
        kind: str = "audio"
        packetsReceived: int = 50
        packetsLost: int = 0
        jitter: float = 0.004

    r = build_report({"x": Inbound()}, now=T0)
    assert r.audio_rx == 50 and r.audio_rx_avg_jitter == pytest.approx(4.0)


def test_mos_follows_interval_loss() -> None:
    bad = build_report(stats(rx=100, rx_lost=30), now=T0, codec="PCMU", clock_rate=8000)
    good = build_report(stats(rx=1100, rx_lost=30), bad, now=T0 + 3, codec="PCMU",
                        clock_rate=8000)
    assert good.mos > 4.0 and bad.mos < 3.0
    assert good.mos > bad.mos
    assert build_report({}, now=T0).mos == 0.0
    assert Report().device_type == "terminal"


def test_empty_report_carries_ids_and_gets_a_timestamp() -> None:
    empty = Report.empty("call-1", "1002")
    assert (empty.call_id, empty.extension, empty.timestamp) == ("call-1", "1002", 0)
    r = build_report(stats(), empty, now=T0)
    assert r.call_id == "call-1" and r.extension == "1002"
    assert r.timestamp == int(T0 * 1000) and r.duration == 0
