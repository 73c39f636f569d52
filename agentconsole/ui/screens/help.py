"""Help: the active key map, every action with its keys (after the user's remapping)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from ..actions import ACTIONS, describe_keys


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 100%; max-width: 96; height: 100%; max-height: 36;
        border: round $primary; background: $surface; padding: 0 1;
        border-title-color: $primary; border-title-style: bold;
    }
    HelpScreen DataTable { height: 1fr; }
    HelpScreen .help--hint { color: $foreground-muted; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, keymap: dict[str, tuple[str, ...]]) -> None:
        super().__init__(id="help")
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Keys"
            table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns("Key", "Action", "What it does")
            for spec in ACTIONS:
                table.add_row(describe_keys(self.keymap[spec.id]), spec.id, spec.help,
                              key=spec.id)
            yield table
            yield Static("0-9 * #: DTMF to the selected call, or start dialling · "
                         "remap with ui.keymap · esc closes", classes="help--hint")

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    def action_close(self) -> None:
        self.dismiss(None)
