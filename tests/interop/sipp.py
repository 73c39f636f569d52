"""Run SIPp scenarios from tests: one subprocess per scenario, bounded in time.

Each run gets its own files in the test's tmp dir (SIP message trace, unexpected
messages, final statistics screen) so a failing test can show what went over the wire.
Every SIPp is started with ``-timeout`` and ``-m 1`` and in its own process group; it
is stopped by its pid only.

SIPp substitutes ``-key`` values inside message text only, not in attributes such as
``<recv response="...">``, so scenario files may carry ``@NAME@`` tokens that
:func:`render` fills in before SIPp reads the file.

SIPp exit codes (sipp(1)): 0 every call succeeded, 1 at least one call failed,
97 exit on internal command, 99 normal exit without any call processed,
255 (-1) fatal error, 254 (-2) fatal error binding a socket.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .rig import RIG_DIR, USERS, require

SCENARIOS = RIG_DIR / "sipp"
PROXY = "127.0.0.1:5060"


def render(name: str, work: Path, **tokens: str | int) -> Path:
    """Copy scenario ``name`` into ``work`` with each ``@KEY@`` token replaced."""
    text = (SCENARIOS / name).read_text()
    for key, value in tokens.items():
        text = text.replace(f"@{key.upper()}@", str(value))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError(f"scenario {name}: no value for {sorted(set(left))}")
    suffix = re.sub(r"[^A-Za-z0-9]+", "_", "-".join(str(v) for v in tokens.values()))
    out = work / (f"{Path(name).stem}-{suffix}.xml" if suffix else name)
    out.write_text(text)
    return out


@dataclass(frozen=True)
class SippStats:
    """The counters of SIPp's final statistics screen (``-trace_screen``)."""

    successful: int
    failed: int


class Sipp:
    """One SIPp process running one scenario file for exactly one call."""

    def __init__(self, name: str, scenario: Path, work: Path, *, port: int,
                 media_port: int, remote: str | None = PROXY, timeout_s: float = 20.0,
                 extra: list[str] | None = None, ip: str = "127.0.0.1") -> None:
        self.binary = require("sipp")
        self.name = name
        self.work = work
        self.timeout_s = timeout_s
        self.messages = work / f"sipp-{name}-messages.log"
        self.errors = work / f"sipp-{name}-errors.log"
        self.screen = work / f"sipp-{name}-screen.log"
        self.output = work / f"sipp-{name}.out"
        args = [self.binary]
        if remote is not None:
            args.append(remote)
        args += ["-sf", str(scenario), "-i", ip, "-p", str(port), "-mp", str(media_port),
                 "-m", "1", "-nostdin", "-timeout", f"{int(timeout_s)}s", "-timeout_error",
                 "-trace_msg", "-message_file", str(self.messages),
                 "-trace_err", "-error_file", str(self.errors),
                 "-trace_screen", "-screen_file", str(self.screen)]
        self.args = args + list(extra or [])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Sipp:
        self.proc = subprocess.Popen(
            self.args, cwd=self.work, stdin=subprocess.DEVNULL,
            stdout=self.output.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def run(self) -> int:
        """Start, wait (blocking) for the exit; for short helpers such as REGISTER."""
        self.start()
        return self.wait_blocking()

    def wait_blocking(self) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(self.timeout_s + 5)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"sipp {self.name} did not exit\n{self.trace()}") from None

    async def wait(self, timeout: float | None = None) -> int:
        """Wait for SIPp to exit without blocking the event loop the phone runs in."""
        assert self.proc is not None
        limit = self.timeout_s + 5 if timeout is None else timeout
        deadline = time.monotonic() + limit
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"sipp {self.name} did not exit in {limit} s\n"
                                     f"{self.trace()}")
            await asyncio.sleep(0.05)
        return self.proc.returncode

    def stop(self) -> None:
        """Terminate this SIPp (its own process group, by pid), then reap it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(3)
        except ProcessLookupError:
            pass

    def stats(self) -> SippStats:
        """Successful/failed call counts from the final screen (or stdout)."""
        for path in (self.screen, self.output):
            text = path.read_text(errors="replace") if path.exists() else ""
            ok = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", text)
            bad = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", text)
            if ok and bad:
                return SippStats(successful=int(ok[-1]), failed=int(bad[-1]))
        raise AssertionError(f"no statistics from sipp {self.name}\n{self.trace()}")

    def sent_and_received(self) -> list[str]:
        """First lines of every SIP message in the trace, in order, with direction."""
        if not self.messages.exists():
            return []
        lines: list[str] = []
        direction = ""
        expect_first = False
        for line in self.messages.read_text(errors="replace").splitlines():
            if "message sent" in line:
                direction, expect_first = ">>", True
            elif "message received" in line:
                direction, expect_first = "<<", True
            elif expect_first and line.strip():
                lines.append(f"{direction} {line.strip()}")
                expect_first = False
        return lines

    def trace(self, limit: int = 4000) -> str:
        """What to show when a test fails: the exit code, message flow, errors."""
        parts = [f"sipp {self.name} rc={self.returncode} args={' '.join(self.args[1:])}"]
        parts += self.sent_and_received()
        for path in (self.errors, self.output):
            if path.exists():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-limit:]}")
        return "\n".join(parts)


def register(work: Path, user: str, contact: str, *, expires: int, port: int = 5091,
             media_port: int = 6190) -> Sipp:
    """Point ``user``'s AoR at ``contact`` (``host:port``) with the rig's register.xml."""
    sipp = Sipp(f"register-{user}-{expires}", SCENARIOS / "register.xml", work, port=port,
                media_port=media_port, timeout_s=10,
                extra=["-s", user, "-au", user, "-ap", USERS[user],
                       "-key", "contact", contact, "-key", "expires", str(expires)])
    sipp.run()
    return sipp
