"""The dial / transfer input, completing from the directory and from recent numbers.

One input serves three purposes (dial, blind-transfer target, consult target); the
prompt says which. Completion is inline (Textual's suggester: → accepts it) and matches
a directory name or number by prefix, case-insensitively; a completed name is resolved
to its number on submit, so agents can type "ali→⏎" to reach Alice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input, Label

PROMPTS = {"dial": "Dial", "transfer": "Transfer to", "consult": "Consult"}


class DirectorySuggester(Suggester):
    """Suggest from (name, number) pairs and recent numbers; names win over numbers."""

    def __init__(self, entries: Callable[[], Iterable[tuple[str, str]]],
                 recent: Callable[[], Sequence[str]]) -> None:
        super().__init__(use_cache=False, case_sensitive=False)
        self._entries = entries
        self._recent = recent

    async def get_suggestion(self, value: str) -> str | None:
        return suggest(value, list(self._entries()), list(self._recent()))


def suggest(value: str, entries: list[tuple[str, str]], recent: Sequence[str]) -> str | None:
    """The completion of ``value`` (pure, for tests): a name, a number, or None."""
    text = value.strip().casefold()
    if not text:
        return None
    for name, _number in entries:
        if name.casefold().startswith(text):
            return name
    for number in list(recent) + [n for _name, n in entries]:
        if number.casefold().startswith(text):
            return number
    return None


def resolve(value: str, entries: Iterable[tuple[str, str]]) -> str:
    """A directory name (exact, any case) becomes its number; anything else is dialled."""
    text = value.strip()
    for name, number in entries:
        if name.casefold() == text.casefold():
            return number
    return text


class DialBar(Horizontal):
    DEFAULT_CSS = """
    DialBar { height: 3; padding: 0 1; }
    DialBar Label { padding: 1 1 0 0; color: $foreground-muted; width: auto; }
    DialBar.-active Label { color: $accent; text-style: bold; }
    DialBar Input { width: 1fr; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=True)]

    class Submitted(Message):
        def __init__(self, mode: str, target: str) -> None:
            super().__init__()
            self.mode = mode
            self.target = target

    def __init__(self, entries: Callable[[], Iterable[tuple[str, str]]],
                 recent: Callable[[], Sequence[str]], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._entries = entries
        self._recent = recent
        self.mode = "dial"

    def compose(self) -> ComposeResult:
        yield Label(PROMPTS["dial"], id="dial-prompt")
        yield Input(placeholder="number or name (→ completes)", id="dial-input",
                    suggester=DirectorySuggester(self._entries, self._recent),
                    select_on_focus=False)

    def open(self, mode: str, text: str = "") -> None:
        """Focus the input for ``mode`` (dial / transfer / consult)."""
        self.mode = mode
        self.query_one("#dial-prompt", Label).update(PROMPTS.get(mode, mode))
        field = self.query_one(Input)
        field.value = text
        field.cursor_position = len(text)
        self.add_class("-active")
        field.focus()

    def action_cancel(self) -> None:
        self._close()

    def _close(self) -> None:
        field = self.query_one(Input)
        field.value = ""
        self.mode = "dial"
        self.query_one("#dial-prompt", Label).update(PROMPTS["dial"])
        self.remove_class("-active")
        self.screen.set_focus(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        mode = self.mode
        self._close()
        if value:
            self.post_message(self.Submitted(mode, resolve(value, self._entries())))
