"""How a command that runs until told to stop (``serve``, ``demo --headless``,
``ctl events``) hears that it should: SIGINT (Ctrl-C) or SIGTERM (``kill``, a service
manager) — also when a script started it as a background job, which inherits SIGINT
ignored (POSIX shells without job control).

For the asyncio commands the signals set an :class:`asyncio.Event` the command awaits,
so it leaves through its own ``finally`` (hang up the calls, close the sockets) instead
of by an exception thrown into whatever it was awaiting; a blocking command gets a
KeyboardInterrupt for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading


def stop_on_signals() -> asyncio.Event:
    """An event the running loop sets on SIGINT or SIGTERM.

    Where the loop cannot take signal handlers (not the main thread, or a platform
    without them) the event is never set and Ctrl-C stays a KeyboardInterrupt.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def interrupt_on_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread (a blocking command
    such as ``ctl events`` ends cleanly on either); off the main thread, nothing."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupt)
