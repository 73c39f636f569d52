"""Small modal screens: quit confirmation, the agent-state menu, the wrap-up form.

Escape always means "back / no" here, never the destructive choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

from ...config import AgentConfig
from ...softphone.agent import AgentStatus

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 64; max-width: 95%; height: auto; max-height: 90%;
    border: round $accent; background: $surface; padding: 0 1;
    border-title-color: $accent; border-title-style: bold;
}}
{name} Horizontal {{ height: auto; align-horizontal: right; }}
{name} Button {{ margin: 0 1; }}
{name} .dialog--error {{ color: $error; }}
"""


class ConfirmQuit(ModalScreen[bool]):
    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmQuit")
    BINDINGS = [Binding("y", "answer(True)", "Quit"), Binding("n,escape", "answer(False)", "Stay")]

    def __init__(self, calls: int) -> None:
        super().__init__(id="confirm-quit")
        self.calls = calls

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Quit?"
            noun = "call is" if self.calls == 1 else "calls are"
            yield Label(f"{self.calls} {noun} up. Quitting hangs up every call.")
            with Horizontal():
                yield Button("Stay \\[n]", id="no", variant="primary")
                yield Button("Hang up and quit \\[y]", id="yes", variant="error")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


def menu_choices(config: AgentConfig) -> list[tuple[str, AgentStatus, str]]:
    """(label, status, reason) rows of the state menu, Away once per configured reason."""
    rows = [("Available", AgentStatus.AVAILABLE, "")]
    rows += [(f"Away: {reason}", AgentStatus.AWAY, reason) for reason in config.states]
    if not config.states:
        rows.append(("Away", AgentStatus.AWAY, ""))
    rows += [("After-call work", AgentStatus.ACW, ""), ("Do not disturb", AgentStatus.DND, ""),
             ("Offline", AgentStatus.OFFLINE, "")]
    return rows


@dataclass(frozen=True)
class StateChoice:
    status: AgentStatus
    reason: str = ""


class AgentStateMenu(ModalScreen[StateChoice | None]):
    DEFAULT_CSS = DIALOG_CSS.format(name="AgentStateMenu") + """
    AgentStateMenu OptionList { height: auto; max-height: 14; }
    """
    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, choices: list[tuple[str, AgentStatus, str]], current: str) -> None:
        super().__init__(id="agent-state")
        self.choices = choices
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Agent state (now: {self.current})"
            yield OptionList(*(Option(label, id=str(i))
                               for i, (label, _s, _r) in enumerate(self.choices)))
            yield Label("↑↓ choose · enter set · esc back", classes="dialog--hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        _label, status, reason = self.choices[int(event.option.id or 0)]
        self.dismiss(StateChoice(status, reason))

    def action_close(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class WrapupResult:
    code: str
    notes: str
    #: False when the agent chose "later": a draft to show again, not a filed wrap-up.
    filed: bool = True


class WrapupForm(ModalScreen[WrapupResult | None]):
    """Wrap-up code (from ``agent.wrapup.codes``) and free notes; code required if set.

    ``escape`` ("later") keeps what was entered as a draft (a :class:`WrapupResult` with
    ``filed=False``); the form opened again for the same call starts from it.
    """

    DEFAULT_CSS = DIALOG_CSS.format(name="WrapupForm") + """
    WrapupForm OptionList { height: auto; max-height: 10; }
    """
    BINDINGS = [Binding("escape", "later", "Later"), Binding("ctrl+s", "file", "File")]

    def __init__(self, codes: tuple[str, ...], required: bool, about: str,
                 draft: WrapupResult | None = None) -> None:
        super().__init__(id="wrapup")
        self.codes = codes
        self.required = required
        self.about = about
        self.draft = draft
        self.chosen = ""

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Wrap-up"
            yield Label(self.about)
            yield OptionList(*self.codes, id="wrapup-codes")
            yield Input(self.draft.notes if self.draft else "",
                        placeholder="notes (enter files the wrap-up)", id="wrapup-notes")
            yield Label("", classes="dialog--error", id="wrapup-error")
            code = "code" if self.required else "code (optional)"
            yield Label(f"↑↓ {code} · enter next · ctrl+s file · esc later (kept)",
                        classes="dialog--hint")

    def on_mount(self) -> None:
        codes = self.query_one(OptionList)
        codes.focus()
        # Nothing is chosen until the agent chooses: the highlight starts empty (or on the
        # draft's code), and what is highlighted is what ctrl+s files, so a required code
        # is really asked for.
        drafted = self.draft.code if self.draft else ""
        codes.highlighted = self.codes.index(drafted) if drafted in self.codes else None
        self.chosen = drafted if drafted in self.codes else ""

    @on(OptionList.OptionHighlighted)
    def _code_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.highlighted == event.option_index:  # not a stale message
            self.chosen = self.codes[event.option_index]

    @on(OptionList.OptionSelected)
    def _code_chosen(self, event: OptionList.OptionSelected) -> None:
        self.chosen = self.codes[event.option_index]
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _notes_done(self) -> None:
        self.action_file()

    def action_file(self) -> None:
        code = self.chosen
        if self.required and not code:
            self.query_one("#wrapup-error", Label).update("Choose a wrap-up code first.")
            return
        self.dismiss(WrapupResult(code, self.query_one(Input).value.strip()))

    def action_later(self) -> None:
        self.dismiss(WrapupResult(self.chosen, self.query_one(Input).value.strip(),
                                  filed=False))
