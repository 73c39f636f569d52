"""Reconnect backoff: doubling, cap, 50-100 % randomization (RFC 5626 §4.5)."""

from __future__ import annotations

import random

import pytest

from agentconsole.transport.backoff import Backoff


def test_sequence_doubles_and_caps_within_jitter_bounds() -> None:
    backoff = Backoff(2.0, 30.0, random.Random(1234))
    nominal = [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]
    delays = [backoff.next() for _ in nominal]
    for delay, top in zip(delays, nominal, strict=True):
        assert 0.5 * top <= delay <= top
    assert backoff.attempts == len(nominal)
    assert len(set(delays)) == len(delays)  # randomized, not lock-step


def test_reset_starts_over() -> None:
    backoff = Backoff(2.0, 30.0, random.Random(7))
    for _ in range(6):
        backoff.next()
    backoff.reset()
    assert backoff.nominal() == 2.0
    assert 1.0 <= backoff.next() <= 2.0


def test_same_seed_same_sequence() -> None:
    a = Backoff(0.05, 0.2, random.Random(99))
    b = Backoff(0.05, 0.2, random.Random(99))
    assert [a.next() for _ in range(10)] == [b.next() for _ in range(10)]


def test_long_outage_does_not_overflow() -> None:
    backoff = Backoff(2.0, 30.0, random.Random(0))
    for _ in range(5000):
        delay = backoff.next()
    assert 15.0 <= delay <= 30.0


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (-1.0, 1.0), (5.0, 1.0)])
def test_invalid_bounds(lo: float, hi: float) -> None:
    with pytest.raises(ValueError):
        Backoff(lo, hi)


# ----- the probing phase (issue: re-register within 5 s of the registrar's return) --------
def test_probing_phase_caps_delays_for_the_first_minute_then_backs_off() -> None:
    backoff = Backoff(2.0, 30.0, random.Random(5), probe_s=4.0, probe_window_s=60.0)
    now, delays = 0.0, []
    while now < 120.0:
        delay = backoff.next(now)
        delays.append((now, delay))
        now += delay + 0.05  # each attempt fails fast (refused)
    in_window = [d for t, d in delays if t < 60.0]
    after = [d for t, d in delays if t >= 60.0 + 4.0]
    assert in_window and all(1.0 <= d <= 4.0 for d in in_window), in_window
    assert after and all(15.0 <= d <= 30.0 for d in after), after


def test_probing_phase_without_a_clock_counts_the_delays() -> None:
    backoff = Backoff(2.0, 30.0, random.Random(6), probe_s=4.0, probe_window_s=20.0)
    delays = [backoff.next() for _ in range(12)]
    spent = 0.0
    for delay in delays:
        assert delay <= (4.0 if spent < 20.0 else 30.0)
        spent += delay
    assert max(delays) > 4.0


def test_reset_restarts_the_probing_phase() -> None:
    backoff = Backoff(2.0, 30.0, random.Random(8), probe_s=4.0, probe_window_s=60.0)
    for t in range(0, 300, 10):
        backoff.next(float(t))
    assert backoff.nominal(300.0) == 30.0
    backoff.reset()
    assert backoff.nominal(1000.0) == 2.0 and backoff.next(1000.0) <= 2.0


@pytest.mark.parametrize(("probe", "window"), [(0.0, 60.0), (-1.0, 60.0), (4.0, -1.0)])
def test_invalid_probing_phase(probe: float, window: float) -> None:
    with pytest.raises(ValueError):
        Backoff(2.0, 30.0, probe_s=probe, probe_window_s=window)
