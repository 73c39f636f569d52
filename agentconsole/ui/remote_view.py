"""The console's side of detach and attach (agentconsole.remote), and what the header
says about remote use: attached or detached, and where the audio goes.

The holder tells the console over the side channel when a terminal attaches or goes;
this module reacts: on attach the new terminal is set up as Textual sets one up when
it resumes (alternate screen, mouse, paste, keyboard modes) and the whole screen is
drawn again — the new terminal shows nothing of ours yet, even at the same size. The
``remote.on_detach`` policy itself lives in :mod:`agentconsole.remote.policy` and works
on the phone's agent state, which the console mirrors like any other change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .messages import PhoneChanged

if TYPE_CHECKING:
    from .app import AgentConsoleApp

#: Wait between setting the new terminal up and drawing on it (see :meth:`attached`).
RESIZE_SETTLE_S = 0.05
#: How to bring the agent's sound to a console running over SSH (README: Audio over SSH).
FORWARD_HINT = "forward it: ssh -R 4713:localhost:4713, PULSE_SERVER=tcp:localhost:4713"


@dataclass(frozen=True)
class RemoteHeader:
    remote: str = ""  # "attached" | "detached" | "" (no holder)
    audio: str = ""  # where audio goes when that is worth saying: "audio: pulse via SSH tunnel"
    audio_short: str = ""  # the same in a few cells: "pulse/ssh"
    hint: str = ""  # the one-line fix for "no audio device" over SSH


class RemoteView:
    """Owned by the app: the link (or None), whether the agent's terminal is over SSH."""

    def __init__(self, app: AgentConsoleApp, link: Any | None, *, over_ssh: bool = False
                 ) -> None:
        self.app = app
        self.link = link
        self.over_ssh = bool(link.state.ssh) if link is not None else over_ssh

    def start(self) -> None:
        if self.link is None:
            return
        from ..remote.link import LinkHandlers

        self.link.start(self.app.phone, LinkHandlers(self.attached, self.detached,
                                                     self.terminate))

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
        app._changed(PhoneChanged())

    def detached(self, _reason: str) -> None:
        self.app._changed(PhoneChanged())

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
            remote = "attached" if self.link.state.attached else "detached"
        backend = getattr(self.app.phone, "audio_backend", None)
        audio = short = ""
        if backend is not None and getattr(backend, "name", "") == "pulse" \
                and backend.notice is None:
            audio = f"audio: {backend.route}"
            short = "pulse/ssh" if backend.via_ssh else "pulse"
        hint = ""
        no_audio = backend is not None and getattr(backend, "name", "") in ("null", "pulse") \
            and (backend.name == "null" or backend.notice is not None)
        if self.over_ssh and no_audio:
            hint = FORWARD_HINT
        return RemoteHeader(remote, audio, short, hint)

    def notice(self, fallback: str | None) -> str:
        """The audio warning now: a PulseAudio server comes and goes with its tunnel, so
        its backend is asked each time; over SSH a silent null backend is a warning too."""
        backend = getattr(self.app.phone, "audio_backend", None)
        if backend is not None and getattr(backend, "name", "") == "pulse":
            return backend.notice or ""
        if fallback:
            return fallback
        if self.over_ssh and backend is not None and getattr(backend, "name", "") == "null":
            return "no audio device"
        return ""
