"""SIP timer values (RFC 3261 §17 and Table 4, RFC 6026 §8) and deadline bookkeeping.

Everything here is plain arithmetic on the ``now`` the caller passes in: no clock is
read, so transaction timers can be driven by a fake clock in tests and by the event
loop's clock in production.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimerConfig:
    """The three base timers plus the two fixed delays RFC 3261 names.

    ``t1`` is the round-trip estimate (500 ms default), ``t2`` the cap on non-INVITE
    and INVITE-response retransmission intervals (4 s), ``t4`` the time a message may
    linger in the network (5 s) — RFC 3261 §17.1.1.1, §17.1.2.2, Table 4.

    ``timer_d`` is not derived from T1: RFC 3261 §17.1.1.2 asks for "at least 32 s" on
    unreliable transports, because it must outlast the *peer's* Timer H, whose T1 we do
    not know. ``trying_delay`` is the 200 ms after which an INVITE server transaction
    answers 100 Trying on the TU's behalf (§17.2.1).
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timer_d: float = 32.0
    trying_delay: float = 0.2

    def __post_init__(self) -> None:
        if not self.t1 > 0 or not self.t4 > 0:
            raise ValueError("T1 and T4 must be positive")
        if self.t2 < self.t1:
            raise ValueError("T2 must not be smaller than T1")
        if self.timer_d < 0 or self.trying_delay < 0:
            raise ValueError("Timer D and the 100 Trying delay must not be negative")

    @classmethod
    def from_ms(
        cls,
        t1_ms: float = 500,
        t2_ms: float = 4000,
        t4_ms: float = 5000,
        *,
        timer_d_ms: float = 32000,
        trying_delay_ms: float = 200,
    ) -> TimerConfig:
        """Build a config from milliseconds (the unit SIP stacks are usually configured in)."""
        return cls(
            t1=t1_ms / 1000.0,
            t2=t2_ms / 1000.0,
            t4=t4_ms / 1000.0,
            timer_d=timer_d_ms / 1000.0,
            trying_delay=trying_delay_ms / 1000.0,
        )

    # The helpers below give the values for an unreliable transport; the transactions
    # use zero instead of D, I, J and K on reliable ones and never arm A, E or G there.

    @property
    def timer_a(self) -> float:
        """INVITE retransmit, initial interval (§17.1.1.2)."""
        return self.t1

    @property
    def timer_b(self) -> float:
        """INVITE client transaction timeout (§17.1.1.2)."""
        return 64 * self.t1

    @property
    def timer_e(self) -> float:
        """Non-INVITE retransmit, initial interval (§17.1.2.2)."""
        return self.t1

    @property
    def timer_f(self) -> float:
        """Non-INVITE client transaction timeout (§17.1.2.2)."""
        return 64 * self.t1

    @property
    def timer_g(self) -> float:
        """INVITE final-response retransmit, initial interval (§17.2.1)."""
        return self.t1

    @property
    def timer_h(self) -> float:
        """Wait for the ACK to a non-2xx final (§17.2.1)."""
        return 64 * self.t1

    @property
    def timer_i(self) -> float:
        """Absorb ACK retransmissions (§17.2.1)."""
        return self.t4

    @property
    def timer_j(self) -> float:
        """Absorb non-INVITE request retransmissions (§17.2.2)."""
        return 64 * self.t1

    @property
    def timer_k(self) -> float:
        """Absorb non-INVITE response retransmissions (§17.1.2.2)."""
        return self.t4

    @property
    def timer_l(self) -> float:
        """INVITE server transaction in Accepted (RFC 6026 §8.7)."""
        return 64 * self.t1

    @property
    def timer_m(self) -> float:
        """INVITE client transaction in Accepted (RFC 6026 §8.4)."""
        return 64 * self.t1


class TimerSet:
    """Named one-shot deadlines; a transaction keeps one of these.

    Re-arming a name replaces its deadline. :meth:`pop_due` hands the earliest due
    timer back (ties broken by arming order, so behaviour is deterministic).
    """

    __slots__ = ("_deadlines", "_order", "_seq")

    def __init__(self) -> None:
        self._deadlines: dict[str, float] = {}
        self._order: dict[str, int] = {}
        self._seq = 0

    def arm(self, name: str, deadline: float) -> None:
        self._deadlines[name] = deadline
        self._seq += 1
        self._order[name] = self._seq

    def cancel(self, *names: str) -> None:
        for name in names:
            self._deadlines.pop(name, None)
            self._order.pop(name, None)

    def clear(self) -> None:
        self._deadlines.clear()
        self._order.clear()

    def deadline(self, name: str) -> float | None:
        return self._deadlines.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._deadlines

    def __len__(self) -> int:
        return len(self._deadlines)

    def next_deadline(self) -> float | None:
        return min(self._deadlines.values()) if self._deadlines else None

    def pop_due(self, now: float) -> tuple[str, float] | None:
        """Remove and return ``(name, deadline)`` of the earliest timer due at ``now``."""
        due = [(d, self._order[n], n) for n, d in self._deadlines.items() if d <= now]
        if not due:
            return None
        deadline, _, name = min(due)
        self.cancel(name)
        return name, deadline
