"""``AgentConsoleApp``: the thin Textual app around one Phone.

The app owns the phone, the agent state and the one 1 Hz tick; it turns the phone's and
sessions' pyee events into Textual messages for the main screen. It accepts any object
with the Phone API (``start/stop``, ``sessions``, ``call``, the events), so tests drive it
with a fake and the lead's loopback tests with a real :class:`~agentconsole.phone.Phone`.

The agent state is handed to ``Phone.set_agent_state``: DND / Away / Offline refuse a new
call with ``agent.dnd_code`` / ``agent.away_code`` before it rings.

The app also owns the call history (:class:`~agentconsole.history.CallHistory`, attached
to the phone so every call has a row from its first ring), the SIP trace buffer (fed by
``Phone.add_trace_hook`` from the start) and the agent's audio device choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from ..config import Config
from ..errors import AgentConsoleError
from ..history import CallHistory, HistoryError
from .actions import ACTIONS, describe_keys, resolve_keymap
from .agent_state import LIBRARY_STATES, AgentState, AgentStatus, menu_choices
from .clock import Clock, SystemClock
from .messages import CallFinished, CallReportUpdated, CallsChanged, PhoneChanged, Tick
from .remote_view import RemoteView
from .screens.dialogs import AgentStateMenu, ConfirmQuit, StateChoice, WrapupResult
from .screens.main import MainScreen
from .screens.trace import TraceBuffer
from .themes import DEFAULT_THEME, load_themes
from .view import who
from .wrapup_flow import WrapupFlow, WrapupRecord

logger = logging.getLogger(__name__)

SESSION_EVENTS = ("status_change", "call_report", "ended", "failed", "accepted",
                  "confirmed", "progress", "transfer_progress", "dtmf_received")
MOS_HISTORY = 16
STOP_TIMEOUT_S = 5.0


class AgentConsoleApp(WrapupFlow, App[int], inherit_bindings=False):
    """The agent console. ``AgentConsoleApp(config, phone=None, clock=None)``.

    Raises :class:`~agentconsole.errors.ConfigError` at construction when
    ``ui.keymap`` is invalid (unknown id, two actions on one key, escape on a
    destructive action), before any terminal output.
    """

    CSS_PATH = "app.tcss"
    AUTO_FOCUS = None  # keys act on calls until a text field is opened on purpose
    TITLE = "agentconsole"
    BINDINGS = [
        Binding("ctrl+c", "help_quit", show=False, system=True),
        Binding("ctrl+p", "command_palette", show=False, system=True),
    ]

    def __init__(self, config: Config, phone: Any | None = None, *,
                 clock: Clock | None = None, theme_dirs: Iterable[Path] | None = None,
                 autostart: bool = True, history: CallHistory | None = None,
                 audio_probe: Any | None = None, remote: Any | None = None,
                 over_ssh: bool = False) -> None:
        self.keymap = resolve_keymap(config.ui.keymap, config.source)
        super().__init__()
        self.config = config
        if phone is None:
            from ..phone import Phone

            phone = Phone(config)
        self.phone = phone
        self.clock: Clock = clock or SystemClock()
        self.autostart = autostart
        self._agent_state = AgentState(since=self.clock.monotonic())
        self.registration: tuple[str, bool | None] = ("Starting…", None)
        self.audio_notice: str | None = None
        self.recent_numbers: list[str] = []
        self.wrapups: list[WrapupRecord] = []
        self.mos_history: dict[str, deque[float]] = {}
        #: Answered calls waiting for their wrap-up, oldest first (one form at a time).
        self.pending_wrapups: list[CallFinished] = []
        self._listeners: dict[str, list[tuple[str, Callable[..., None]]]] = {}
        self._wrapup_open = False
        self._wrapup_since = 0.0  # when the open wrap-up form appeared (its timeout)
        #: What the agent entered before "later", per call, shown again on reopening.
        self._wrapup_drafts: dict[str, WrapupResult] = {}
        self.main = MainScreen(self.keymap)
        self._install_themes(theme_dirs)
        self.trace = TraceBuffer()
        self.history_problem: str | None = None
        self.history = history if history is not None else self._open_history()
        self.history_pairs: list[tuple[str, str]] = []
        self.missed = 0
        if audio_probe is None:
            from .audio_probe import AudioProbe

            audio_probe = AudioProbe(lambda: getattr(self.phone, "audio_backend", None))
        self.audio_probe = audio_probe
        audio = config.audio
        self.audio_choice: dict[str, str | int] = {"input": audio.input, "output": audio.output,
                                                   "ring": audio.ring}
        #: Detach/attach through the holder the console runs in (None: run directly).
        self.remote_view = RemoteView(self, remote, over_ssh=over_ssh)

    def _open_history(self) -> CallHistory | None:
        try:
            return CallHistory(clock=lambda: self.clock.now().timestamp())
        except HistoryError as exc:  # a read-only home must not keep the agent off calls
            logger.warning("%s", exc)
            self.history_problem = str(exc)
            return None

    # ----- themes ---------------------------------------------------------------------------
    def _install_themes(self, dirs: Iterable[Path] | None) -> None:
        for theme in load_themes(dirs).values():
            self.register_theme(theme)
        wanted = self.config.ui.theme
        if wanted in self.available_themes:
            self.theme = wanted
        else:
            logger.warning("theme %r not found; using %s", wanted, DEFAULT_THEME)
            self._theme_warning = f"Theme {wanted!r} not found; using the default."
            if DEFAULT_THEME in self.available_themes:
                self.theme = DEFAULT_THEME

    # ----- lifecycle ------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.push_screen(self.main)
        if self.history is not None:
            self.history.attach(self.phone)
            if self.history.interrupted:
                self.notify(f"{self.history.interrupted} call(s) were cut off when the "
                            "console stopped; they are in the history as interrupted.",
                            title="History")
            self._history_changed()
            self.recent_numbers = [number for _name, number in self.history_pairs]
        elif self.history_problem:
            self.notify(self.history_problem, title="History is off", severity="warning")
        add_hook = getattr(self.phone, "add_trace_hook", None)
        if add_hook is not None:
            add_hook(self.trace.add)
        self._wire_phone()
        self.remote_view.start()
        self.set_interval(1.0, self._tick, name="console-tick")
        if getattr(self, "_theme_warning", None):
            self.notify(self._theme_warning, severity="warning")
        if self.autostart:
            self.run_worker(self._start_phone(), name="phone-start", exit_on_error=False)

    async def _start_phone(self) -> None:
        self.registration = ("Registering…", None)
        self._changed(PhoneChanged())
        try:
            await self.phone.start()
        except AgentConsoleError as exc:
            self.registration = (f"Failed: {exc.message}", False)
            self.notify(exc.message, title=exc.title, severity="error", timeout=10)
        except Exception as exc:  # noqa: BLE001 - show it, keep the console up
            logger.exception("phone start failed")
            self.registration = (f"Failed: {exc}", False)
            self.notify(str(exc), title="Phone failed to start", severity="error")
        else:
            if getattr(self.phone, "is_registered", False):
                self.registration = ("Registered", True)
            elif not self.config.account.register:
                self.registration = ("Ready (no REGISTER)", True)
        self._changed(PhoneChanged())

    def _tick(self) -> None:
        """The one app-wide 1 Hz tick: every timer on screen is redrawn from it."""
        self._check_wrapup_timeout()
        if self.screen_stack and self.main.is_attached:
            self.main.post_message(Tick())

    def _changed(self, message: Any) -> None:
        if self.main.is_attached:
            self.main.post_message(message)

    async def request_quit(self) -> None:
        calls = len([s for s in self.phone.sessions.values()
                     if s.status.call_status != "ended"])
        if not calls:
            await self.shutdown()
            return

        async def answered(yes: bool | None) -> None:
            if yes:
                await self.shutdown()

        self.push_screen(ConfirmQuit(calls), answered)

    async def action_quit(self) -> None:
        await self.request_quit()

    async def shutdown(self) -> None:
        """Hang up, un-register and leave; a stuck network never keeps the agent in."""
        try:
            await asyncio.wait_for(self.phone.stop(), STOP_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - leaving matters more than a clean BYE
            logger.exception("phone stop failed")
        if self.history is not None:
            self.history.close()  # after stop: the hang-ups above completed their rows
        self.exit(0)

    # ----- phone events -> messages ---------------------------------------------------------
    def _wire_phone(self) -> None:
        on = self.phone.on
        on("connected", self._ev_connected)
        on("disconnected", self._ev_disconnected)
        on("registered", self._ev_registered)
        on("registration_failed", self._ev_registration_failed)
        on("unregistered", self._ev_unregistered)
        on("audio_notice", self._ev_audio_notice)
        on("new_session", self._ev_new_session)
        on("incoming", self._ev_incoming)
        on("delete_session", self._ev_delete_session)
        on("agent_state_change", self._ev_agent_state_change)
        on("refused", self._ev_refused)
        self.audio_notice = getattr(self.phone, "audio_notice", None)
        for session in list(self.phone.sessions.values()):
            self._ev_new_session(session)

    def _ev_connected(self, *_: Any) -> None:
        if self.registration[1] is not True:
            self.registration = ("Connected", None)
        self._changed(PhoneChanged())

    def _ev_disconnected(self, reason: str = "", *_: Any) -> None:
        self.registration = ("Disconnected", False)
        self._changed(PhoneChanged(reason))

    def _ev_registered(self, *_: Any) -> None:
        self.registration = ("Registered", True)
        self._changed(PhoneChanged())

    def _ev_registration_failed(self, failure: Any = None, *_: Any) -> None:
        cause = getattr(failure, "cause", None) or str(failure or "")
        self.registration = (f"Failed: {cause}" if cause else "Failed", False)
        self._changed(PhoneChanged(cause))

    def _ev_unregistered(self, *_: Any) -> None:
        self.registration = ("Unregistered", None)
        self._changed(PhoneChanged())

    def _ev_audio_notice(self, notice: str) -> None:
        self.audio_notice = notice
        self.notify(notice, title="Audio", severity="warning")
        self._changed(PhoneChanged())

    def _ev_new_session(self, session: Any) -> None:
        call_id = session.call_id
        if call_id in self._listeners:
            return
        handlers: list[tuple[str, Callable[..., None]]] = []
        for event in SESSION_EVENTS:
            handler = partial(self._ev_session_event, session, event)
            session.on(event, handler)
            handlers.append((event, handler))
        self._listeners[call_id] = handlers
        number = session.status.number
        if number and session.status.communication_type == "outbound":
            self._remember(number)
        self._changed(CallsChanged(call_id))

    @property
    def agent_state(self) -> AgentState:
        return self._agent_state

    @agent_state.setter
    def agent_state(self, state: AgentState) -> None:
        """Show the state and hand it to the phone, which refuses new calls in DND/Away
        before they ring (``Phone.set_agent_state``)."""
        self._agent_state = state
        setter = getattr(self.phone, "set_agent_state", None)
        if setter is not None:
            setter(LIBRARY_STATES[state.status], state.reason or None)

    def _ev_incoming(self, session: Any) -> None:
        # A phone without agent-state support (a test fake) gets the policy applied here.
        has_policy = getattr(self.phone, "set_agent_state", None) is not None
        code = None if has_policy else self.agent_state.refusal_code(self.config.agent)
        status = session.status
        if code is not None:
            session.reject(code)
            self.notify(f"{who(status)} ({status.number}) refused with {code}: you are "
                        f"{self.agent_state.label}.", title="Call refused")
            return
        self._remember(status.number)
        if self.config.ui.notify.bell:
            self.bell()
        detail = " · ".join(x for x in (status.number, status.company, status.queue) if x)
        self.notify(detail, title=f"Incoming: {who(status)}", timeout=5)
        if self.config.ui.notify.osc9:
            self.desktop_notify(f"Incoming call: {who(status)} {detail}")
        self._changed(CallsChanged(session.call_id))

    def _ev_agent_state_change(self, state: str, reason: str | None = None, *_: Any) -> None:
        """The phone changed the state itself (auto-Away after a missed call)."""
        status = next((k for k, v in LIBRARY_STATES.items() if v == state), None)
        if status is None or (status, reason or "") == (self._agent_state.status,
                                                        self._agent_state.reason):
            return
        self._agent_state = AgentState(status, reason or "", self.clock.monotonic())
        self.notify(f"You are {self._agent_state.label}.", title="Agent state", timeout=5)
        self._changed(PhoneChanged())

    def desktop_notify(self, text: str) -> None:
        """An OSC 9 desktop notification (iTerm2, kitty, WezTerm, foot, tmux with passthrough)."""
        if not self.is_headless and self._driver is not None:
            self._driver.write(osc9_sequence(text))

    def _ev_refused(self, info: Any = None, *_: Any) -> None:
        """A call the phone turned away before it rang (DND, Away, after-call work, all
        lines busy): the agent still learns who called. The history, attached to the phone
        before this handler, has its row already; the missed badge follows."""
        if not isinstance(info, dict):
            return
        name, number = str(info.get("name") or ""), str(info.get("number") or "")
        caller = f"{name} ({number})" if name and name != number else number or "A caller"
        self.notify(f"{caller}: {info.get('reason', '')} ({info.get('code', '')})",
                    title="Call turned away", timeout=6)
        self._history_changed()

    def _ev_delete_session(self, info: Any = None, *_: Any) -> None:
        call_id = info.get("call_id") if isinstance(info, dict) else None
        if call_id:
            self._unwire(call_id)
        self._changed(CallsChanged(call_id))

    def _ev_session_event(self, session: Any, event: str, *args: Any) -> None:
        call_id = session.call_id
        if event == "call_report":
            mos = float(getattr(session.call_report, "mos", 0.0) or 0.0)
            if mos > 0:
                self.mos_history.setdefault(call_id, deque(maxlen=MOS_HISTORY)).append(mos)
            self._changed(CallReportUpdated(call_id))
        elif event in ("ended", "failed"):
            self._ev_call_finished(session, args[0] if args else {})
        elif event == "transfer_progress":
            self.notify(transfer_text(args[0] if args else None), title="Transfer")
            self._changed(CallsChanged(call_id))
        elif event == "dtmf_received":
            info = args[0] if args else None
            digit = info.get("digit", "") if isinstance(info, dict) else str(info or "")
            self.notify(f"DTMF {digit}", title=who(session.status), timeout=2)
        else:
            self._changed(CallsChanged(call_id))

    def _ev_call_finished(self, session: Any, info: Any) -> None:
        status = session.status
        answered = bool(getattr(session, "established", status.answer_time is not None))
        cause = info.get("cause", "") if isinstance(info, dict) else str(info)
        self._unwire(session.call_id)
        self.mos_history.pop(session.call_id, None)
        finished = CallFinished(session.call_id, answered, cause, status.number, who(status))
        self._history_changed()
        self._changed(finished)
        if not answered and status.communication_type == "outbound" \
                and cause not in ("Canceled", "Terminated", "Transferred"):
            code = getattr(session, "end_code", None)
            self.notify(f"{who(status)}: {cause}" + (f" ({code})" if code else ""),
                        title="Call failed", severity="warning")
        # A consult leg is part of the customer's call: that call gets the wrap-up.
        if answered and not status.is_transfer and self._wrapup_enabled():
            self.pending_wrapups.append(finished)
        self._start_wrapups(session.call_id)

    def _unwire(self, call_id: str) -> None:
        session = self.phone.sessions.get(call_id)
        for event, handler in self._listeners.pop(call_id, []):
            if session is not None:
                with contextlib.suppress(Exception):  # already gone is fine
                    session.remove_listener(event, handler)

    def _remember(self, number: str) -> None:
        if not number:
            return
        if number in self.recent_numbers:
            self.recent_numbers.remove(number)
        self.recent_numbers.insert(0, number)
        del self.recent_numbers[50:]

    # ----- detach / attach (agentconsole.remote; the logic is in remote_view) ----------------
    def detach(self) -> None:
        """Leave the console running and let the terminal go (the ``detach`` key)."""
        self.remote_view.detach()

    # ----- agent state and wrap-up ----------------------------------------------------------
    def set_agent_state(self, status: AgentStatus, reason: str = "") -> None:
        now = self.clock.monotonic()
        if status is AgentStatus.ACW:
            self.agent_state = self.agent_state.enter_acw(now)
        else:
            self.agent_state = AgentState(status, reason, now)
        self._changed(PhoneChanged())

    def open_agent_menu(self) -> None:
        def chosen(choice: StateChoice | None) -> None:
            if choice is not None:
                self.set_agent_state(choice.status, choice.reason)

        self.push_screen(AgentStateMenu(menu_choices(self.config.agent),
                                        self.agent_state.label), chosen)

    # ----- dialling -------------------------------------------------------------------------
    def directory_pairs(self) -> list[tuple[str, str]]:
        """Directory entries, then named callers from the history (dial completion)."""
        pairs = [(entry.name, entry.number) for entry in self.config.directory]
        known = {name.casefold() for name, _n in pairs}
        for name, number in self.history_pairs:
            if name and name != number and name.casefold() not in known:
                known.add(name.casefold())
                pairs.append((name, number))
        return pairs

    # ----- history and devices --------------------------------------------------------------
    def _history_changed(self) -> None:
        """A call ended or a wrap-up was filed: refresh the badge, completion, open screen."""
        history = self.history
        if history is None:
            return
        try:
            self.missed = history.missed_count()
            self.history_pairs = history.numbers()
        except Exception:  # noqa: BLE001 - the badge is not worth a crash
            logger.exception("history read failed")
        from .screens.history import HistoryScreen

        for screen in self.screen_stack:
            if isinstance(screen, HistoryScreen):
                screen.reload()

    def mark_missed_seen(self) -> None:
        if self.history is not None and self.missed:
            self.history.mark_seen()
            self.missed = 0
            self._changed(PhoneChanged())

    def choose_audio_device(self, kind: str, name: str) -> None:
        """Keep the agent's pick; hand it to the phone when it can switch devices live."""
        self.audio_choice[kind] = name
        setter = getattr(self.phone, "set_audio_devices", None)
        switched = False
        if setter is not None:
            try:
                setter(**{kind: name})
                switched = True
            except AgentConsoleError as exc:  # e.g. the null backend: nothing to switch
                logger.info("device switch refused: %s", exc)
        if switched:
            self.notify(f"{kind.capitalize()}: {name}", title="Audio device", timeout=3)
        else:
            self.notify(f"{kind.capitalize()}: {name}. The phone uses it from its next "
                        f"start (audio.{kind} in the config keeps it).",
                        title="Audio device", timeout=5)

    async def dial(self, number: str, transfer_parent: str | None = None) -> None:
        """Call ``number`` (a consult leg of ``transfer_parent`` when given) and select the
        new call: the agent is talking on it now, so the keys act on it."""
        self._remember(number)
        try:
            if transfer_parent is None:
                session = await self.phone.call(number)
            else:
                session = await self.phone.call(number, transfer_parent=transfer_parent)
            if getattr(session, "call_id", None) is not None:
                self.main.selected = session.call_id
                self._show_contact(session, number)
        except AgentConsoleError as exc:
            self.notify(exc.message, title=exc.title, severity="error")
        except Exception as exc:  # noqa: BLE001
            logger.exception("dial failed")
            self.notify(str(exc), title="Dial failed", severity="error")
        self._changed(CallsChanged())

    def _show_contact(self, session: Any, number: str) -> None:
        """Name a call to a known number (directory, then history) from the start; the
        far end may not say who it is, and the agent called a person, not a number."""
        entry = next((e for e in self.config.directory if e.number == number), None)
        contact = (entry.name, entry.company or "") if entry is not None else None
        if contact is None and self.history is not None:
            try:
                contact = self.history.contact(number)
            except Exception:  # noqa: BLE001 - a name is not worth a failed call
                logger.exception("history lookup failed")
        setter = getattr(session, "set_static_status", None)
        if contact is not None and setter is not None:
            name, company = contact
            setter(name=name, company=company or None, manual=True)

    # ----- command palette ------------------------------------------------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterator[SystemCommand]:
        """Every action, with its current key, then Textual's own (theme ...)."""
        for spec in ACTIONS:
            if spec.id == "palette":
                continue
            if spec.id == "call.line":  # one entry per call on screen, not "line 1"
                yield from self._line_commands()
                continue
            keys = describe_keys(self.keymap[spec.id])
            yield SystemCommand(f"{spec.label} ({keys})", f"{spec.id}: {spec.help}",
                                partial(self.call_later, self.main.run_action, spec.method))
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command

    def _line_commands(self) -> Iterator[SystemCommand]:
        keys = self.keymap["call.line"]
        for line, session in enumerate(self.main.sessions(), start=1):
            key = f" ({describe_keys(keys[line - 1:line])})" if line <= len(keys) else ""
            yield SystemCommand(f"Line {line}: {who(session.status)}{key}",
                                f"call.line: select the call on line {line}",
                                partial(self.call_later, self.main.run_action,
                                        f"call_line({line})"))


def transfer_text(info: Any) -> str:
    """A transfer_progress payload as the agent reads it: "ringing (180)"."""
    if not isinstance(info, dict):
        return str(info or "")
    state = str(info.get("state", ""))
    status = info.get("status")
    words = {"trying": "transfer requested", "ringing": "the target is ringing",
             "succeeded": "transferred", "failed": "transfer failed"}
    text = words.get(state, state)
    return f"{text} ({status})" if status else text


def osc9_sequence(text: str) -> str:
    """``ESC ] 9 ; text BEL`` with the text made safe: a caller's name must not be able to
    end the sequence early or smuggle in other escape sequences."""
    clean = "".join(c for c in text if c.isprintable())[:200]
    return f"\x1b]9;{clean}\x07"
