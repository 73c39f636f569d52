"""The main screen: header, incoming queue, call panels, dial bar, footer; the call actions.

Selection is one list for ringing and connected calls (line 1, 2, ... in arrival order),
so ``call.next`` / ``call.prev`` and every call action work the same whether a call sits
in the queue or in a panel. The screen reads the phone (attributes down) and redraws on
the app's messages (messages up); the app's one 1 Hz :class:`Tick` refreshes every timer.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingsMap
from textual.screen import Screen
from textual.widgets import Input

from ...softphone.api import AgentStatus, SessionAPI
from ..actions import build_bindings, describe_keys
from ..messages import CallFinished, CallReportUpdated, CallsChanged, PhoneChanged, Tick
from ..textual_fixes import guard_toast_timers, release
from ..view import (
    Quality,
    badges,
    call_state,
    consult_texts,
    fmt_duration,
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
from ..widgets import (
    CallList,
    CallView,
    DialBar,
    HeaderView,
    IncomingQueue,
    KeyFooter,
    QueueRow,
    StatusHeader,
)
from .main_actions import CallActions

if TYPE_CHECKING:
    from ..app import AgentConsoleApp

DTMF_KEYS = frozenset("0123456789*#")
#: Alt+digit as Textual reports it from a terminal that sends ESC + digit (xterm, tmux,
#: SSH): Textual reads those bytes as the characters macOS types for Option+digit, so
#: both arrive here as the same characters. They select lines when ``call.line`` is
#: bound to ``alt+N`` (the default).
ALT_DIGIT_CHARACTERS = {"¡": 1, "™": 2, "£": 3, "¢": 4, "∞": 5, "§": 6, "¶": 7, "•": 8,
                        "ª": 9, "º": 0}
AGENT_STYLE = {AgentStatus.AVAILABLE: "success", AgentStatus.AWAY: "warning",
               AgentStatus.ACW: "accent", AgentStatus.DND: "error",
               AgentStatus.OFFLINE: "foreground-muted"}


class MainScreen(CallActions, Screen[None]):
    AUTO_FOCUS = None  # keys act on calls until the agent opens the dial bar
    DEFAULT_CSS = """
    MainScreen { layout: vertical; }
    """

    def __init__(self, keymap: dict[str, tuple[str, ...]]) -> None:
        super().__init__(id="main")
        guard_toast_timers()  # a toast of an expired notification froze the loop (textual_fixes)
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
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sync()

    # ----- views (attributes down) ----------------------------------------------------------
    def sessions(self) -> list[SessionAPI]:
        return [s for s in self.console.phone.sessions.values()
                if s.status.call_status != "ended"]

    def selected_session(self) -> SessionAPI | None:
        if self.selected is None:
            return None
        return next((s for s in self.sessions() if s.call_id == self.selected), None)

    def _ensure_selection(self, calls: list[SessionAPI]) -> None:
        ids = [s.call_id for s in calls]
        if self.selected in ids:
            return
        current = self.console.phone.current_session
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

    def refresh_views(self, calls: list[SessionAPI] | None = None) -> None:
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

    def _refresh_footer(self, calls: list[SessionAPI]) -> None:
        """Ask the footer to rebuild only when the set of usable bindings changed: a
        rebuild re-mounts every key, the most expensive thing a key press can cause."""
        state = footer_state(calls, self.selected, self._answering)
        if state != self._footer:
            self._footer = state
            self.refresh_bindings()

    def footer_label(self, action: str) -> str | None:
        """The footer's word for a toggle key, from the selected call's state."""
        session = self.selected_session()
        if session is None:
            return None
        status = session.status
        record = status.record_status
        labels = {"call_hold": "Resume" if status.is_hold else None,
                  "call_mute": "Unmute" if status.is_mute else None,
                  "call_record": "Stop rec" if record in ("recording", "pause") else None,
                  "call_pause_record": "Resume rec" if record == "pause" else None}
        return labels.get(action)

    def header_view(self) -> HeaderView:
        app = self.console
        acc = app.config.account
        account = acc.display_name or acc.aor.removeprefix("sip:").removeprefix("sips:")
        text, ok = app.registration
        state = app.agent_state
        remote = app.remote_view.header()
        return HeaderView(
            account=account, registration=text, registration_ok=ok,
            transport=acc.transport, agent=state.label,
            agent_style=AGENT_STYLE[state.status],
            agent_timer=fmt_duration(app.clock.monotonic() - app.agent_since),
            clock=app.clock.now().strftime("%H:%M:%S"),
            notice=short_notice(app.remote_view.notice(app.audio_notice)), missed=app.missed,
            wrapups=self._wrapups_hint(), auto_answer=app.integration.header_badge(),
            remote=remote.remote, audio=remote.audio, audio_short=remote.audio_short,
            hint=remote.hint)

    def _wrapups_hint(self) -> str:
        waiting = len(self.console.wrapup.pending)
        if not waiting or self.console.wrapup.is_open:  # the form says it already
            return ""
        noun = "wrap-up" if waiting == 1 else "wrap-ups"
        return f"{waiting} {noun} ({self.key_for('wrapup')})"

    def _queue_row(self, line: int, session: SessionAPI) -> QueueRow:
        status = session.status
        return QueueRow(call_id=session.call_id, line=line, name=who(status),
                        number=status.number, company=status.company,
                        queue=queue_label(status),
                        ring=fmt_duration(session.timer.ring_duration),
                        selected=session.call_id == self.selected)

    def _call_view(self, line: int, session: SessionAPI, consult: dict[str, str]) -> CallView:
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
        release(self.app.screen_stack)  # what Textual keeps of widgets gone (textual_fixes)

    @on(CallFinished)
    def _handle_finished(self, event: CallFinished) -> None:
        self.sync()

    @on(DialBar.Submitted)
    def _handle_dial(self, event: DialBar.Submitted) -> None:
        if event.mode == "transfer":
            talking = self._talking_selected("transfer")
            if talking is not None:
                transfer = talking.blind_transfer
                self._run(lambda: transfer(event.target), talking.call_id)
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
        if char in ALT_DIGIT_CHARACTERS and not isinstance(self.focused, Input):
            line_keys = self.keymap["call.line"]
            key = f"alt+{ALT_DIGIT_CHARACTERS[char]}"
            if key in line_keys:
                event.stop()
                self.action_call_line(line_keys.index(key) + 1)
            return
        if char is None or char not in DTMF_KEYS or isinstance(self.focused, Input) \
                or "+" in event.key:
            return
        event.stop()
        session = self.selected_session()
        if session is not None and call_state(session.status) in ("TALKING", "CONSULT"):
            self._run(lambda: session.dtmf(char), session.call_id)
            self.notify(f"sent {char}", title=f"DTMF to {who(session.status)}", timeout=1.5)
        else:
            self.query_one(DialBar).open("dial", char)
