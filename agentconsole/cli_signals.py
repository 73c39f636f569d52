"""How a command that serves until told to stop (``serve``, ``demo --headless``) hears
that it should: SIGINT (Ctrl-C) or SIGTERM (``kill``, a service manager).

The signals set an :class:`asyncio.Event` the command awaits, so it leaves through its
own ``finally`` (hang up the calls, close the sockets) instead of by an exception thrown
into whatever it was awaiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal


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
