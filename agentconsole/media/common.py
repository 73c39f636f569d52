"""Small parts both media stacks (:mod:`.peer` and :mod:`.plain`) are made of.

- :class:`CloseHooks`: callbacks run once when a call's media closes (the recorder
  finishing its file); one failing hook does not stop the others or the close.
- :func:`play_digits`: a DTMF plan (:func:`.dtmf.plan`) played on the loop's clock,
  each digit by the stack's own ``play(digit)``, ',' a pause.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .dtmf import PAUSE, PlannedDigit

log = logging.getLogger(__name__)


class CloseHooks:
    def __init__(self) -> None:
        self._hooks: list[Callable[[], None]] = []

    def add(self, hook: Callable[[], None]) -> None:
        self._hooks.append(hook)

    def run(self) -> None:
        hooks, self._hooks = self._hooks, []
        for hook in hooks:
            try:
                hook()
            except Exception:  # closing must go on
                log.exception("media close hook failed")


async def play_digits(schedule: list[PlannedDigit],
                      play: Callable[[str], Awaitable[None]]) -> None:
    """Start each digit at its planned time after the first (RFC 4733 events)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for item in schedule:
        delay = start + item.start - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if item.digit != PAUSE:
            await play(item.digit)
