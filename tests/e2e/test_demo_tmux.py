"""``agentconsole demo`` in a real terminal (tmux), driven only by keys: a customer rings
within 10 s; answer, hold, resume, blind-transfer to a colleague, file the wrap-up; dial
the DTMF read-back number, send digits and get them read back; hang up, file; find the
customer in the history and call back, record with a pause (the switch's feature codes),
hang up, file, quit.

No rig: the demo switch and its simulated parties run inside the console's process on
loopback (``--port 0``), so this runs wherever tmux does. Every step is asserted on the
screen; what only the switch side can tell (the colleague got the customer, the read-back
party heard the digits) is asserted on the console's log, where ``-v`` puts the demo's
INFO lines. The screens are kept in ``/tmp/agentconsole-e2e/<test>/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from agentconsole.demo.data import COLLEAGUES, CUSTOMERS, QUEUES, READBACK, Customer

from .conftest import console_binary, home_env
from .steps import (
    console_log,
    file_wrapup,
    header,
    queue_row,
    restyled,
    stored_wrapups,
    talk_seconds,
    wait_exit,
)
from .term import TmuxTerm

SEED = 6
#: Customer calls a minute. The first customer rings 2 s after the agent registers
#: whatever the rate; the gap to the next is at least a quarter of the mean (150 s here),
#: so exactly one customer calls during the test.
RATE = 0.1
#: The demo agent's wrap-up codes, in the form's order (``demo.runner.agent_config``).
CODES = ("Resolved", "Follow-up", "Escalated", "Wrong number")
#: The whole walk-through, start to exit status (each step also has its own timeout).
BUDGET_S = 90.0
TRANSFERRED = re.compile(r"\btransferred \(2\d\d\)")
REC = re.compile(r"\bREC\b(?!-)")


class Budget:
    """Clamp each step's timeout to what is left of the test's overall budget."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def __call__(self, timeout: float) -> float:
        left = self.deadline - time.monotonic()
        assert left > 0, f"the demo walk-through took longer than {self.seconds:g} s"
        return min(timeout, left)


def has_sound_card() -> bool:
    cards = Path("/proc/asound/cards")
    return cards.exists() and "no soundcards" not in cards.read_text()


def ringing_customer(screen: str) -> Customer | None:
    """The bundled customer whose number the selected queue row shows, if any."""
    row = next((line for line in screen.splitlines() if "▶1" in line), "")
    return next((c for c in CUSTOMERS if c.number in row), None)


def wait_log(term: TmuxTerm, path: Path, text: str, timeout: float) -> str:
    """Wait until the console's log holds ``text``; wakes on the console's screen output."""
    deadline = time.monotonic() + timeout
    while True:
        log = path.read_text(errors="replace") if path.exists() else ""
        if text in log:
            return log
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{path} never logged {text!r} in {timeout} s:\n"
                                 f"{log[-2000:]}")
        term.wait_output(min(left, 0.5))


def start_demo(term: TmuxTerm, tmp: Path, budget: Budget) -> Customer:
    """Start the demo; the queue shows a ringing customer with name, number, company and
    queue within 10 s of the command starting."""
    term.logs.append(console_log(tmp))
    term.start([str(console_binary()), "-v", "demo", "--port", "0", "--seed", str(SEED),
                "--rate", str(RATE)], home_env(tmp))
    screen = term.wait_for(lambda s: (c := ringing_customer(s)) is not None
                           and queue_row(c.number)(s), budget(10),
                           "a ringing customer in the queue within 10 s")
    customer = ringing_customer(screen)
    assert customer is not None
    term.snapshot("ringing")
    row = next(line for line in screen.splitlines() if "▶1" in line)
    assert customer.name in row and customer.company[:10] in row, screen
    assert any(q.name in row for q in QUEUES), screen
    assert "Incoming (1)" in screen and "Registered" in header(screen), screen
    if not has_sound_card():
        screen = term.wait_for(lambda s: "no audio device" in header(s), budget(5),
                               "no-audio-device notice in the header")
    return customer


def answer_hold_resume(term: TmuxTerm, customer: Customer, budget: Budget) -> None:
    term.send("a")
    screen = term.wait_for(lambda s: "TALKING" in s and talk_seconds(s) is not None
                           and customer.name in s and "No calls waiting" in s,
                           budget(5), "TALKING panel with a talk timer")
    assert customer.name in screen and "No calls waiting" in screen, screen
    term.snapshot("talking")
    term.send("Space")
    term.wait_for(lambda s: "HELD" in s and "Hold 00:" in s, budget(5), "HELD badge")
    term.snapshot("held")
    term.send("Space")
    term.wait_for(lambda s: "TALKING" in s and "HELD" not in s, budget(5), "resumed")


def transfer_to_colleague(term: TmuxTerm, tmp: Path, customer: Customer,
                          budget: Budget) -> None:
    """``t``, 2001, Enter: NOTIFY progress reaches "transferred", the call leaves the
    screen and the wrap-up form opens for it; the customer's line took the REFER."""
    colleague = COLLEAGUES[0]
    term.send("t")
    term.wait_for("Transfer to", budget(3), "transfer bar")
    term.send("-l", colleague)
    term.wait_for(lambda s: any("Transfer to" in line and colleague in line
                                for line in s.splitlines()), budget(3), "target typed")
    term.send("Enter")
    screen = term.wait_for(lambda s: TRANSFERRED.search(s) is not None, budget(15),
                           "transfer progress: transferred")
    term.snapshot("transferred")
    screen = term.wait_for(lambda s: "Wrap-up" in s and "Transferred" in s
                           and "TALKING" not in s and customer.name in s, budget(5),
                           "call gone, wrap-up form")
    assert customer.name in screen, screen
    wait_log(term, console_log(tmp), f": transferred to sip:{colleague}@", budget(15))


def readback_digits(term: TmuxTerm, tmp: Path, budget: Budget) -> None:
    """``d`` 601 Enter, then the keys 4 and 2 go out as DTMF; the read-back party logs
    "42" and sends both digits back, which the console shows as "DTMF n" toasts."""
    term.send("d")
    term.wait_for(lambda s: "esc Cancel" in s, budget(3), "dial bar focused")
    term.send("-l", READBACK)
    term.wait_for(lambda s: any(line.lstrip().startswith("Dial") and READBACK in line
                                for line in s.splitlines()), budget(3), "number typed")
    term.send("Enter")
    screen = term.wait_for(lambda s: "TALKING" in s and (talk_seconds(s) or 0) >= 1
                           and READBACK in s, budget(10), "talking to the read-back number")
    assert READBACK in screen, screen
    term.snapshot("readback-talking")
    seen: set[str] = set()

    def both_read_back(screen: str) -> bool:
        seen.update(d for d in "42" if f"DTMF {d}" in screen)
        return seen == {"4", "2"}

    term.send("4")
    term.send("2")
    term.wait_for(both_read_back, budget(10), "DTMF 4 and DTMF 2 read back")
    term.snapshot("read-back")
    wait_log(term, console_log(tmp), "demo read-back number heard 42", budget(15))


def hang_up(term: TmuxTerm, budget: Budget, number: str = READBACK) -> None:
    term.send("h")
    term.wait_for("again to hang up", budget(3), "hang-up confirmation")
    term.send("h")
    # the whole form, not its frame: a screen caught mid-paint shows "Wrap-up" first
    screen = term.wait_for(lambda s: "Wrap-up" in s and "TALKING" not in s
                           and f"({number})" in s, budget(10), "wrap-up form after hang-up")
    assert f"({number})" in screen, screen  # "<who> (601) · <how it ended>"
    term.snapshot("hung-up")


def call_back_and_record(term: TmuxTerm, customer: Customer, budget: Budget) -> None:
    """F3, search the customer, Enter, ``D``: the switch hands the call to an idle
    customer line and the customer answers. Then ``R``, ``P``, ``P``, ``R`` send the
    switch's record and pause codes; each badge follows the state the switch reports."""
    term.send("F3")
    term.wait_for(lambda s: s.lstrip().startswith("History"), budget(5), "history screen")
    focused = restyled(term, "search number")
    term.send("/")
    term.wait_for(focused, budget(3), "search field focused")  # else keys go to the table
    term.send("-l", customer.name)
    term.wait_for(lambda s: "1 call matching" in s, budget(5), "the customer's call found")
    term.send("Enter")
    term.wait_for(lambda s: "Call back" in s.splitlines()[-1], budget(3), "table focused")
    term.send("D")
    screen = term.wait_for(lambda s: "TALKING" in s and customer.number in s, budget(10),
                           "talking to the customer called back")
    term.snapshot("called-back")
    for key, wanted, what in (("R", "REC", "recording"), ("P", "REC-PAUSED", "paused"),
                              ("P", "REC", "recording again"), ("R", "", "stopped")):
        term.send(key)

        def shows(s: str, wanted: str = wanted) -> bool:
            if wanted == "REC-PAUSED":
                return "REC-PAUSED" in s
            return bool(REC.search(s)) == bool(wanted) and "REC-PAUSED" not in s

        screen = term.wait_for(lambda s, shows=shows: shows(s) and customer.number in s,
                               budget(10), what)
    assert customer.number in screen, screen


def wrap_up(term: TmuxTerm, code: str, notes: str, budget: Budget) -> None:
    file_wrapup(term, code, notes, CODES)
    term.wait_for(lambda s: "Available" in header(s) and "Wrap-up" not in s, budget(5),
                  "wrap-up filed, back to Available")


def quit_console(term: TmuxTerm, budget: Budget) -> None:
    term.send("C-q")
    screen = term.wait_for(lambda s: term.dead or "Quit?" in s, budget(5),
                           "console quit or asked")
    if not term.dead and "Quit?" in screen:
        term.send("y")
    status = wait_exit(term, budget(15))
    final = term.capture()
    assert status == ("0", ""), (status, final)
    assert "Traceback" not in final, final


def test_demo_by_keys(tmp_path: Path, term_factory: Callable[..., TmuxTerm]) -> None:
    term = term_factory(100, 30)
    budget = Budget(BUDGET_S)
    customer = start_demo(term, tmp_path, budget)
    answer_hold_resume(term, customer, budget)
    transfer_to_colleague(term, tmp_path, customer, budget)
    wrap_up(term, "Resolved", "sent to billing", budget)
    readback_digits(term, tmp_path, budget)
    hang_up(term, budget)
    wrap_up(term, "Follow-up", "read back 42", budget)
    call_back_and_record(term, customer, budget)
    hang_up(term, budget, customer.number)
    wrap_up(term, "Escalated", "called back", budget)
    term.snapshot("available")
    quit_console(term, budget)
    assert sorted(stored_wrapups(tmp_path, "demo-history.sqlite3")) == sorted([
        (customer.number, "Resolved", "sent to billing"),
        (READBACK, "Follow-up", "read back 42"),
        (customer.number, "Escalated", "called back"),
    ])
