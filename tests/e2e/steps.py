"""Steps shared by the end-to-end tests: start the console, read its screen, take a call."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
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
    screen = term.wait_for("Registered", 15)
    assert "Available" in header(screen), screen


def ring_and_answer(term: TmuxTerm, peer: Baresip) -> str:
    """baresip dials 1004; the queue shows it; ``a`` answers; the panel shows talking."""
    peer.command("dial", "sip:1004@127.0.0.1")
    screen = term.wait_for(queue_row("1001"), 10, "ringing call from 1001 in the queue")
    assert "Incoming (1)" in screen, screen
    term.snapshot("ringing")
    term.send("a")
    screen = term.wait_for(lambda s: "TALKING" in s and talk_seconds(s) is not None, 10,
                           "TALKING panel with a talk timer")
    assert "No calls waiting" in screen, screen
    peer.wait_log("Call established", 10)
    return screen


def stored_wrapups(tmp: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(tmp / "data" / "agentconsole" / "history.sqlite3")
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


def file_wrapup(term: TmuxTerm, code: str, notes: str) -> None:
    """In the open wrap-up form: highlight ``code`` with the arrows, choose it, type the
    notes, file. Each key waits for its effect: keys typed before the focus has moved to
    the notes field would land in the code list instead."""
    codes = ["Sale", "Support"]
    target = codes.index(code)
    for _ in range(target):
        highlighted = restyled(term, code)
        term.send("Down")
        term.wait_for(highlighted, 3, f"{code} highlighted")
    focused = restyled(term, "notes (enter")
    term.send("Enter")  # choose the code; the form moves the focus to the notes
    term.wait_for(focused, 3, "notes field focused")
    term.send("-l", notes)
    term.wait_for(notes, 3, "notes typed")
    term.send("Enter")
