"""Fixtures for the end-to-end console tests: the rig, a private tmux, the console's
config and a sandboxed home (history, logs) per test."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

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
    """XDG dirs inside the test's tmp: the history database and log stay out of $HOME."""
    env = {}
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state"),
                     ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache")):
        (tmp / sub).mkdir(exist_ok=True)
        env[var] = str(tmp / sub)
    return env


@pytest.fixture
def term_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., TmuxTerm]]:
    """``make(width, height)`` -> a started-later TmuxTerm, killed after the test."""
    tmux = require("tmux")
    made: list[TmuxTerm] = []
    test = "".join(c if c.isalnum() else "-" for c in request.node.name)
    shutil.rmtree(ARTIFACTS / test, ignore_errors=True)  # no stale screens from a past run

    def make(width: int = 100, height: int = 30) -> TmuxTerm:
        # The pid keeps two test runs on one machine (CI jobs, several checkouts) off
        # each other's tmux server: same name, same socket, and kill-server kills both.
        name = f"agentconsole-e2e-{os.getpid()}-{test}"[:86] + f"-{len(made)}"
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
