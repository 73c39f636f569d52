"""The main screen's actions: what each key does to the selected call.

A mixin of :class:`~.main.MainScreen`, kept apart so the screen module holds layout and
redraw and this one holds behaviour. Every phone action runs in a worker (:meth:`_run`)
and a refused action becomes a notification, never a crash (:meth:`_guard`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from ...errors import AgentConsoleError
from ...softphone.api import CallStatus, SessionAPI
from ..view import call_state, is_ringing_in, who
from ..widgets import DialBar

if TYPE_CHECKING:
    from ..app import AgentConsoleApp

    _ScreenBase = Screen[None]
else:
    _ScreenBase = object

logger = logging.getLogger(__name__)

HANGUP_CONFIRM_S = 2.0


class CallActions(_ScreenBase):
    """``action_*`` methods and ``check_action`` for :class:`~.main.MainScreen`."""

    selected: str | None
    keymap: dict[str, tuple[str, ...]]
    _action_lock: asyncio.Lock
    _answering: set[str]  # answers sent, call not talking yet
    _hangup_armed: tuple[str, float] | None

    if TYPE_CHECKING:
        @property
        def console(self) -> AgentConsoleApp: ...
        def sessions(self) -> list[SessionAPI]: ...
        def sync(self) -> None: ...
        def selected_session(self) -> SessionAPI | None: ...
        def refresh_call(self, call_id: str | None) -> None: ...
        def select_call(self, call_id: str | None) -> None: ...
        def key_for(self, action_id: str) -> str: ...
        def _refresh_footer(self, calls: list[SessionAPI]) -> None: ...

    # ----- helpers --------------------------------------------------------------------------
    def _run(self, fn: Callable[[], Any], call_id: str | None = None) -> None:
        """Start a phone action in a worker and return at once.

        Actions are dispatched on the app's message loop; awaiting a slow phone call
        there (an answer waits for media set-up) would hold up every repaint that needs
        the app, the footer rebuild among them, for as long as the call takes. The
        worker keeps the console live; :meth:`_guard` keeps actions in key order.
        """
        self.run_worker(self._guard(fn, call_id), group="call-action", exit_on_error=False)

    async def _guard(self, fn: Callable[[], Any], call_id: str | None = None) -> Any:
        """Run an action; a refused action becomes a notification, never a crash.

        Afterwards the call acted on (``call_id``; all calls when None) is redrawn, so
        the footer follows the new state even if the call's own event is still queued.
        """
        async with self._action_lock:
            try:
                result = fn()
                if inspect.isawaitable(result):
                    result = await result
                return result
            except AgentConsoleError as exc:
                self.notify(exc.message, title=exc.title, severity="error")
            except Exception as exc:  # noqa: BLE001 - the console must survive a library bug
                logger.exception("action failed")
                self.notify(str(exc) or type(exc).__name__, title="Action failed",
                            severity="error")
            finally:
                if self.is_attached:
                    self.refresh_call(call_id)
        return None

    def _ringing(self) -> list[SessionAPI]:
        """Ringing calls that can still be answered or rejected (not being answered)."""
        return [s for s in self.sessions()
                if is_ringing_in(s) and s.call_id not in self._answering]

    def _selected_ringing(self) -> SessionAPI | None:
        selected = self.selected_session()
        if selected is not None and is_ringing_in(selected) \
                and selected.call_id not in self._answering:
            return selected
        return None

    def _ring_target(self) -> SessionAPI | None:
        selected = self.selected_session()
        if selected is not None and is_ringing_in(selected) \
                and selected.call_id not in self._answering:
            return selected
        ringing = self._ringing()
        return ringing[0] if ringing else None

    def _talking_selected(self, what: str) -> SessionAPI | None:
        session = self.selected_session()
        if session is None or call_state(session.status) not in ("TALKING", "HELD", "CONSULT"):
            self.notify(f"Select a connected call to {what}.", severity="warning")
            return None
        return session

    def _consult_leg(self) -> SessionAPI | None:
        legs = [s for s in self.sessions() if s.status.is_transfer]
        selected = self.selected_session()
        if selected is not None and selected in legs:
            return selected
        return legs[-1] if legs else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide bindings that cannot apply now, so the footer shows what works."""
        selected = self.selected_session()
        state = call_state(selected.status) if selected is not None else None
        connected = state in ("TALKING", "HELD", "CONSULT")
        if action == "call_answer":
            return bool(self._ringing())
        if action == "call_reject":
            return self._selected_ringing() is not None
        if action == "call_hangup":
            return selected is not None
        if action in ("call_hold", "call_mute", "call_record"):
            return connected
        if action == "call_transfer":
            return connected and not selected.status.is_transfer  # type: ignore[union-attr]
        if action == "call_consult":  # one consult at a time: complete or cancel it first
            return connected and selected is not None and not selected.status.is_transfer \
                and self._consult_leg() is None
        if action in ("call_complete_transfer", "call_cancel_transfer", "call_swap"):
            return self._consult_leg() is not None
        if action == "call_pause_record":
            return connected and selected.status.record_status in ("recording", "pause")  # type: ignore[union-attr]
        if action in ("call_next", "call_prev"):
            # With a call on screen Tab stays on the calls (it would otherwise move the
            # focus into the dial bar and the next key would be typed there).
            return bool(self.sessions())
        if action == "call_line":
            line = parameters[0] if parameters else 1
            return isinstance(line, int) and 1 <= line <= len(self.sessions())
        return True

    # ----- actions: calls -------------------------------------------------------------------
    def action_call_answer(self) -> None:
        session = self._ring_target()
        if session is None:
            self.notify("No call is ringing.", severity="warning")
            return
        call_id = session.call_id
        self.selected = call_id

        async def answer() -> object:
            try:
                return await session.answer()
            finally:
                self._answering.discard(call_id)

        # An answer can take seconds (media set-up) before the call leaves the queue: it
        # is taken already, so Answer/Reject leave the footer now, not when it returns.
        self._answering.add(call_id)
        self._refresh_footer(self.sessions())
        self._run(answer, call_id)

    def action_call_reject(self) -> None:
        """Reject the selected ringing call only: unlike answering, a reject is not undone,
        so it never falls back to another call the agent did not pick."""
        session = self._selected_ringing()
        if session is None:
            self.notify("Select the ringing call to reject.", severity="warning")
            return
        self._run(session.reject, session.call_id)

    def action_call_hangup(self) -> None:
        session = self.selected_session()
        if session is None:
            return
        if call_state(session.status) in ("TALKING", "HELD", "CONSULT"):
            now = self.console.clock.monotonic()
            armed = self._hangup_armed
            if armed is None or armed[0] != session.call_id or now - armed[1] > HANGUP_CONFIRM_S:
                self._hangup_armed = (session.call_id, now)
                key = self.key_for("call.hangup")
                self.notify(f"Press {key} again to hang up {who(session.status)}.",
                            title="Hang up?", timeout=HANGUP_CONFIRM_S)
                return
        self._hangup_armed = None
        self._run(session.hangup, session.call_id)

    def _toggle(self, is_on: Callable[[CallStatus], bool],
                off: Callable[[SessionAPI], object], on: Callable[[SessionAPI], object]) -> None:
        """``off(call)`` on the selected call if ``is_on(its status)``, else ``on(call)``."""
        session = self.selected_session()
        if session is not None:
            act = off if is_on(session.status) else on
            self._run(lambda: act(session), session.call_id)

    def action_call_hold(self) -> None:
        self._toggle(lambda status: status.is_hold, lambda s: s.unhold(), lambda s: s.hold())

    def action_call_mute(self) -> None:
        self._toggle(lambda status: status.is_mute, lambda s: s.unmute(), lambda s: s.mute())

    def action_call_transfer(self) -> None:
        if self._talking_selected("transfer") is not None:
            self.query_one(DialBar).open("transfer")

    def action_call_consult(self) -> None:
        if self._consult_leg() is not None:
            self.notify("Complete, cancel or swap the consult under way first.",
                        severity="warning")
            return
        if self._talking_selected("consult") is not None:
            self.query_one(DialBar).open("consult")

    def action_call_complete_transfer(self) -> None:
        leg = self._consult_leg()
        if leg is not None:
            self._run(leg.attended_transfer, leg.call_id)

    def action_call_cancel_transfer(self) -> None:
        leg = self._consult_leg()
        if leg is not None:
            self._run(leg.cancel_transfer, leg.call_id)

    def action_call_swap(self) -> None:
        """Swap caller and consulted party; the selection follows the one now talking."""
        leg = self._consult_leg()
        if leg is None:
            return
        parent = leg.status.transfer_parent
        pair = {leg.call_id, parent.call_id if parent is not None else ""}

        async def swap_and_follow() -> None:
            await leg.swap()
            talking = [s.call_id for s in self.sessions()
                       if s.call_id in pair and not s.status.is_hold]
            if len(talking) == 1 and talking[0] != self.selected:
                self.select_call(talking[0])

        self._run(swap_and_follow, leg.call_id)

    def action_call_record(self) -> None:
        self._toggle(lambda status: status.record_status in ("recording", "pause"),
                     lambda s: s.stop_record(), lambda s: s.start_record())

    def action_call_pause_record(self) -> None:
        self._toggle(lambda status: status.record_status == "pause",
                     lambda s: s.resume_record(), lambda s: s.pause_record())

    def _step(self, delta: int) -> None:
        ids = [s.call_id for s in self.sessions()]
        if not ids:
            return
        index = ids.index(self.selected) if self.selected in ids else -delta
        self.select_call(ids[(index + delta) % len(ids)])

    def action_call_next(self) -> None:
        self._step(1)

    def action_call_prev(self) -> None:
        self._step(-1)

    def action_call_line(self, line: int = 1) -> None:
        """Select the call shown as line ``line`` (1-based, the queue and panels' order)."""
        ids = [s.call_id for s in self.sessions()]
        if 1 <= line <= len(ids):
            self.select_call(ids[line - 1])

    # ----- actions: everything else ---------------------------------------------------------
    def action_dial(self) -> None:
        self.query_one(DialBar).open("dial")

    def action_redial(self) -> None:
        recent = self.console.recent_numbers
        if not recent:
            self.notify("Nothing to redial yet.", severity="warning")
            return
        self._run(lambda: self.console.dial(recent[0]))

    def action_agent_state(self) -> None:
        self.console.open_agent_menu()

    def action_agent_auto_answer(self) -> None:
        self.console.integration.toggle_auto_answer()

    def action_wrapup(self) -> None:
        self.console.wrapup.open()

    def action_history(self) -> None:
        from .history import HistoryScreen

        self.app.push_screen(HistoryScreen(self.keymap), lambda _: self.sync())

    def action_devices(self) -> None:
        from .devices import DevicesScreen

        self.app.push_screen(DevicesScreen(self.keymap["devices"]))

    def action_trace(self) -> None:
        from .trace import TraceScreen

        self.app.push_screen(TraceScreen(self.console.trace, self.keymap["trace"]))

    def action_help(self) -> None:
        from .help import HelpScreen

        self.app.push_screen(HelpScreen(self.keymap))

    def action_palette(self) -> None:
        self.app.action_command_palette()

    async def action_quit(self) -> None:
        await self.console.request_quit()

    def action_detach(self) -> None:
        """Let the terminal go and leave the phone running (the holder keeps it)."""
        self.console.remote_view.detach()
