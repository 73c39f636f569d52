"""The main screen: header, incoming queue, call panels, dial bar, footer; the call actions.

Selection is one list for ringing and connected calls (line 1, 2, ... in arrival order),
so ``call.next`` / ``call.prev`` and every call action work the same whether a call sits
in the queue or in a panel. The screen reads the phone (attributes down) and redraws on
the app's messages (messages up); the app's one 1 Hz :class:`Tick` refreshes every timer.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingsMap
from textual.screen import Screen
from textual.widgets import Footer, Input

from ...errors import AgentConsoleError
from ..actions import build_bindings, describe_keys
from ..agent_state import AgentStatus, fmt_duration
from ..messages import CallFinished, CallReportUpdated, CallsChanged, PhoneChanged, Tick
from ..view import (
    Quality,
    badges,
    call_state,
    consult_texts,
    footer_state,
    is_ringing_in,
    queue_label,
    related_calls,
    screen_lines,
    short_notice,
    sparkline,
    timers_text,
    who,
)
from ..widgets import CallList, CallView, DialBar, HeaderView, IncomingQueue, QueueRow, StatusHeader

if TYPE_CHECKING:
    from ..app import AgentConsoleApp

logger = logging.getLogger(__name__)

DTMF_KEYS = frozenset("0123456789*#")
HANGUP_CONFIRM_S = 2.0
AGENT_STYLE = {AgentStatus.AVAILABLE: "success", AgentStatus.AWAY: "warning",
               AgentStatus.ACW: "accent", AgentStatus.DND: "error",
               AgentStatus.OFFLINE: "foreground-muted"}


class MainScreen(Screen[None]):
    AUTO_FOCUS = None  # keys act on calls until the agent opens the dial bar
    DEFAULT_CSS = """
    MainScreen { layout: vertical; }
    """

    def __init__(self, keymap: dict[str, tuple[str, ...]]) -> None:
        super().__init__(id="main")
        self.keymap = keymap
        merged = BindingsMap(build_bindings(keymap))
        for key, bindings in self._bindings.key_to_bindings.items():
            merged.key_to_bindings.setdefault(key, []).extend(bindings)
        self._bindings = merged
        self.selected: str | None = None
        self._lines: list[tuple[str, bool]] = []  # (call id, in the queue) in line order
        self._footer: tuple[object, ...] | None = None  # the state the footer was built for
        self._action_lock = asyncio.Lock()
        self._answering: set[str] = set()  # answers sent, call not talking yet
        self._hangup_armed: tuple[str, float] | None = None

    @property
    def console(self) -> AgentConsoleApp:
        return self.app  # type: ignore[return-value]

    def key_for(self, action_id: str) -> str:
        return describe_keys(self.keymap[action_id][:1])

    # ----- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        app = self.console
        yield StatusHeader(id="header")
        yield IncomingQueue(id="queue")
        hint = (f"{self.key_for('dial')} dial · {self.key_for('agent.state')} agent state · "
                f"{self.key_for('help')} help")
        yield CallList(hint=hint, id="calls")
        yield DialBar(app.directory_pairs, lambda: app.recent_numbers, id="dial")
        yield Footer()

    def on_mount(self) -> None:
        self.sync()

    # ----- views (attributes down) ----------------------------------------------------------
    def sessions(self) -> list[Any]:
        return [s for s in self.console.phone.sessions.values()
                if s.status.call_status != "ended"]

    def selected_session(self) -> Any | None:
        if self.selected is None:
            return None
        return next((s for s in self.sessions() if s.call_id == self.selected), None)

    def _ensure_selection(self, calls: list[Any]) -> None:
        ids = [s.call_id for s in calls]
        if self.selected in ids:
            return
        current = getattr(self.console.phone, "current_session", None)
        if current is not None and current.call_id in ids:
            self.selected = current.call_id
        else:
            self.selected = ids[0] if ids else None

    def sync(self) -> None:
        """Reconcile every widget with the phone's state (a call came or went).

        Widgets compare what they are given with what they show and touch only the
        difference, so a sync with nothing new costs no repaint.
        """
        calls = self.sessions()
        self._ensure_selection(calls)
        self.refresh_views(calls)
        self._refresh_footer(calls)

    def refresh_views(self, calls: list[Any] | None = None) -> None:
        calls = self.sessions() if calls is None else calls
        self._show_header()
        consult = consult_texts(calls)
        rows, panels = [], []
        for line, session in enumerate(calls, start=1):
            if is_ringing_in(session):
                rows.append(self._queue_row(line, session))
            else:
                panels.append(self._call_view(line, session, consult))
        self._lines = screen_lines(calls)
        self.query_one(IncomingQueue).show(rows, self.selected)
        self.query_one(CallList).show(panels)

    def refresh_call(self, call_id: str | None) -> None:
        """One call changed (status, report): redraw its row or panel and its consult
        partner's, and the footer. A call that came, went or moved between the queue and
        the panels (or an unknown change, ``None``) needs the full :meth:`sync`."""
        calls = self.sessions()
        if call_id is None or screen_lines(calls) != self._lines or \
                self.selected not in {s.call_id for s in calls}:
            self.sync()
            return
        related = related_calls(call_id, calls)
        consult = consult_texts(calls)
        queue = self.query_one(IncomingQueue)
        call_list = self.query_one(CallList)
        for line, session in enumerate(calls, start=1):
            if session.call_id not in related:
                continue
            if is_ringing_in(session):
                queue.update_row(self._queue_row(line, session))
            else:
                panel = call_list.panel(session.call_id)
                if panel is not None:
                    panel.show(self._call_view(line, session, consult))
        self._refresh_footer(calls)

    def select_call(self, call_id: str | None) -> None:
        """Move the selection: restyle the old and the new row or panel only."""
        self.selected = call_id
        calls = self.sessions()
        if screen_lines(calls) != self._lines:
            self.sync()
            return
        self.query_one(IncomingQueue).select_call(call_id)
        self.query_one(CallList).select_call(call_id)
        self._refresh_footer(calls)

    def refresh_timers(self) -> None:
        """The 1 Hz tick: the header clock and agent timer, ring times in the queue, talk
        and hold timers in the panels. Nothing else is re-rendered."""
        self._show_header()
        sessions = self.console.phone.sessions
        queue = self.query_one(IncomingQueue)
        call_list = self.query_one(CallList)
        for call_id, ringing in self._lines:
            session = sessions.get(call_id)
            if session is None:
                continue
            if ringing:
                queue.set_ring(call_id, fmt_duration(session.timer.ring_duration))
                continue
            panel = call_list.panel(call_id)
            view = panel.view if panel is not None else None
            if panel is not None and view is not None:
                panel.set_timers(timers_text(view.state, session.timer))

    def _show_header(self) -> None:
        self.query_one(StatusHeader).show(self.header_view())

    def _refresh_footer(self, calls: list[Any]) -> None:
        """Ask the footer to rebuild only when the set of usable bindings changed: a
        rebuild re-mounts every key, the most expensive thing a key press can cause."""
        state = footer_state(calls, self.selected, self._answering)
        if state != self._footer:
            self._footer = state
            self.refresh_bindings()

    def header_view(self) -> HeaderView:
        app = self.console
        acc = app.config.account
        account = acc.display_name or acc.aor.removeprefix("sip:").removeprefix("sips:")
        text, ok = app.registration
        state = app.agent_state
        return HeaderView(
            account=account, registration=text, registration_ok=ok,
            transport=acc.transport, agent=state.label,
            agent_style=AGENT_STYLE[state.status],
            agent_timer=fmt_duration(state.elapsed(app.clock.monotonic())),
            clock=app.clock.now().strftime("%H:%M:%S"),
            notice=short_notice(app.audio_notice or ""), missed=app.missed)

    def _queue_row(self, line: int, session: Any) -> QueueRow:
        status = session.status
        return QueueRow(call_id=session.call_id, line=line, name=who(status),
                        number=status.number, company=status.company,
                        queue=queue_label(status),
                        ring=fmt_duration(session.timer.ring_duration),
                        selected=session.call_id == self.selected)

    def _call_view(self, line: int, session: Any, consult: dict[str, str]) -> CallView:
        status = session.status
        state = call_state(status)
        quality = Quality.from_report(session.call_report, status.codec)
        history = self.console.mos_history.get(session.call_id, ())
        return CallView(
            call_id=session.call_id, line=line, name=who(status), number=status.number,
            company=status.company, state=state, badges=tuple(badges(status)),
            timers=timers_text(state, session.timer), quality=quality.text(),
            spark=sparkline(list(history)), consult=consult.get(session.call_id, ""),
            selected=session.call_id == self.selected)

    # ----- messages up ----------------------------------------------------------------------
    @on(CallsChanged)
    @on(CallReportUpdated)
    def _handle_call_change(self, event: CallsChanged | CallReportUpdated) -> None:
        self.refresh_call(event.call_id)

    @on(PhoneChanged)
    def _handle_phone_change(self) -> None:
        calls = self.sessions()
        if screen_lines(calls) != self._lines:
            self.sync()
            return
        self._show_header()
        self._refresh_footer(calls)

    @on(Tick)
    def _handle_tick(self) -> None:
        if screen_lines(self.sessions()) != self._lines:  # a change whose event was lost
            self.sync()
        self.refresh_timers()

    @on(CallFinished)
    def _handle_finished(self, event: CallFinished) -> None:
        self.sync()

    @on(DialBar.Submitted)
    def _handle_dial(self, event: DialBar.Submitted) -> None:
        if event.mode == "transfer":
            session = self._talking_selected("transfer")
            if session is not None:
                self._call(session, "blind_transfer", "Blind transfer", event.target)
            return
        parent = None
        if event.mode == "consult":
            session = self._talking_selected("consult")
            if session is None:
                return
            parent = session.call_id
        self._run(lambda: self.console.dial(event.target, transfer_parent=parent))

    def on_key(self, event: events.Key) -> None:
        """Digits: DTMF to the selected talking call, else they start dialling.

        A modified digit (``alt+1``: the terminal sends ESC 1, read as key ``alt+1`` with
        character ``1``) is not a digit: it is left to the bindings (``call.line``)."""
        char = event.character
        if char is None or char not in DTMF_KEYS or isinstance(self.focused, Input) \
                or "+" in event.key:
            return
        event.stop()
        session = self.selected_session()
        if session is not None and call_state(session.status) in ("TALKING", "CONSULT"):
            self._call(session, "dtmf", "DTMF", char)
            self.notify(f"sent {char}", title=f"DTMF to {who(session.status)}", timeout=1.5)
        else:
            self.query_one(DialBar).open("dial", char)

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

    def _call(self, session: Any, method: str, label: str, *args: Any) -> None:
        fn = getattr(session, method, None)
        if fn is None:
            self.notify(f"{label} is not available in this version yet.", title=label,
                        severity="warning")
            return
        self._run(lambda: fn(*args), session.call_id)

    def _ringing(self) -> list[Any]:
        """Ringing calls that can still be answered or rejected (not being answered)."""
        return [s for s in self.sessions()
                if is_ringing_in(s) and s.call_id not in self._answering]

    def _ring_target(self) -> Any | None:
        selected = self.selected_session()
        if selected is not None and is_ringing_in(selected) \
                and selected.call_id not in self._answering:
            return selected
        ringing = self._ringing()
        return ringing[0] if ringing else None

    def _talking_selected(self, what: str) -> Any | None:
        session = self.selected_session()
        if session is None or call_state(session.status) not in ("TALKING", "HELD", "CONSULT"):
            self.notify(f"Select a connected call to {what}.", severity="warning")
            return None
        return session

    def _consult_leg(self) -> Any | None:
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
        if action in ("call_answer", "call_reject"):
            return bool(self._ringing())
        if action == "call_hangup":
            return selected is not None
        if action in ("call_hold", "call_mute", "call_record"):
            return connected
        if action in ("call_transfer", "call_consult"):
            return connected and not selected.status.is_transfer  # type: ignore[union-attr]
        if action in ("call_complete_transfer", "call_cancel_transfer", "call_swap"):
            return self._consult_leg() is not None
        if action == "call_pause_record":
            return connected and selected.status.record_status in ("recording", "pause")  # type: ignore[union-attr]
        if action in ("call_next", "call_prev"):
            return len(self.sessions()) > 1  # else Tab keeps Textual's focus cycling
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

        async def answer() -> Any:
            try:
                result = session.answer()
                return await result if inspect.isawaitable(result) else result
            finally:
                self._answering.discard(call_id)

        # An answer can take seconds (media set-up) before the call leaves the queue: it
        # is taken already, so Answer/Reject leave the footer now, not when it returns.
        self._answering.add(call_id)
        self._refresh_footer(self.sessions())
        self._run(answer, call_id)

    def action_call_reject(self) -> None:
        session = self._ring_target()
        if session is not None:
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

    def action_call_hold(self) -> None:
        session = self.selected_session()
        if session is None:
            return
        method = session.unhold if session.status.is_hold else session.hold
        self._run(method, session.call_id)

    def action_call_mute(self) -> None:
        session = self.selected_session()
        if session is None:
            return
        method = session.unmute if session.status.is_mute else session.mute
        self._run(method, session.call_id)

    def action_call_transfer(self) -> None:
        if self._talking_selected("transfer") is not None:
            self.query_one(DialBar).open("transfer")

    def action_call_consult(self) -> None:
        if self._talking_selected("consult") is not None:
            self.query_one(DialBar).open("consult")

    def action_call_complete_transfer(self) -> None:
        leg = self._consult_leg()
        if leg is not None:
            self._call(leg, "attended_transfer", "Complete transfer")

    def action_call_cancel_transfer(self) -> None:
        leg = self._consult_leg()
        if leg is not None:
            self._call(leg, "cancel_transfer", "Cancel transfer")

    def action_call_swap(self) -> None:
        leg = self._consult_leg()
        if leg is not None:
            self._call(leg, "swap", "Swap")

    def action_call_record(self) -> None:
        session = self.selected_session()
        if session is None:
            return
        if session.status.record_status in ("recording", "pause"):
            self._call(session, "stop_record", "Recording")
        else:
            self._call(session, "start_record", "Recording")

    def action_call_pause_record(self) -> None:
        session = self.selected_session()
        if session is None:
            return
        if session.status.record_status == "pause":
            self._call(session, "resume_record", "Recording")
        else:
            self._call(session, "pause_record", "Recording")

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

    def action_wrapup(self) -> None:
        self.console.open_wrapup()

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
