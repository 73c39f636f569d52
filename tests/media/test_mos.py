"""E-model (ITU-T G.107, simplified) estimates."""

from __future__ import annotations

import pytest

from agentconsole.media.mos import (
    delay_impairment,
    estimate_mos,
    r_to_mos,
    rating,
)


def test_pcmu_without_loss_is_about_4_4() -> None:
    assert estimate_mos("PCMU", 0.0) == pytest.approx(4.4, abs=0.05)
    assert estimate_mos("opus", 0.0) == pytest.approx(4.4, abs=0.05)


@pytest.mark.parametrize("codec", ["opus", "G722", "PCMU", "PCMA", None])
def test_monotonic_in_loss(codec: str | None) -> None:
    values = [rating(codec, loss / 100) for loss in range(0, 40, 2)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))


def test_monotonic_in_delay() -> None:
    values = [rating("PCMU", 0.0, rtt_ms=rtt) for rtt in range(0, 1000, 50)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert delay_impairment(400) > delay_impairment(177) * 2  # the knee at 177.3 ms


def test_known_points_and_bounds() -> None:
    assert r_to_mos(93.2) == pytest.approx(4.41, abs=0.01)
    assert r_to_mos(-5) == 1.0 and r_to_mos(120) == 4.5
    assert estimate_mos("PCMU", 0.05) < estimate_mos("PCMU", 0.01) < 4.4
    assert 1.0 <= estimate_mos("PCMU", 1.0, rtt_ms=2000) < 1.5
    # G.711 (Bpl 25.1): 1 % random loss costs about 3.6 R points.
    assert rating("PCMU", 0.0) - rating("PCMU", 0.01) == pytest.approx(3.64, abs=0.05)
