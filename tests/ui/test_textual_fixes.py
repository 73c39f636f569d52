"""What Textual gets wrong in a shift-long console, worked round (`ui.textual_fixes`).

The shift soak (``bench/bench_soak.py``) found all three: an empty toast holder left
mounted each time a notification went before its toast did; the styles cache (with every
rendered line) of removed widgets kept by ``StylesCache.get_inner_outer``'s
``lru_cache``; and a toast built for a notification that had just expired, whose
negative timer delay spun the event loop for good.
"""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Callable

from textual.notifications import Notification
from textual.widgets import Label
from textual.widgets._toast import Toast, ToastHolder

from agentconsole.ui.app import AgentConsoleApp
from agentconsole.ui.textual_fixes import MIN_TOAST_S

from .fakes import FakePhone

MakeApp = Callable[..., tuple[AgentConsoleApp, FakePhone]]


def toast_holders(app: AgentConsoleApp) -> list[object]:
    return [holder for screen in app.screen_stack for rack in screen.query_children("ToastRack")
            for holder in rack.children]


async def test_a_notification_gone_before_its_toast_leaves_no_holder(make_app: MakeApp) -> None:
    """A notification that goes while its toast is up (here cleared; in a shift, timed
    out on the wrap-up form's copy first) drops the toast; the tick drops its holder."""
    app, _phone = make_app()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        app.notify("Incoming: Kwame", timeout=30)
        await pilot.pause()
        assert len(toast_holders(app)) == 1
        tasks_with_toast = len(app.main.query("*"))
        app.clear_notifications()
        await pilot.pause()
        app._tick()
        await pilot.pause()
        assert toast_holders(app) == []
        assert len(app.main.query("*")) < tasks_with_toast


async def test_the_tick_keeps_a_toast_that_is_still_up(make_app: MakeApp) -> None:
    app, _phone = make_app()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        app.notify("the target is ringing (180)", title="Transfer", timeout=30)
        await pilot.pause()
        app._tick()
        await pilot.pause()
        (holder,) = toast_holders(app)
        assert [str(toast.render()).splitlines()[-1] for toast in holder.query("Toast")] == [  # type: ignore[attr-defined]
            "the target is ringing (180)"]


async def test_removed_widgets_keep_no_rendered_lines(make_app: MakeApp) -> None:
    """Call panels, queue lines and wrap-up forms are drawn and removed all shift long:
    their styles caches (every rendered line) must go with them, not stay in the global
    cache Textual's render keeps. (The screen's last arrangement may still name the last
    one removed until the next layout: at most one.)"""
    app, _phone = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        caches = []
        for n in range(10):
            label = Label(f"Caller {n} · Talk 00:42")
            await app.main.mount(label)
            await pilot.pause()
            assert label.region.area  # drawn
            caches.append(weakref.ref(label._styles_cache))
            await label.remove()
            del label
            await pilot.pause()
        app._tick()
        await pilot.pause()
        gc.collect()
        assert sum(cache() is not None for cache in caches) <= 1


async def test_a_toast_of_a_notification_just_expired_goes_and_the_loop_runs_on(
        make_app: MakeApp) -> None:
    """``ToastRack.show`` checks expiry, then the toast takes ``time_left`` (negative if
    it expired in between) as its timer's delay; Textual's timer never returns from a
    negative one. The console's toasts get a short positive delay instead: the toast
    goes, the tick keeps ticking."""
    app, _phone = make_app()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        expired = Notification("Incoming: Kwame", timeout=1, raised_at=time.time() - 2)
        toast = Toast(expired)
        assert toast._timeout == MIN_TOAST_S
        rack = app.main.query_one("ToastRack")
        await rack.mount(ToastHolder(toast))
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        while toast.is_attached:  # bounded by the test timeout: a spinning loop never gets here
            await pilot.pause()
        app._tick()
        await pilot.pause()
        assert toast_holders(app) == []
