"""Capture taps: a device thread's PCM reaches each call at the call's own rate."""

from __future__ import annotations

import math
import threading
from array import array

from agentconsole.media.taps import CaptureTap, capture_source


def _tone(rate: int, hz: float, seconds: float) -> bytes:
    n = int(rate * seconds)
    return array("h", (int(8000 * math.sin(2 * math.pi * hz * i / rate))
                       for i in range(n))).tobytes()


def test_a_plain_rtp_source_reads_at_its_codec_rate_and_closing_removes_its_tap() -> None:
    taps: list[CaptureTap] = []
    lock = threading.Lock()
    source = capture_source(taps, lock, 48000, 8000, lambda read: read)
    assert source.rate == 8000 and len(taps) == 1
    with lock:
        taps[0].push(_tone(48000, 400, 0.1))
    chunk = source.read(160)
    assert len(chunk) == 320  # 20 ms of s16 mono at 8 kHz
    samples = array("h")
    samples.frombytes(chunk)
    assert max(abs(s) for s in samples) > 4000  # the tone, resampled, not silence
    source.close()
    assert taps == []
    source.close()  # twice is harmless


def test_a_tap_pads_with_silence_when_the_device_is_behind() -> None:
    tap = CaptureTap(16000, threading.Lock(), 16000)
    assert tap.read(320) == bytes(640)
