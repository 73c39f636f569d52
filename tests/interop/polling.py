"""Waiting on other processes (real tmux, sshd, baresip) from synchronous interop and
end-to-end tests: they watch a log line appear, a process die or a
recording grow, polling at the same pace as :func:`tests.waiting.wait_until`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from ..waiting import POLL_S

T = TypeVar("T")


def poll_until(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """:func:`~tests.waiting.wait_until` for synchronous end-to-end tests that watch other processes
    (a log line, a process gone, a recording growing): returns the first truthy
    ``probe()`` value; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_S)
