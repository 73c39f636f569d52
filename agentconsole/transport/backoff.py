"""Randomized exponential backoff for reconnecting a dropped flow.

The nominal delay doubles from ``min_s`` and is capped at ``max_s`` (2, 4, 8, 16, 30,
30 … s with the defaults, the JsSIP recovery intervals). Each delay is drawn uniformly
from [0.5·d, d], the 50–100 % randomization of RFC 5626 §4.5: a whole call centre that
lost its registrar at once must not come back in lock-step, and drawing *below* the
nominal value keeps the first retry within ``min_s`` of the drop.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays for successive reconnect attempts; :meth:`reset` after a success."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        if min_s <= 0 or max_s < min_s:
            raise ValueError(f"invalid backoff bounds {min_s!r}..{max_s!r}")
        self.min_s = min_s
        self.max_s = max_s
        self._rng = rng if rng is not None else random.Random()
        self._attempts = 0

    @property
    def attempts(self) -> int:
        """How many delays were handed out since the last :meth:`reset`."""
        return self._attempts

    def nominal(self) -> float:
        """The un-randomized delay the next call to :meth:`next` is based on."""
        # Cap the exponent so the power never overflows, however long the outage.
        return min(self.max_s, self.min_s * 2.0 ** min(self._attempts, 32))

    def next(self) -> float:
        """Return the delay before the next attempt and advance the sequence."""
        nominal = self.nominal()
        self._attempts += 1
        return self._rng.uniform(0.5 * nominal, nominal)

    def reset(self) -> None:
        """Start again from ``min_s`` (call when a connection succeeded)."""
        self._attempts = 0
