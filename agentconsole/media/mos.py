"""Call-quality estimate: a simplified ITU-T G.107 E-model.

The agent wants one number for "how does this call sound": the E-model turns loss and
delay into a transmission rating R and then a MOS (G.107 Annex B). With the default
values of every other G.107 parameter, R = 93.2 - Id - Ie_eff:

- Id, the delay impairment, uses the usual piecewise-linear fit of G.107's Id curve for
  one-way mouth-to-ear delay d in ms: 0.024 d + 0.11 (d - 177.3) when d > 177.3;
- Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl) (G.107 §7.4, random loss so
  BurstR = 1), with the codec's equipment impairment Ie and loss robustness Bpl.

The codec table uses G.113 Appendix I planning values for G.711 with packet-loss
concealment; G.722 and Opus have no narrow-band Ie in G.113, so they get Ie 0 and a
Bpl that reflects their better concealment. It is an estimate for a screen, not a
measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

R_DEFAULT = 93.2  # G.107 R with every parameter at its default value
PTIME_MS = 20.0


@dataclass(frozen=True)
class CodecImpairment:
    ie: float  # equipment impairment factor
    bpl: float  # packet-loss robustness factor
    lookahead_ms: float  # algorithmic delay added to the packet time


CODEC_IMPAIRMENTS: dict[str, CodecImpairment] = {
    "pcmu": CodecImpairment(ie=0.0, bpl=25.1, lookahead_ms=0.0),
    "pcma": CodecImpairment(ie=0.0, bpl=25.1, lookahead_ms=0.0),
    "g722": CodecImpairment(ie=0.0, bpl=20.0, lookahead_ms=1.5),
    "opus": CodecImpairment(ie=0.0, bpl=30.0, lookahead_ms=6.5),
}
_UNKNOWN = CodecImpairment(ie=10.0, bpl=10.0, lookahead_ms=10.0)


def codec_impairment(codec: str | None) -> CodecImpairment:
    return CODEC_IMPAIRMENTS.get((codec or "").lower(), _UNKNOWN)


def delay_impairment(one_way_ms: float) -> float:
    """Id for a one-way delay (G.107 simplified fit)."""
    d = max(0.0, one_way_ms)
    return 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)


def effective_equipment_impairment(codec: str | None, loss_fraction: float) -> float:
    """Ie_eff for a random packet-loss ratio in 0..1 (G.107 §7.4, BurstR = 1)."""
    imp = codec_impairment(codec)
    ppl = min(100.0, max(0.0, loss_fraction * 100.0))
    return imp.ie + (95.0 - imp.ie) * ppl / (ppl + imp.bpl)


def r_to_mos(r: float) -> float:
    """G.107 Annex B mapping from the rating R to a MOS on 1..4.5."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)


def one_way_delay_ms(codec: str | None, rtt_ms: float, jitter_ms: float) -> float:
    """Mouth-to-ear estimate: half the RTT, a jitter buffer of twice the jitter, the
    packet time and the codec's look-ahead."""
    imp = codec_impairment(codec)
    return max(0.0, rtt_ms) / 2 + 2 * max(0.0, jitter_ms) + PTIME_MS + imp.lookahead_ms


def rating(
    codec: str | None, loss_fraction: float, rtt_ms: float = 0.0, jitter_ms: float = 0.0
) -> float:
    delay = one_way_delay_ms(codec, rtt_ms, jitter_ms)
    return R_DEFAULT - delay_impairment(delay) - effective_equipment_impairment(
        codec, loss_fraction
    )


def estimate_mos(
    codec: str | None, loss_fraction: float, rtt_ms: float = 0.0, jitter_ms: float = 0.0
) -> float:
    """MOS estimate (1.0..4.5) from codec, loss ratio (0..1), RTT and jitter in ms."""
    return round(r_to_mos(rating(codec, loss_fraction, rtt_ms, jitter_ms)), 2)
