"""Randomized exponential back-off with a probing phase, for recovering a lost server.

The nominal delay doubles from ``min_s`` and is capped at ``max_s`` (2, 4, 8, 16, 30,
30 … s with the transport defaults, the JsSIP recovery intervals). Each delay is drawn
uniformly from [0.5·d, d], the 50–100 % randomization of RFC 5626 §4.5: a whole call
centre that lost its registrar at once must not come back in lock-step, and drawing
*below* the nominal value keeps the first retry within ``min_s`` of the drop.

The probing phase bounds recovery after short outages, the common case (a registrar or
proxy restart, a Wi-Fi roam): during the first ``probe_window_s`` of an outage no
nominal delay exceeds ``probe_s``, so the server is found again at most ``probe_s``
after it came back; after that window the plain doubling takes over (by then it is
usually at ``max_s``). ``probe_window_s = 0`` turns the phase off.

Sans-IO: the caller passes ``now`` (any monotonic clock); without it, the time spent in
the outage is taken as the sum of the delays handed out, which is what a caller whose
attempts fail at once (a refused connection) actually waits.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays for successive attempts; :meth:`reset` after a success."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None, *,
                 probe_s: float = 0.0, probe_window_s: float = 0.0) -> None:
        if min_s <= 0 or max_s < min_s:
            raise ValueError(f"invalid backoff bounds {min_s!r}..{max_s!r}")
        if probe_window_s < 0 or (probe_window_s > 0 and probe_s <= 0):
            raise ValueError(f"invalid probing phase {probe_s!r} s for {probe_window_s!r} s")
        self.min_s = min_s
        self.max_s = max_s
        self.probe_s = probe_s
        self.probe_window_s = probe_window_s
        self._rng = rng if rng is not None else random.Random()
        self._attempts = 0
        self._spent = 0.0
        self._since: float | None = None

    @property
    def attempts(self) -> int:
        """How many delays were handed out since the last :meth:`reset`."""
        return self._attempts

    def elapsed(self, now: float | None = None) -> float:
        """Time spent in the current outage: since the first delay (``now`` given), else
        the sum of the delays handed out."""
        if now is None or self._since is None:
            return self._spent
        return max(0.0, now - self._since)

    def nominal(self, now: float | None = None) -> float:
        """The un-randomized delay the next call to :meth:`next` is based on."""
        # Cap the exponent so the power never overflows, however long the outage.
        doubling = min(self.max_s, self.min_s * 2.0 ** min(self._attempts, 32))
        if self.elapsed(now) < self.probe_window_s:
            return min(doubling, self.probe_s)
        return doubling

    def next(self, now: float | None = None) -> float:
        """Return the delay before the next attempt and advance the sequence."""
        if self._since is None and now is not None:
            self._since = now
        nominal = self.nominal(now)
        self._attempts += 1
        delay = self._rng.uniform(0.5 * nominal, nominal)
        self._spent += delay
        return delay

    def reset(self) -> None:
        """Start again from ``min_s`` (call when an attempt succeeded)."""
        self._attempts = 0
        self._spent = 0.0
        self._since = None


__all__ = ["Backoff"]
