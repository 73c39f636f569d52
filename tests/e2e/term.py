"""A terminal the end-to-end tests can type into and read: one private tmux server.

Each :class:`TmuxTerm` runs its own tmux server (``tmux -L NAME``, no user config), so
parallel runs and the developer's own tmux never see each other. The test reads the
screen with ``capture-pane -p`` (plain text, what a person would see) and polls it; a
wait that times out writes the last screen to a file and puts it in the assertion.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

#: Longest wait for the next pane output before the screen is captured again anyway (a
#: screen can also change without output reaching control mode, e.g. on a resize).
IDLE_RECHECK_S = 0.5


class ScreenTimeout(AssertionError):
    """The screen never showed what a step waited for."""


class TmuxTerm:
    """One detached tmux session of ``width`` x ``height`` running one command."""

    def __init__(self, tmux: str, name: str, artifacts: Path, *, width: int = 100,
                 height: int = 30) -> None:
        self.tmux = tmux
        self.name = name
        self.artifacts = artifacts
        self.width = width
        self.height = height
        self.started = False
        self._shots = 0
        #: Files whose tails go into a timeout's message (the program's own log, ...).
        self.logs: list[Path] = []
        #: A control-mode client: it prints a %output line whenever the pane writes, so
        #: waits wake on terminal output instead of polling on a timer.
        self._control: subprocess.Popen[bytes] | None = None

    def _run(self, *args: str, check: bool = True) -> str:
        result = subprocess.run([self.tmux, "-L", self.name, "-f", "/dev/null", *args],
                                capture_output=True, text=True, timeout=10)
        if check and result.returncode != 0:
            raise AssertionError(f"tmux {args[0]} failed: {result.stderr.strip()}")
        return result.stdout

    def start(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        """Start ``argv`` in the session with ``env`` added to the server's environment
        (ours, inherited when the server starts)."""
        assigns = [f"{k}={v}" for k, v in sorted({"TERM": "tmux-256color",
                                                  **(env or {})}.items())]
        # COLUMNS/LINES (pytest exports them) would override the pane's real size.
        command = shlex.join(["env", "-u", "COLUMNS", "-u", "LINES", *assigns, *argv])
        self._run("kill-server", check=False)  # a stale server of this private name
        self._run("new-session", "-d", "-s", "e2e", "-x", str(self.width),
                  "-y", str(self.height), command)
        self.started = True
        # Keep the pane after the program exits, so a crash or a clean quit can be read.
        self._run("set-option", "-t", "e2e", "remain-on-exit", "on")
        self._control = subprocess.Popen(
            [self.tmux, "-L", self.name, "-f", "/dev/null", "-C", "attach", "-t", "e2e"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        os.set_blocking(self._control.stdout.fileno(), False)  # type: ignore[union-attr]

    def wait_output(self, timeout: float) -> None:
        """Block until the pane writes something (or ``timeout``); drain what came."""
        control = self._control
        if control is None or control.stdout is None or control.poll() is not None:
            return  # no client to watch (server gone): the caller captures again at once
        ready, _, _ = select.select([control.stdout], [], [], timeout)
        if ready:
            with contextlib.suppress(BlockingIOError):
                control.stdout.read()

    def capture(self, *, styled: bool = False) -> str:
        """The screen as text; ``styled`` keeps the SGR sequences (to see a highlight)."""
        return self._run("capture-pane", "-p", *(["-e"] if styled else []), "-t", "e2e")

    def send(self, *keys: str) -> None:
        """tmux key names (``a``, ``Space``, ``C-q``, ``Enter``, ``Down``)."""
        self._run("send-keys", "-t", "e2e", *keys)

    def pane(self, fmt: str) -> str:
        return self._run("display-message", "-p", "-t", "e2e", fmt).strip()

    @property
    def dead(self) -> bool:
        return self.pane("#{pane_dead}") == "1"

    def snapshot(self, label: str) -> Path:
        """Write the current screen to ``artifacts/NN-label.txt`` (for the report/CI)."""
        self._shots += 1
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{self._shots:02d}-{label}.txt"
        path.write_text(self.capture())
        return path

    def wait_for(self, what: str | Callable[[str], bool], timeout: float = 10.0,
                 label: str = "") -> str:
        """Poll the screen until it contains ``what`` (or ``what(screen)`` holds)."""
        check = (lambda s: what in s) if isinstance(what, str) else what
        deadline = time.monotonic() + timeout
        screen = ""
        while True:
            screen = self.capture()
            if check(screen):
                return screen
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.wait_output(min(left, IDLE_RECHECK_S))
        name = label or (what if isinstance(what, str) else "condition")
        path = self.snapshot("timeout-" + "".join(c if c.isalnum() else "_" for c in name))
        dead = " (the program exited)" if self.dead else ""
        tails = "".join(f"\n--- {log}\n{log.read_text(errors='replace')[-1500:]}"
                        for log in self.logs if log.exists())
        raise ScreenTimeout(f"screen never showed {name!r} in {timeout} s{dead} "
                            f"(saved to {path}):\n{screen}{tails}")

    def wait_gone(self, text: str, timeout: float = 10.0) -> str:
        return self.wait_for(lambda s: text not in s, timeout, f"no {text}")

    def kill(self) -> None:
        """Kill the session's server (this private socket only)."""
        if self._control is not None:
            if self._control.poll() is None:
                self._control.kill()
            self._control.wait(5)
            self._control = None
        if self.started:
            self._run("kill-server", check=False)
            self.started = False
