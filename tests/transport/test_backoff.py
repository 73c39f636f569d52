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
