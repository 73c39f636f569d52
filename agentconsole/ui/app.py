"""``AgentConsoleApp``: the thin Textual app around one Phone.

The app owns the phone and the one 1 Hz tick; it turns the phone's and sessions' pyee
events into Textual messages for the main screen. It holds the phone as a
:class:`~agentconsole.softphone.api.PhoneAPI` (what a :class:`Phone` offers a client), so
mypy checks every call, tests drive it with a fake satisfying the same protocol, and the
loopback tests with a real :class:`~agentconsole.softphone.phone.Phone`.

The agent state is the phone's (``phone.agent``, one model for the library and the
console): DND / Away / after-call work / Offline refuse a new call before it rings; the
console shows the state and its timer and asks the phone for changes.

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
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from ..config import Config
from ..errors import AgentConsoleError
from ..history import CallHistory, HistoryError
from ..softphone.api import AgentState, AgentStatus, PhoneAPI, SessionAPI
from .actions import ACTIONS, describe_keys, resolve_keymap
from .clock import Clock, SystemClock
from .integration import ConsoleIntegration, IntegrationAPI
from .messages import CallFinished, CallReportUpdated, CallsChanged, PhoneChanged, Tick
from .remote_view import RemoteLinkAPI, RemoteView
from .screens.dialogs import AgentStateMenu, ConfirmQuit, StateChoice, menu_choices
from .screens.main import MainScreen
from .screens.trace import TraceBuffer
from .themes import DEFAULT_THEME, load_themes
from .view import osc9_sequence, transfer_text, who
from .wrapup_flow import WrapupFlow

if TYPE_CHECKING:
    from textual.message import Message

    from ..softphone.phone import RegistrationFailure

logger = logging.getLogger(__name__)

SESSION_EVENTS = ("status_change", "call_report", "ended", "failed", "accepted",
                  "confirmed", "progress", "transfer_progress", "dtmf_received")
MOS_HISTORY = 16
STOP_TIMEOUT_S = 5.0


class AgentConsoleApp(App[int], inherit_bindings=False):
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

    def __init__(self, config: Config, phone: PhoneAPI | None = None, *,
                 clock: Clock | None = None, theme_dirs: Iterable[Path] | None = None,
                 autostart: bool = True, history: CallHistory | None = None,
                 integration: IntegrationAPI | None = None, remote: RemoteLinkAPI | None = None,
                 over_ssh: bool = False) -> None:
        self.keymap = resolve_keymap(config.ui.keymap, config.source)
        super().__init__()
        self.config = config
        if phone is None:
            from ..softphone.phone import Phone

            phone = Phone(config)
        self.phone: PhoneAPI = phone
        self.clock: Clock = clock or SystemClock()
        self.autostart = autostart
        #: When the agent state last changed (the header's agent timer), console clock.
        self.agent_since = self.clock.monotonic()
        self._own_agent_change = False
        self.registration: tuple[str, bool | None] = ("Starting…", None)
        self.audio_notice: str | None = None
        self.recent_numbers: list[str] = []
        self.mos_history: dict[str, deque[float]] = {}
        self._listeners: dict[str, list[tuple[str, Callable[..., None]]]] = {}
        self.wrapup = WrapupFlow(self)
        self.main = MainScreen(self.keymap)
        self._theme_warning: str | None = None
        self._install_themes(theme_dirs)
        self.trace = TraceBuffer()
        self.history_problem: str | None = None
        self.history = history if history is not None else self._open_history()
        self.history_pairs: list[tuple[str, str]] = []
        self.missed = 0
        self.audio_choice: dict[str, str | int] = {
            "input": config.audio.input, "output": config.audio.output, "ring": config.audio.ring}
        #: The control socket, hooks and auto-answer (agentconsole.control), if any; the
        #: holder the console runs in, to detach from and attach again (agentconsole.remote).
        self.integration = ConsoleIntegration(self, integration)
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
            self.refresh_history()
            self.recent_numbers = [number for _name, number in self.history_pairs]
        elif self.history_problem:
            self.notify(self.history_problem, title="History is off", severity="warning")
        self.phone.add_trace_hook(self.trace.add)
        self._wire_phone()
        self.integration.attach()
        self.remote_view.start()
        self.set_interval(1.0, self._tick, name="console-tick")
        if self._theme_warning:
            self.notify(self._theme_warning, severity="warning")
        if self.autostart:
            self.run_worker(self._start_phone(), name="phone-start", exit_on_error=False)

    async def _start_phone(self) -> None:
        self.registration = ("Registering…", None)
        self.post_to_main(PhoneChanged())
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
            if self.phone.is_registered:
                self.registration = ("Registered", True)
            elif not self.config.account.register:
                self.registration = ("Ready (no REGISTER)", True)
        self.post_to_main(PhoneChanged())

    def _tick(self) -> None:
        """The one app-wide 1 Hz tick: every timer on screen is redrawn from it."""
        self.wrapup.check_timeout()
        if self.screen_stack and self.main.is_attached:
            self.main.post_message(Tick())

    def post_to_main(self, message: Message) -> None:
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
        self.audio_notice = self.phone.audio_notice
        for session in list(self.phone.sessions.values()):
            self._ev_new_session(session)

    def _ev_connected(self, *_: Any) -> None:
        if self.registration[1] is not True:
            self.registration = ("Connected", None)
        self.post_to_main(PhoneChanged())

    def _ev_disconnected(self, reason: str = "", *_: Any) -> None:
        self.registration = ("Disconnected", False)
        self.post_to_main(PhoneChanged(reason))

    def _ev_registered(self, *_: Any) -> None:
        self.registration = ("Registered", True)
        self.post_to_main(PhoneChanged())

    def _ev_registration_failed(self, failure: RegistrationFailure | None = None,
                                *_: Any) -> None:
        cause = failure.cause if failure is not None else ""
        self.registration = (f"Failed: {cause}" if cause else "Failed", False)
        self.post_to_main(PhoneChanged(cause))

    def _ev_unregistered(self, *_: Any) -> None:
        self.registration = ("Unregistered", None)
        self.post_to_main(PhoneChanged())

    def _ev_audio_notice(self, notice: str) -> None:
        self.audio_notice = notice
        self.notify(notice, title="Audio", severity="warning")
        self.post_to_main(PhoneChanged())

    def _ev_new_session(self, session: SessionAPI) -> None:
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
        self.post_to_main(CallsChanged(call_id))

    @property
    def agent_state(self) -> AgentState:
        """The phone's agent state (it refuses new calls in DND, Away, ACW, Offline)."""
        return self.phone.agent.state

    def _ev_incoming(self, session: SessionAPI) -> None:
        status = session.status
        self._remember(status.number)
        if self.config.ui.notify.bell:
            self.bell()
        detail = " · ".join(x for x in (status.number, status.company, status.queue) if x)
        self.notify(detail, title=f"Incoming: {who(status)}", timeout=5)
        if self.config.ui.notify.osc9:
            self.desktop_notify(f"Incoming call: {who(status)} {detail}")
        self.post_to_main(CallsChanged(session.call_id))

    def _ev_agent_state_change(self, *_: Any) -> None:
        """The state changed; when the phone changed it itself (auto-Away after a missed
        call) the agent is told, since they did not ask for it."""
        self.agent_since = self.clock.monotonic()
        if not self._own_agent_change:
            self.notify(f"You are {self.agent_state.label}.", title="Agent state", timeout=5)
        self.post_to_main(PhoneChanged())

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
        self.refresh_history()

    def _ev_delete_session(self, info: Any = None, *_: Any) -> None:
        call_id = info.get("call_id") if isinstance(info, dict) else None
        if call_id:
            self._unwire(call_id)
        self.post_to_main(CallsChanged(call_id))

    def _ev_session_event(self, session: SessionAPI, event: str, *args: Any) -> None:
        call_id = session.call_id
        if event == "call_report":
            mos = session.call_report.mos
            if mos > 0:
                self.mos_history.setdefault(call_id, deque(maxlen=MOS_HISTORY)).append(mos)
            self.post_to_main(CallReportUpdated(call_id))
        elif event in ("ended", "failed"):
            self._ev_call_finished(session, args[0] if args else {})
        elif event == "transfer_progress":
            self.notify(transfer_text(args[0] if args else None), title="Transfer")
            self.post_to_main(CallsChanged(call_id))
        elif event == "dtmf_received":
            info = args[0] if args else None
            digit = info.get("digit", "") if isinstance(info, dict) else str(info or "")
            self.notify(f"DTMF {digit}", title=who(session.status), timeout=2)
        else:
            self.post_to_main(CallsChanged(call_id))

    def _ev_call_finished(self, session: SessionAPI, info: Any) -> None:
        status = session.status
        answered = session.established
        cause = info.get("cause", "") if isinstance(info, dict) else str(info)
        self._unwire(session.call_id)
        self.mos_history.pop(session.call_id, None)
        finished = CallFinished(session.call_id, answered, cause, status.number, who(status))
        self.refresh_history()
        self.post_to_main(finished)
        if not answered and status.communication_type == "outbound" \
                and cause not in ("Canceled", "Terminated", "Transferred"):
            code = session.end_code
            self.notify(f"{who(status)}: {cause}" + (f" ({code})" if code else ""),
                        title="Call failed", severity="warning")
        # A consult leg is part of the customer's call: that call gets the wrap-up.
        if answered and not status.is_transfer and self.wrapup.enabled():
            self.wrapup.pending.append(finished)
        self.wrapup.start(session.call_id)

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

    # ----- agent state and wrap-up ----------------------------------------------------------
    def set_agent_state(self, status: AgentStatus, reason: str = "") -> None:
        """The agent picked a state (its timer starts again even when it is the same)."""
        with self._agent_changing():
            self.phone.agent.set(status, reason or None)
        self.agent_since = self.clock.monotonic()
        self.post_to_main(PhoneChanged())

    def enter_acw(self) -> None:
        with self._agent_changing():
            self.phone.agent.enter_acw()

    def leave_acw(self) -> None:
        with self._agent_changing():
            self.phone.agent.leave_acw()

    @contextlib.contextmanager
    def _agent_changing(self) -> Iterator[None]:
        """A change the agent asked for: no "You are ..." notice for it."""
        self._own_agent_change = True
        try:
            yield
        finally:
            self._own_agent_change = False

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
    def refresh_history(self) -> None:
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
            self.post_to_main(PhoneChanged())

    async def dial(self, number: str, transfer_parent: str | None = None) -> None:
        """Call ``number`` (a consult leg of ``transfer_parent`` when given) and select the
        new call: the agent is talking on it now, so the keys act on it."""
        self._remember(number)
        try:
            if transfer_parent is None:
                session = await self.phone.call(number)
            else:
                session = await self.phone.call(number, transfer_parent=transfer_parent)
            self.main.selected = session.call_id
            self._show_contact(session, number)
        except AgentConsoleError as exc:
            self.notify(exc.message, title=exc.title, severity="error")
        except Exception as exc:  # noqa: BLE001
            logger.exception("dial failed")
            self.notify(str(exc), title="Dial failed", severity="error")
        self.post_to_main(CallsChanged())

    def _show_contact(self, session: SessionAPI, number: str) -> None:
        """Name a call to a known number (directory, then history) from the start; the
        far end may not say who it is, and the agent called a person, not a number."""
        entry = next((e for e in self.config.directory if e.number == number), None)
        contact = (entry.name, entry.company or "") if entry is not None else None
        if contact is None and self.history is not None:
            try:
                contact = self.history.contact(number)
            except Exception:  # noqa: BLE001 - a name is not worth a failed call
                logger.exception("history lookup failed")
        if contact is not None:
            name, company = contact
            session.set_static_status(name=name, company=company or None, manual=True)

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

