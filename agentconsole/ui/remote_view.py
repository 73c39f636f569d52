"""The console's side of detach and attach, and what the header says about remote use:
attached or detached, and where the audio goes.

The console may run inside a holder (:mod:`agentconsole.remote`), a small server that
owns its terminal so it outlives the agent's. The holder tells the console over a side
channel when a terminal attaches or goes; this module reacts: on attach the new terminal
is set up as Textual sets one up when it resumes (alternate screen, mouse, paste,
keyboard modes) and the whole screen is drawn again — the new terminal shows nothing of
ours yet, even at the same size. The ``remote.on_detach`` policy itself is the holder
side's (it works on the phone's agent state, which the console mirrors like any other
change).

The console does not import :mod:`agentconsole.remote` (``tests/test_layers.py``): the
entry module (:mod:`agentconsole.ui_main`) builds the link on the phone and hands it over
as a :class:`RemoteLinkAPI`, the little the console uses of it. ``None`` (``--no-detach``,
the demo, tests) means no holder: no detach, no attached/detached mark.

Where the audio goes comes from the phone (``phone.devices``): a PulseAudio server
through an SSH tunnel is named in the header; over SSH with no audio path the header
warns and says how to forward the sound, rather than a silent null backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .messages import PhoneChanged

if TYPE_CHECKING:
    from .app import AgentConsoleApp

#: Wait between setting the new terminal up and drawing on it (see :meth:`attached`).
RESIZE_SETTLE_S = 0.05
#: How to bring the agent's sound to a console running over SSH (README: Working over SSH).
FORWARD_HINT = "forward it: ssh -R 4713:localhost:4713, PULSE_SERVER=tcp:localhost:4713"
NO_AUDIO = "no audio device"


class RemoteLinkAPI(Protocol):
    """What the console uses of :class:`agentconsole.remote.link.ConsoleLink`."""

    @property
    def attached(self) -> bool:
        """Is a terminal attached now?"""

    @property
    def over_ssh(self) -> bool:
        """Is the terminal attached now (or last) an SSH session's?"""

    def listen(self, attached: Callable[[dict[str, Any]], None],
               detached: Callable[[str], None], terminate: Callable[[], None]) -> None:
        """Start reading the holder's news on the running loop, calling these back."""

    def request_detach(self) -> None:
        """Ask the holder to let the terminal go (the console keeps running)."""


@dataclass(frozen=True)
class RemoteHeader:
    remote: str = ""  # "attached" | "detached" | "" (no holder)
    audio: str = ""  # where audio goes when that is worth saying: "audio: pulse via SSH tunnel"
    audio_short: str = ""  # the same in a few cells: "pulse/ssh"
    hint: str = ""  # the one-line fix for "no audio device" over SSH


class RemoteView:
    """Owned by the app: the link (or None), whether the agent's terminal is over SSH."""

    def __init__(self, app: AgentConsoleApp, link: RemoteLinkAPI | None, *,
                 over_ssh: bool = False) -> None:
        self.app = app
        self.link = link
        self.over_ssh = link.over_ssh if link is not None else over_ssh

    def start(self) -> None:
        """Called from the app's ``on_mount``: the holder's news from now on."""
        if self.link is not None:
            self.link.listen(self.attached, self.detached, self.terminate)

    def attached(self, info: dict[str, Any]) -> None:
        """Set the new terminal up as Textual does on resume, then draw everything."""
        self.over_ssh = bool(info.get("ssh"))
        app = self.app
        driver = app._driver
        if driver is not None and not app.is_headless and driver.can_suspend:
            driver.suspend_application_mode()
            driver.resume_application_mode()  # posts a Resize with the terminal's size
        # Paint once that size is applied (Textual applies a resize 1/120 s after it
        # hears of it), so the new terminal never gets a frame of the old size.
        app.set_timer(RESIZE_SETTLE_S, self.repaint, name="remote-repaint")

    def repaint(self) -> None:
        """Draw the whole screen again, whether or not its size changed."""
        app = self.app
        app.refresh(layout=True)
        app.screen.refresh()
        app.post_to_main(PhoneChanged())

    def detached(self, _reason: str) -> None:
        self.app.post_to_main(PhoneChanged())

    def terminate(self) -> None:
        self.app.call_later(self.app.shutdown)

    def detach(self) -> None:
        if self.link is None:
            self.app.notify("This console runs without a holder (--no-detach): there is "
                            "nothing to come back to. Quit with ctrl+q instead.",
                            title="Detach", severity="warning")
            return
        self.link.request_detach()

    def header(self) -> RemoteHeader:
        """The header's remote part, read on every tick (cheap: attributes only)."""
        remote = ""
        if self.link is not None:
            remote = "attached" if self.link.attached else "detached"
        devices = self.app.phone.devices
        route = devices.route
        audio, short = (f"audio: {route.words}", route.short) if route is not None else ("", "")
        hint = FORWARD_HINT if self.over_ssh and devices.silent else ""
        return RemoteHeader(remote, audio, short, hint)

    def notice(self, fallback: str | None) -> str:
        """The audio warning now: a PulseAudio server comes and goes with its tunnel, so
        the phone is asked each time; over SSH a silent null backend is a warning too."""
        devices = self.app.phone.devices
        if devices.name == "pulse":
            return self.app.phone.audio_notice or ""
        if fallback:
            return fallback
        return NO_AUDIO if self.over_ssh and devices.silent else ""
