"""Steps shared by the end-to-end tests: start the console, read its screen, take a call."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from ..interop.baresip import Baresip
from .conftest import console_binary, console_yaml, home_env
from .term import TmuxTerm

TALK = re.compile(r"Talk (\d\d):(\d\d)")


def talk_seconds(screen: str) -> int | None:
    found = TALK.search(screen)
    return int(found[1]) * 60 + int(found[2]) if found else None


def queue_row(number: str) -> Callable[[str], bool]:
    """The queue lists a ringing call from ``number`` (line 1, selected)."""
    return lambda s: any("1" in line and line.count(number) >= 1 and "00:0" in line
                         for line in s.splitlines() if "▶1" in line)


def header(screen: str) -> str:
    return screen.splitlines()[0] if screen else ""


def start_console(term: TmuxTerm, tmp: Path, backend: str) -> None:
    config = console_yaml(tmp, backend=backend)
    term.logs.append(console_log(tmp))
    term.start([str(console_binary()), "--config", str(config)], home_env(tmp))
    screen = term.wait_for(lambda s: "Registered" in s and "Available" in header(s), 15,
                           "Registered and Available")
    assert "Available" in header(screen), screen


def ring_and_answer(term: TmuxTerm, peer: Baresip) -> str:
    """baresip dials 1004; the queue shows it; ``a`` answers; the panel shows talking."""
    peer.command("dial", "sip:1004@127.0.0.1")
    ringing = queue_row("1001")
    screen = term.wait_for(lambda s: ringing(s) and "Incoming (1)" in s, 10,
                           "ringing call from 1001 in the queue")
    assert "Incoming (1)" in screen, screen
    term.snapshot("ringing")
    term.send("a")
    screen = term.wait_for(lambda s: "TALKING" in s and talk_seconds(s) is not None
                           and "No calls waiting" in s, 10, "TALKING panel with a talk timer")
    assert "No calls waiting" in screen, screen
    peer.wait_log("Call established", 30)
    return screen


def stored_wrapups(tmp: Path, name: str = "history.sqlite3") -> list[tuple[str, str, str]]:
    """Wrap-ups filed in the console's history (the demo keeps its own file)."""
    db = sqlite3.connect(tmp / "data" / "agentconsole" / name)
    try:
        return [tuple(r) for r in db.execute(
            "SELECT number, wrapup_code, wrapup_notes FROM calls WHERE wrapup_at IS NOT NULL")]
    finally:
        db.close()


def console_log(tmp: Path) -> Path:
    """Where the console logs while it owns the terminal (``ui_main.log_path``)."""
    return tmp / "state" / "agentconsole" / "console.log"


def styled_line(term: TmuxTerm, text: str) -> str:
    """The first screen line holding ``text``, with its colours (a highlight shows here)."""
    return next((line for line in term.capture(styled=True).splitlines() if text in line), "")


def restyled(term: TmuxTerm, text: str) -> Callable[[str], bool]:
    """A condition: the line holding ``text`` is drawn differently from how it is now."""
    before = styled_line(term, text)
    return lambda _screen: styled_line(term, text) != before


def file_wrapup(term: TmuxTerm, code: str, notes: str,
                codes: Sequence[str] = ("Sale", "Support")) -> None:
    """In the open wrap-up form: highlight ``code`` with the arrows, choose it, type the
    notes, file. Each key waits for its effect: keys typed before the focus has moved to
    the notes field would land in the code list instead. ``codes`` are the form's codes
    in order (none starts highlighted: the first Down highlights the first code)."""
    target = list(codes).index(code)
    for step in codes[:target + 1]:
        highlighted = restyled(term, step)
        term.send("Down")
        term.wait_for(highlighted, 3, f"{step} highlighted")
    focused = restyled(term, "notes (enter")
    term.send("Enter")  # choose the code; the form moves the focus to the notes
    term.wait_for(focused, 3, "notes field focused")
    term.send("-l", notes)
    term.wait_for(notes, 3, "notes typed")
    term.send("Enter")


def exit_of(term: TmuxTerm) -> tuple[str, str]:
    """The dead pane's (exit status, signal) as tmux recorded them; both empty until it
    has reaped the program."""
    status, _, sig = term.pane("#{pane_dead_status}:#{pane_dead_signal}").partition(":")
    return status, sig


def wait_exit(term: TmuxTerm, timeout: float = 15.0) -> tuple[str, str]:
    """Wait until the program in ``term`` has exited and tmux knows how: (status, signal).

    tmux learns it from SIGCHLD. A tmux built with libutempter swaps in its own SIGCHLD
    handler while utempter's helper runs — which it does when the pane's pty closes, just
    before the program's exit is signalled — so that SIGCHLD can be lost and the pane
    stays dead with no status and the program a zombie (tmux/tmux#311). A SIGCHLD sent
    to our private server makes it reap again."""

    def recorded(_screen: str) -> bool:
        if not term.dead:
            return False
        if exit_of(term) != ("", ""):
            return True
        os.kill(int(term.pane("#{pid}")), signal.SIGCHLD)
        return False

    term.wait_for(recorded, timeout, "program exited with a status")
    return exit_of(term)
