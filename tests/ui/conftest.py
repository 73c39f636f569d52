"""Fixtures for the console tests: a config, a frozen clock, an app on a fake phone."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from agentconsole.config import Config
from agentconsole.ui.app import AgentConsoleApp
from agentconsole.ui.clock import FixedClock

from .fakes import FakePhone, FakeSession

BASE: dict[str, Any] = {
    "account": {"aor": "sip:1001@pbx.example.com", "display_name": "Agent 1001",
                "register": False, "transport": "wss",
                "ws_url": "wss://pbx.example.com:8089/ws"},
    "directory": [{"name": "Alice Support", "number": "1002", "company": "ACME"},
                  {"name": "Bob Sales", "number": "1003"}],
}


def make_config(**sections: Any) -> Config:
    data = {**BASE, **sections}
    return Config.from_mapping(data, env={})


def frozen_clock() -> FixedClock:
    return FixedClock(datetime(2025, 3, 14, 9, 26, 53), mono=1000.0)


@pytest.fixture(autouse=True)
def private_data_home(tmp_path_factory: pytest.TempPathFactory,
                      monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app's default history file goes to a fresh temporary XDG data dir per test,
    and a console's control socket to a runtime dir of its own (a short path: Unix
    socket paths are limited to 107 bytes)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
    runtime = tempfile.mkdtemp(prefix="ac-run-")
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    yield
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def config() -> Config:
    return make_config()


@pytest.fixture
def make_app() -> Callable[..., tuple[AgentConsoleApp, FakePhone]]:
    def build(config: Config | None = None, *, session_class: type[FakeSession] = FakeSession,
              **kwargs: Any) -> tuple[AgentConsoleApp, FakePhone]:
        config = config or make_config()
        phone = FakePhone(config, session_class=session_class)
        app = AgentConsoleApp(config, phone=phone, clock=frozen_clock(), **kwargs)
        return app, phone

    return build
