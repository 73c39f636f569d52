"""A shift, compressed: the real console takes call after call from the demo switch, by keys.

Shared by ``bench/bench_soak.py`` (2,000 calls, a table every 250) and
``tests/soak/test_soak.py`` (a short run in ``make test``). The console is the real
:class:`~agentconsole.ui.app.AgentConsoleApp`, headless under Textual's Pilot, on a
real :class:`~agentconsole.Phone` registered over UDP to the demo switch, which runs
with its simulated parties in a child process (:mod:`tests.soak.switch`): every figure
taken here (RSS, fds, tasks, threads, heap) is the console's process alone.

Keys go in as a terminal sends them (:func:`press` posts Textual key events, as the
loopback UI tests do: Pilot's own ``press`` waits for the process to go CPU-idle, which
it never does while a call's media runs). After each key the driver waits for the state
the key should cause, on the phone and on screen, never for a fixed time; a call "talks"
for a number of received audio frames (20 ms each).

Every call follows :func:`plan`: customers ring and the agent answers, holds and
resumes, sends DTMF, records with a pause, and ends the call by hanging up, by a blind
transfer to a colleague (2001-2003), or the customer hangs up; some calls the agent
rejects, some the customer gives up while they ring, and some the agent places to the
DTMF read-back number (601) and hears the digits come back. Every answered call gets its
wrap-up form filed with a code. Every call's history row is checked as it ends.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual import events
from textual.keys import _character_to_key
from textual.widgets import Input, OptionList

from agentconsole import Phone
from agentconsole.config import Config
from agentconsole.demo.data import ACCOUNTS, AGENT, COLLEAGUES, ECHO, READBACK, account
from agentconsole.history import CallHistory
from agentconsole.softphone.session import Session
from agentconsole.ui.app import AgentConsoleApp
from agentconsole.ui.screens.dialogs import WrapupForm
from tests.waiting import frames_flow, wait_until

ROOT = Path(__file__).resolve().parents[2]
CODES = ("Resolved", "Follow-up", "Escalated", "Wrong number")
#: Seconds any one step may take before the run stops as stuck (a wait, not a pace).
STEP_S = 20.0
#: The call kinds, one per call in this order, then again (see :func:`plan`).
KINDS = ("hangup", "transfer", "hangup", "remote", "transfer", "hangup", "outbound",
         "transfer", "refuse", "hangup")
DISPOSITION = {"hangup": "answered", "remote": "answered", "outbound": "answered",
               "transfer": "transferred", "reject": "rejected", "missed": "missed"}


# ----- the plan of each call ------------------------------------------------------------------
@dataclass(frozen=True)
class CallPlan:
    """What the agent does on call ``n`` (0-based)."""

    n: int
    kind: str  # hangup | transfer | remote | outbound | reject | missed
    hold: bool
    digits: str
    record: bool
    stop_record: bool  # stop the recording by key before the call ends
    code: str
    colleague: str

    @property
    def answered(self) -> bool:
        return self.kind not in ("reject", "missed")


def plan(n: int) -> CallPlan:
    """Call ``n``'s actions: the kinds cycle every 10 calls and the actions every 2, 3
    and 4, so every combination comes round and every action is seen every few calls."""
    kind = KINDS[n % len(KINDS)]
    if kind == "refuse":
        kind = "reject" if (n // len(KINDS)) % 2 == 0 else "missed"
    digits = "".join("1234567890#"[(n + i) % 11] for i in range(2 + n % 3))
    return CallPlan(n=n, kind=kind, hold=n % 2 == 0,
                    digits=digits if kind == "outbound" or n % 3 == 0 else "",
                    record=n % 3 != 0 and kind != "outbound", stop_record=n % 4 == 1,
                    code=CODES[n % len(CODES)], colleague=COLLEAGUES[n % len(COLLEAGUES)])


# ----- the switch in its own process ----------------------------------------------------------
class SwitchProcess:
    """The parent's end of :mod:`tests.soak.switch`: one request, one answer."""

    def __init__(self, proc: asyncio.subprocess.Process, host: str, port: int) -> None:
        self.proc = proc
        self.host = host
        self.port = port
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls, profile: str, log: Path | None = None,
                    seed: int = 7) -> SwitchProcess:
        args = [sys.executable, "-m", "tests.soak.switch", "--profile", profile,
                "--seed", str(seed)]
        if log is not None:
            args += ["--log", str(log)]
        proc = await asyncio.create_subprocess_exec(
            *args, cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60.0)
        if not line:
            await proc.wait()
            raise RuntimeError(f"the demo switch process exited ({proc.returncode})")
        ready = json.loads(line)
        return cls(proc, str(ready["host"]), int(ready["port"]))

    async def request(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        async with self._lock:
            self.proc.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
            await self.proc.stdin.drain()
            line = await asyncio.wait_for(self.proc.stdout.readline(), 2 * STEP_S)
        if not line:
            raise RuntimeError("the demo switch process went away")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"demo switch: {answer['error']}")
        return answer

    async def stop(self) -> None:
        if self.proc.returncode is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b'{"op": "quit"}\n')
                await self.proc.stdin.drain()
                await asyncio.wait_for(self.proc.wait(), 15.0)
            except (OSError, TimeoutError):
                self.proc.kill()
                await self.proc.wait()


# ----- the console ----------------------------------------------------------------------------
def console_config(host: str, port: int, *, profile: str, recordings: Path) -> Config:
    """Agent 1001 on the demo switch: the demo's agent with local recording into
    ``recordings``, no sound card (null audio), no bell, the demo's wrap-up codes."""
    agent = account(AGENT)
    assert agent is not None
    directory = [{"name": a.display_name, "number": a.user, "company": "Demo Corp"}
                 for a in ACCOUNTS if a.user in (*COLLEAGUES, ECHO, READBACK)]
    return Config.from_mapping({
        "account": {"aor": f"sip:{AGENT}@{host}:{port}", "password": agent.password,
                    "display_name": agent.display_name, "transport": "udp"},
        "sip": {"local_host": host},
        "media": {"host_addresses": [host], "profile": profile},
        "audio": {"backend": "null"},
        "recording": {"mode": "local", "directory": str(recordings)},
        "calls": {"dial_rate_limit_s": 0},
        "agent": {"wrapup": {"codes": list(CODES)}},
        "ui": {"notify": {"bell": False}},
        "directory": directory,
    }, env={}, source="<soak>")


def press(app: AgentConsoleApp, *names: str) -> None:
    """Post key events as a terminal would (``"a"``, ``"space"``, ``"enter"``, ``"#"``)."""
    for name in names:
        key = _character_to_key(name) if len(name) == 1 else name
        char = name if len(name) == 1 else {"space": " "}.get(name)
        app.post_message(events.Key(key, char))


@dataclass
class Sample:
    """The console process at one point of the shift."""

    calls: int
    elapsed: float
    rss_mb: float
    fds: int
    tasks: int
    threads: int
    heap_mb: float | None
    history_rows: int
    sessions: int
    widgets: int


@dataclass
class ShiftLog:
    """What happened: every call id by call number, outcomes, the samples."""

    call_ids: dict[int, str] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    readbacks: int = 0
    recordings: int = 0


class Shift:
    """The agent at the console, taking calls one after another."""

    def __init__(self, app: AgentConsoleApp, phone: Phone, history: CallHistory,
                 switch: SwitchProcess, recordings: Path, *, talk_frames: int = 50) -> None:
        self.app = app
        self.phone = phone
        self.history = history
        self.switch = switch
        self.recordings = recordings
        self.talk_frames = talk_frames
        self.log = ShiftLog()
        self.started = time.monotonic()

    # ----- waiting ------------------------------------------------------------------------
    async def until(self, predicate: Callable[[], object], what: str) -> None:
        await wait_until(predicate, STEP_S, what)

    async def focused(self, widget_type: type[Any], what: str) -> None:
        await self.until(lambda: isinstance(self.app.screen.focused, widget_type), what)

    # ----- one call -----------------------------------------------------------------------
    async def call(self, n: int) -> None:
        p = plan(n)
        if p.kind == "outbound":
            session = await self._dial_readback(p)
        else:
            session = await self._ring(p)
            if not p.answered:
                await self._refuse(p, session)
                self._check_row(p, session)
                return
            await self._answer(session)
        await self._talk(p, session)
        await self._end(p, session)
        await self._wrap_up(p, session)
        self._check_row(p, session)
        self._check_recording(p, session)

    async def _ring(self, p: CallPlan) -> Session:
        rang = await self.switch.request("ring")
        call_id = str(rang["call_id"])
        self.log.call_ids[p.n] = call_id
        await self.until(lambda: call_id in self.phone.sessions, f"call {p.n} to ring")
        await self.until(lambda: self.app.main.selected == call_id,
                         f"call {p.n} selected in the queue")
        return self.phone.sessions[call_id]

    async def _refuse(self, p: CallPlan, session: Session) -> None:
        if p.kind == "reject":
            press(self.app, "r")
        else:  # the customer gives up while it rings
            await self.switch.request("hangup", call_id=session.call_id)
        await self.until(lambda: session.is_ended and not self.phone.sessions,
                         f"call {p.n} to end unanswered")
        self.log.kinds[p.kind] += 1

    async def _answer(self, session: Session) -> None:
        press(self.app, "a")
        await self.until(lambda: session.status.call_status == "talking", "the answer")

    async def _dial_readback(self, p: CallPlan) -> Session:
        """``d 601 ⏎``: the agent calls the DTMF read-back number."""
        before = set(self.phone.sessions)
        press(self.app, "d")
        await self.focused(Input, "the dial bar")
        press(self.app, *READBACK, "enter")
        await self.until(lambda: set(self.phone.sessions) - before, "the dialled call")
        (call_id,) = set(self.phone.sessions) - before
        self.log.call_ids[p.n] = call_id
        session = self.phone.sessions[call_id]
        await self.until(lambda: session.status.call_status == "talking",
                         f"{READBACK} to answer")
        return session

    async def _talk(self, p: CallPlan, session: Session) -> None:
        await frames_flow(session.media, self.talk_frames, STEP_S)
        if p.hold:
            press(self.app, "space")
            await self.until(lambda: session.status.is_hold, "the hold")
            press(self.app, "space")
            await self.until(lambda: not session.status.is_hold, "the resume")
        if p.digits:
            heard: list[str] = []
            session.on("dtmf_received", lambda info: heard.append(str(info["digit"])))
            press(self.app, *p.digits)
            if p.kind == "outbound":  # 601 says them back as DTMF after a short pause
                await self.until(lambda: "".join(heard) == p.digits, "the read-back")
                self.log.readbacks += 1
            else:
                await self.switch.request("hears", call_id=session.call_id, digits=p.digits)
        if p.record:
            for key, state in (("R", "recording"), ("P", "pause"), ("P", "recording")):
                press(self.app, key)
                await self.until(lambda s=state: session.status.record_status == s,  # type: ignore[misc]
                                 f"record {state}")
            if p.stop_record:
                press(self.app, "R")
                await self.until(lambda: session.status.record_status == "stop",
                                 "record stop")

    async def _end(self, p: CallPlan, session: Session) -> None:
        if p.kind == "transfer":
            press(self.app, "t")
            await self.focused(Input, "the transfer bar")
            press(self.app, *p.colleague, "enter")
        elif p.kind == "remote":
            await self.switch.request("hangup", call_id=session.call_id)
        else:
            press(self.app, "h", "h")
        await self.until(lambda: session.is_ended, f"call {p.n} ({p.kind}) to end")
        self.log.kinds[p.kind] += 1

    async def _wrap_up(self, p: CallPlan, session: Session) -> None:
        app = self.app
        await self.until(lambda: isinstance(app.screen, WrapupForm), "the wrap-up form")
        await self.focused(OptionList, "the wrap-up codes")
        press(app, *["down"] * (CODES.index(p.code) + 1), "enter")
        await self.focused(Input, "the wrap-up notes")
        press(app, *f"n{p.n}", "enter")
        await self.until(lambda: not isinstance(app.screen, WrapupForm)
                         and not app.wrapup.pending, "the wrap-up to be filed")

    # ----- checks as the shift goes -------------------------------------------------------
    def _check_row(self, p: CallPlan, session: Session) -> None:
        rows = self.history.db.execute(
            "SELECT disposition, wrapup_code, wrapup_notes FROM calls WHERE call_id=?",
            (session.call_id,)).fetchall()
        want = DISPOSITION[p.kind]
        got = [(r["disposition"], r["wrapup_code"], r["wrapup_notes"]) for r in rows]
        expected = [(want, p.code, f"n{p.n}")] if p.answered else [(want, "", "")]
        if got != expected:
            self.log.problems.append(f"call {p.n} ({p.kind}): history {got}, want {expected}")

    def _check_recording(self, p: CallPlan, session: Session) -> None:
        """A recorded call left a WAV with audio in it; the file goes (disk space)."""
        if not p.record:
            return
        path = session.recording_path
        if path is None or not os.path.exists(path) or os.path.getsize(path) <= 44:
            self.log.problems.append(f"call {p.n}: no recording ({path})")
            return
        os.unlink(path)
        self.log.recordings += 1

    # ----- measuring ----------------------------------------------------------------------
    async def settle(self) -> None:
        """Between calls: the switch's lines are free, no call is up, and the notifications
        timed out by themselves (as they do in front of an agent)."""
        await self.switch.request("quiet")
        await self.until(lambda: not self.phone.sessions, "no call in the phone")
        await self.until(lambda: not any(screen.query("Toast")
                                         for screen in self.app.screen_stack),
                         "the notifications to time out")

    async def sample(self, calls: int) -> Sample:
        await self.settle()
        gc.collect()
        heap = tracemalloc.get_traced_memory()[0] / 2**20 if tracemalloc.is_tracing() else None
        widgets = sum(len(list(screen.walk_children())) + 1 for screen in self.app.screen_stack)
        row = self.history.db.execute("SELECT COUNT(*) FROM calls").fetchone()
        sample = Sample(calls=calls, elapsed=time.monotonic() - self.started,
                        rss_mb=rss_mb(), fds=len(os.listdir("/proc/self/fd")),
                        tasks=len(asyncio.all_tasks()), threads=os_threads(),
                        heap_mb=heap, history_rows=int(row[0]),
                        sessions=len(self.phone.sessions), widgets=widgets)
        self.log.samples.append(sample)
        return sample

    def history_check(self) -> list[str]:
        """Every call placed is in the history once, and nothing else is."""
        rows = self.history.db.execute("SELECT call_id FROM calls").fetchall()
        counts = Counter(str(r["call_id"]) for r in rows)
        placed = set(self.log.call_ids.values())
        problems = [f"{len(placed)} call ids for {len(self.log.call_ids)} calls"] \
            if len(placed) != len(self.log.call_ids) else []
        duplicated = sorted(c for c, k in counts.items() if k > 1)
        missing = sorted(placed - set(counts))
        extra = sorted(set(counts) - placed)
        for label, ids in (("duplicated", duplicated), ("missing", missing),
                           ("not placed", extra)):
            if ids:
                problems.append(f"{len(ids)} history rows {label}: {', '.join(ids[:5])}")
        return problems


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def os_threads() -> int:
    """Threads of this process as the OS counts them (native ones included)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # pragma: no cover - not Linux
        return threading.active_count()


# ----- the whole run ---------------------------------------------------------------------------
@asynccontextmanager
async def shift(workdir: Path, *, profile: str = "rtp", talk_frames: int = 50,
                size: tuple[int, int] = (120, 40)) -> AsyncIterator[Shift]:
    """The switch process, the console on it (registered), and the driver."""
    recordings = workdir / "recordings"
    switch = await SwitchProcess.start(profile, log=workdir / "switch.log")
    try:
        config = console_config(switch.host, switch.port, profile=profile,
                                recordings=recordings)
        phone = Phone(config)
        history = CallHistory(workdir / "history.sqlite3")
        app = AgentConsoleApp(config, phone=phone, history=history)
        try:
            async with app.run_test(size=size, notifications=True):
                await wait_until(lambda: app.registration[1] is True, STEP_S,
                                 "the console to register")
                yield Shift(app, phone, history, switch, recordings, talk_frames=talk_frames)
        finally:
            await phone.stop()
            history.close()
    finally:
        await switch.stop()


@contextmanager
def logged_to(path: Path, level: int = logging.WARNING) -> Iterator[Counter[str]]:
    """Log the console's records at ``level`` and above to ``path`` meanwhile; the counter
    counts them by level name (an ERROR in a soak is a finding even when every call went
    through)."""
    counts: Counter[str] = Counter()

    class Counting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            counts[record.levelname] += 1

    to_file = logging.FileHandler(path)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handlers = (to_file, Counting())
    root = logging.getLogger()
    was = root.level
    root.setLevel(min(was, level) if was else level)
    for handler in handlers:
        handler.setLevel(level)
        root.addHandler(handler)
    try:
        yield counts
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(was)
        to_file.close()
