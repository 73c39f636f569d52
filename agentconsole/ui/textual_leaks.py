"""What Textual keeps of widgets that are gone, released by the console's 1 Hz tick.

A console runs for a whole shift and mounts a few dozen widgets per call (the queue line,
the call panel, the wrap-up form, the notifications) and removes them again. Two things
in Textual (8.2.x and its main branch) outlive them; the shift soak
(``bench/bench_soak.py``) found both:

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

:func:`release` undoes both; each half does nothing on a Textual that no longer has the
problem (no empty holder to find, no ``cache_clear`` on the method).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.screen import Screen


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
