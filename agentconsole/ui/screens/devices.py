"""The audio devices screen: input / output / ring lists, pick, rescan, test tone, meter.

Everything goes through the phone's devices (``phone.devices``): the list, a pick
(stored in ``AgentConsoleApp.audio_choice`` too; a backend that cannot switch says the
choice applies from the next start), a rescan (the phone's, so a phone that fell back
to silence picks the headset up), the test tone and the level meter. With no device
at all the screen says so in words, not an empty frame: calls still work, without
sound.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...errors import AgentConsoleError
from ...softphone.api import DeviceInfo, LevelMeter
from ..widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from ..app import AgentConsoleApp

logger = logging.getLogger(__name__)

KINDS = (("input", "Microphone"), ("output", "Speaker"), ("ring", "Ring"))
METER_HZ = 10
NO_DEVICE = ("No audio device found. Calls still work, but without sound: silence is "
             "sent and the caller is not played.\n\nPlug in a headset, then press r to "
             "rescan.")


def meter_bar(level: float | None, width: int = 30) -> str:
    """``▕██████░░░░▏`` for a 0..1 level; a dotted bar when there is no signal yet."""
    if level is None:
        return "▕" + "·" * width + "▏"
    filled = min(width, max(0, round(level * width)))
    return "▕" + "█" * filled + "░" * (width - filled) + "▏"


def usable(devices: list[DeviceInfo], kind: str) -> list[DeviceInfo]:
    if kind == "input":
        return [d for d in devices if d.max_input_channels > 0]
    return [d for d in devices if d.max_output_channels > 0]


def is_chosen(device: DeviceInfo, choice: str | int, kind: str) -> bool:
    """Does the config-style spec ``choice`` (index, name, substring, "default") pick it?"""
    if choice in ("default", -1):
        return device.is_default_input if kind == "input" else device.is_default_output
    if isinstance(choice, int) or str(choice).isdigit():
        return device.index == int(choice)
    return device.name == choice or str(choice).lower() in device.name.lower()


class DevicesScreen(Screen[None]):
    DEFAULT_CSS = """
    DevicesScreen { layout: vertical; }
    DevicesScreen #devices-title { height: 1; background: $panel; padding: 0 1; }
    DevicesScreen #devices-lists { height: 1fr; }
    DevicesScreen #devices-lists > Vertical { width: 1fr; height: 1fr;
        border: round $panel-lighten-2; border-title-color: $accent; }
    DevicesScreen #devices-lists > Vertical:focus-within { border: round $accent; }
    DevicesScreen OptionList { height: 1fr; border: none; background: $surface; }
    DevicesScreen #devices-empty { height: 1fr; border: round $warning; padding: 1 2;
        border-title-color: $warning; }
    DevicesScreen #devices-meter { height: 1; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "back", "Back"), Binding("r", "rescan", "Rescan"),
                Binding("t", "tone", "Test tone"), Binding("l", "meter", "Level meter")]

    def __init__(self, back_keys: tuple[str, ...] = ("f4",)) -> None:
        super().__init__(id="devices")
        self._bindings.bind(",".join(back_keys), "back", "Back", show=False)
        self.devices: list[DeviceInfo] = []
        self._lists: dict[str, list[DeviceInfo]] = {}
        self._meter: LevelMeter | None = None
        self._meter_timer: Timer | None = None

    @property
    def console(self) -> AgentConsoleApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static("", id="devices-title")
        with Horizontal(id="devices-lists"):
            for kind, label in KINDS:
                with Vertical(id=f"box-{kind}") as box:
                    box.border_title = label
                    yield OptionList(id=f"devices-{kind}")
        empty = Static(NO_DEVICE, id="devices-empty")
        empty.border_title = "No audio device"
        yield empty
        yield Static("", id="devices-meter")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.show(self.console.phone.devices.available())

    def on_unmount(self) -> None:
        self._stop_meter()

    def show(self, devices: list[DeviceInfo]) -> None:
        self.devices = devices
        choice = self.console.audio_choice
        for kind, _label in KINDS:
            found = usable(devices, kind)
            self._lists[kind] = found
            options = self.query_one(f"#devices-{kind}", OptionList)
            options.clear_options()
            options.add_options([Option(self._label(d, choice[kind], kind), id=str(i))
                                 for i, d in enumerate(found)])
            chosen = next((i for i, d in enumerate(found) if is_chosen(d, choice[kind], kind)),
                          0)
            if found:
                options.highlighted = chosen
        none = not any(self._lists.values())
        self.query_one("#devices-lists").display = not none
        self.query_one("#devices-empty").display = none
        self.query_one("#devices-meter").display = not none
        self.refresh_bindings()
        if not none and self.focused is None:
            self.query_one("#devices-input", OptionList).focus()
        # Asked now: a sound server through an SSH tunnel answers or not from minute to minute.
        notice = self.console.remote_view.notice(self.console.audio_notice)
        if none:
            extra = f"\n\nThe phone reported: {notice}" if notice else ""
            self.query_one("#devices-empty", Static).update(escape(NO_DEVICE + extra))
        now = self.console.phone.devices.description or notice
        self.query_one("#devices-title", Static).update(
            f"[b]Audio devices[/b] · {len(devices)} found"
            + (f" · in use: {escape(now)}" if now and not none else ""))
        self._show_meter()

    @staticmethod
    def _label(device: DeviceInfo, choice: str | int, kind: str) -> str:
        mark = "●" if is_chosen(device, choice, kind) else " "
        default = device.is_default_input if kind == "input" else device.is_default_output
        tag = " (default)" if default else ""
        return f"{mark} {device.name}{tag}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Test tone and meter need a device; the footer hides them when there is none."""
        if action in ("tone", "meter"):
            return any(self._lists.values())
        return True

    def _focused_kind(self) -> str:
        focused = self.focused
        if isinstance(focused, OptionList) and focused.id:
            return focused.id.removeprefix("devices-")
        return "output"

    def _highlighted(self, kind: str) -> DeviceInfo | None:
        found = self._lists.get(kind, [])
        index = self.query_one(f"#devices-{kind}", OptionList).highlighted
        return found[index] if found and index is not None and index < len(found) else None

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        kind = (event.option_list.id or "").removeprefix("devices-")
        device = self._lists[kind][int(event.option.id or 0)]
        self._choose(kind, device.name)
        self.show(self.devices)

    def _choose(self, kind: str, name: str) -> None:
        """Keep the agent's pick and hand it to the phone, which switches live when its
        backend is a sound card."""
        self.console.audio_choice[kind] = name
        try:
            self.console.phone.devices.choose(**{kind: name})
        except AgentConsoleError as exc:  # e.g. the null backend: nothing to switch
            logger.info("device switch refused: %s", exc)
            self.notify(f"{kind.capitalize()}: {name}. The phone uses it from its next "
                        f"start (audio.{kind} in the config keeps it).",
                        title="Audio device", timeout=5)
            return
        self.notify(f"{kind.capitalize()}: {name}", title="Audio device", timeout=3)

    def action_back(self) -> None:
        self.dismiss(None)

    @work(thread=True, exclusive=True, group="devices-rescan", exit_on_error=False)
    def action_rescan(self) -> None:
        phone = self.console.phone
        try:
            devices = phone.devices.rescan(calls_up=bool(phone.sessions))
        except Exception as exc:  # noqa: BLE001 - report it, keep the screen
            logger.exception("audio rescan failed")
            self.app.call_from_thread(self.notify, str(exc), title="Rescan failed",
                                      severity="error")
            return
        self.app.call_from_thread(self.show, devices)
        self.app.call_from_thread(self.notify, f"{len(devices)} audio device(s) found.",
                                  title="Rescan", timeout=3)

    def action_tone(self) -> None:
        kind = self._focused_kind()
        device = self._highlighted("ring" if kind == "ring" else "output")
        if device is None:
            self.notify("There is no output device to play a tone on.", severity="warning")
            return
        self.notify(f"Playing a 1 kHz tone on {device.name}.", title="Test tone", timeout=2)
        self._play(device)

    @work(thread=True, exclusive=True, group="devices-tone", exit_on_error=False)
    def _play(self, device: DeviceInfo) -> None:
        try:
            self.console.phone.devices.play_test_tone(device)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"{device.name}: {exc}",
                                      title="Test tone failed", severity="error")

    def action_meter(self) -> None:
        """Toggle the input level meter on the highlighted microphone."""
        if self._meter is not None:
            self._stop_meter()
            self._show_meter()
            return
        device = self._highlighted("input")
        if device is None:
            self.notify("There is no microphone to measure.", severity="warning")
            return
        try:
            self._meter = self.console.phone.devices.open_meter(device)
        except Exception as exc:  # noqa: BLE001 - busy device, no PortAudio
            self.notify(f"{device.name}: {exc}", title="Level meter", severity="error")
            return
        self._meter_timer = self.set_interval(1 / METER_HZ, self._show_meter,
                                              name="devices-meter")
        self._show_meter()

    def _stop_meter(self) -> None:
        if self._meter_timer is not None:
            self._meter_timer.stop()
            self._meter_timer = None
        if self._meter is not None:
            self._meter.close()
            self._meter = None

    def _show_meter(self) -> None:
        widget = self.query_one("#devices-meter", Static)
        if self._meter is None:
            widget.update("[$foreground-muted]Level meter off (l starts it on the "
                          "highlighted microphone)[/]")
            return
        level = self._meter.level()
        text = "waiting for audio" if level is None else f"{round(level * 100):3d}%"
        widget.update(f"Mic level {meter_bar(level)} {text}")
