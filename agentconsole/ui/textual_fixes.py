"""What Textual gets wrong in a console that runs for a whole shift, and the way round it.

A console runs for a whole shift and mounts a few dozen widgets per call (the queue line,
the call panel, the wrap-up form, the notifications) and removes them again. The shift
soak (``bench/bench_soak.py``) found three problems in Textual (8.2.x and its main
branch); the first two are leaks, the third froze the console:

* ``ToastRack.show`` removes a toast whose notification has gone but not the
  ``ToastHolder`` around it, which stays mounted, empty, with its message-pump task, for
  the life of the screen. It happens whenever a notification goes before its toast's own
  timer does: a notification raised while the wrap-up form is open is shown on both
  screens, and the form's copy timing out first makes the main screen's copy stale.
  About one holder per twenty calls, for ever.
* ``StylesCache.get_inner_outer`` is an ``lru_cache(1024)`` on an *instance* method
  (Textualize/textual#6665): its key holds the styles cache of every widget it
  rendered, with all the widget's rendered lines, until 1024 newer keys push it out.
  In the soak that was tens of MB of removed widgets' lines, and the first hundreds of
  calls of a shift growing toward it.
* ``ToastRack.show`` skips notifications that have expired, then builds each ``Toast``,
  which takes ``notification.time_left`` as its timer's delay. A notification that
  expires between the two (a screen change re-shows every notification; a busy machine
  makes the gap tens of microseconds) gets a timer with a *negative* delay, and
  Textual's ``Timer._run`` with a negative interval never leaves its catch-up loop: the
  event loop spins at 100 % CPU for good — no key, no SIP, no media. The soak froze
  this way after about 220 calls (delay -55 µs). :func:`guard_toast_timers` gives such a
  toast a short positive delay instead, so it goes at once.

:func:`release` undoes the two leaks from the console's 1 Hz tick; each half does nothing
on a Textual that no longer has the problem (no empty holder to find, no ``cache_clear``
on the method). :func:`guard_toast_timers` is installed once, when the main screen is
made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from textual.screen import Screen
from textual.widgets._toast import Toast

#: The delay a toast whose notification already expired gets: it goes at the next frame.
MIN_TOAST_S = 0.01


def release(screens: Iterable[Screen[Any]]) -> None:
    """Remove the empty toast holders of ``screens``; forget the render styles cache."""
    for screen in screens:
        for rack in screen.query_children("ToastRack"):
            for holder in list(rack.children):
                if holder.is_mounted and not holder.children:
                    holder.remove()
    _clear_inner_outer_cache()


def _clear_inner_outer_cache() -> None:
    """Empty ``StylesCache.get_inner_outer``'s cache: a hit needs the same live widget
    and colours again, which the next render recomputes in two ``Style`` objects."""
    try:
        from textual._styles_cache import StylesCache
    except ImportError:  # pragma: no cover - a Textual without the module
        return
    cache_clear = getattr(StylesCache.get_inner_outer, "cache_clear", None)
    if callable(cache_clear):
        cache_clear()


def guard_toast_timers() -> None:
    """Make every ``Toast`` built from now on time out after at least :data:`MIN_TOAST_S`
    (never a negative delay, which spins the event loop for ever). Idempotent; does
    nothing on a Textual whose toasts no longer keep their delay in ``_timeout``."""
    init: Callable[..., None] = Toast.__init__
    if getattr(init, "guards_toast_timer", False):
        return

    def guarded_init(toast: Toast, *args: Any, **kwargs: Any) -> None:
        init(toast, *args, **kwargs)
        timeout = getattr(toast, "_timeout", None)
        if isinstance(timeout, (int, float)) and timeout < MIN_TOAST_S:
            toast._timeout = MIN_TOAST_S

    guarded_init.guards_toast_timer = True  # type: ignore[attr-defined]
    Toast.__init__ = guarded_init  # type: ignore[method-assign,assignment]
