"""One 20 ms timer for every plain-RTP call of the process.

Each call needs one frame out and one frame played every packet time. Rather than a
task (or a thread) per call sleeping on its own, the calls register with the loop's
:class:`MediaClock` and one ``loop.call_at`` timer ticks them all: 50 wake-ups a
second whatever the number of calls (a native softphone's audio thread does the same
with a sound card's period).

When the loop was late (a burst of other work), the missed ticks are run at once, up to
:data:`MAX_CATCH_UP`; beyond that the clock jumps ahead and tells each member how many
ticks it skipped, so senders keep their RTP timestamps on the wall clock (RFC 3550
§5.1) instead of sending a burst of stale audio.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Protocol

log = logging.getLogger(__name__)

TICK_S = 0.02
MAX_CATCH_UP = 5

_clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MediaClock] = \
    weakref.WeakKeyDictionary()


class Ticking(Protocol):
    def tick(self, now: float) -> None: ...

    def skip(self, ticks: int) -> None: ...


class MediaClock:
    """Ticks its members every :data:`TICK_S` on one loop; stops when none is left."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._members: list[Ticking] = []
        self._handle: asyncio.TimerHandle | None = None
        self._start = 0.0
        self._count = 0
        self.late_ticks = 0  # ticks run late to catch up (a sign of an overloaded loop)
        self.skipped_ticks = 0

    @classmethod
    def for_loop(cls, loop: asyncio.AbstractEventLoop | None = None) -> MediaClock:
        loop = loop or asyncio.get_running_loop()
        clock = _clocks.get(loop)
        if clock is None:
            clock = _clocks[loop] = cls(loop)
        return clock

    @property
    def members(self) -> int:
        return len(self._members)

    def add(self, member: Ticking) -> None:
        if member in self._members:
            return
        self._members.append(member)
        if self._handle is None:
            self._start = self._loop.time()
            self._count = 0
            self._schedule()

    def remove(self, member: Ticking) -> None:
        if member in self._members:
            self._members.remove(member)
        if not self._members and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self) -> None:
        self._handle = self._loop.call_at(self._start + (self._count + 1) * TICK_S, self._run)

    def _run(self) -> None:
        now = self._loop.time()
        due = int((now - self._start) / TICK_S) - self._count
        if due > MAX_CATCH_UP:
            skipped = due - 1
            self._count += skipped
            self.skipped_ticks += skipped
            for member in list(self._members):
                member.skip(skipped)
            due = 1
        self.late_ticks += max(0, due - 1)
        for _ in range(max(1, due)):
            self._count += 1
            for member in list(self._members):
                try:
                    member.tick(now)
                except Exception:  # one broken call must not silence the others
                    log.exception("media tick failed")
        if self._members:
            self._schedule()
        else:
            self._handle = None
