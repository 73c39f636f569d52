"""Fixtures for the end-to-end console tests: the rig, a private tmux, the console's
config and a sandboxed home (history, logs) per test."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import psutil
import pytest

from ..interop.conftest import kamailio_rtpengine  # noqa: F401  (re-exported fixture)
from ..interop.media_check import agent_yaml
from ..interop.rig import require
from .term import TmuxTerm

ARTIFACTS = Path("/tmp/agentconsole-e2e")


def console_binary() -> Path:
    """The venv's ``agentconsole`` script, next to the interpreter running the tests."""
    path = Path(sys.executable).parent / "agentconsole"
    assert path.exists(), f"{path} missing: is the package installed in this venv?"
    return path


def console_yaml(tmp: Path, *, backend: str = "file", user: str = "1004") -> Path:
    """1004 over WS to the rig, wrap-up codes Sale/Support, a loopback-only media host."""
    audio = None if backend == "file" else f"  backend: {backend}\n"
    path = tmp / f"console-{backend}.yaml"
    path.write_text(agent_yaml(tmp, user=user, tone_hz=660, audio=audio,
                               extra="agent:\n  wrapup:\n    codes: [Sale, Support]\n"))
    return path


def home_env(tmp: Path) -> dict[str, str]:
    """XDG dirs inside the test's tmp: the history database and log stay out of $HOME,
    and the socket of the console's holder in a runtime dir of the test's own."""
    env = {}
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state"),
                     ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache")):
        (tmp / sub).mkdir(exist_ok=True)
        env[var] = str(tmp / sub)
    # The console's control and attach sockets: the test's own runtime dir
    # (private_runtime_dir).
    env["XDG_RUNTIME_DIR"] = os.environ["XDG_RUNTIME_DIR"]
    return env


@pytest.fixture(autouse=True)
def private_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A runtime dir per test for the console's control and attach sockets, so a console
    started by a test never meets another one's; short, since Unix socket paths hold 107
    bytes. Afterwards no console the test left held there keeps running."""
    path = tempfile.mkdtemp(prefix="ac-e2e-")
    monkeypatch.setenv("XDG_RUNTIME_DIR", path)
    yield
    stop_held_consoles(Path(path))
    shutil.rmtree(path, ignore_errors=True)


def stop_held_consoles(runtime: Path, timeout: float = 10.0) -> list[int]:
    """SIGTERM (then SIGKILL) every holder and console found in ``runtime``; their pids.
    A console in a holder outlives its terminal — that is the point — so a test that
    fails half-way must not leave one running."""
    from agentconsole.remote.registry import query

    pids: list[int] = []
    for sock in (runtime / "agentconsole").glob("console-*.sock"):
        found = query(sock)
        if found is not None:
            pids += [found.holder_pid, found.pid]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            procs.append(psutil.Process(pid))
    _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    return pids


@pytest.fixture
def term_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., TmuxTerm]]:
    """``make(width, height)`` -> a started-later TmuxTerm, killed after the test."""
    tmux = require("tmux")
    made: list[TmuxTerm] = []
    test = "".join(c if c.isalnum() else "-" for c in request.node.name)
    shutil.rmtree(ARTIFACTS / test, ignore_errors=True)  # no stale screens from a past run

    def make(width: int = 100, height: int = 30) -> TmuxTerm:
        # Unique per run as well as per test: another worktree's run of the same test
        # must never find (and kill) this server. Cut at the end: the socket path
        # /tmp/tmux-UID/NAME holds 107 bytes.
        name = f"ac-e2e-{os.getpid()}-{len(made)}-{test}"[:90]
        term = TmuxTerm(tmux, name, ARTIFACTS / test, width=width, height=height)
        made.append(term)
        return term

    yield make
    report = getattr(request.node, "rep_call", None)
    for term in made:
        if report is not None and report.failed and term.started:
            with contextlib.suppress(AssertionError, OSError):
                term.snapshot("at-failure")
        term.kill()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so teardown knows whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
