"""Fixtures for the control tests: the demo switch, an agent phone with its integration
(control socket in a short private directory), and socket clients."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentconsole import Config, Phone
from agentconsole.control.integration import Integration
from agentconsole.demo.data import account
from agentconsole.demo.runner import DemoRunner
from tests.demo.conftest import demo  # noqa: F401  (re-exported fixture: the demo switch)

from .rpc import RpcClient


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path (a Unix socket path holds at most 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="acc-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def demo_agent(switch: DemoRunner, tmp: Path, user: str = "1001",
               **sections: Any) -> Config:
    """Agent ``user`` on the demo switch, no sound card, local recordings in ``tmp``,
    its control socket in ``tmp/run``; ``sections`` are merged over that."""
    acc = account(user)
    assert acc is not None
    host, port = switch.switch.host, switch.switch.port
    data: dict[str, Any] = {
        "account": {"aor": f"sip:{user}@{host}:{port}", "password": acc.password,
                    "display_name": acc.display_name},
        "sip": {"local_host": host},
        "media": {"host_addresses": [host]},
        "audio": {"backend": "null"},
        "recording": {"directory": str(tmp / "recordings")},
        "calls": {"dial_rate_limit_s": 0, "no_answer_s": 0},
        "control": {"socket": str(tmp / "run" / "control.sock")},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return Config.from_mapping(data, env={}, source=f"<test agent {user}>")


@dataclass
class Agent:
    phone: Phone
    integration: Integration
    config: Config

    @property
    def socket(self) -> Path:
        return self.integration.socket_path

    async def client(self) -> RpcClient:
        return await RpcClient.connect(self.socket)


MakeAgent = Callable[..., Awaitable[Agent]]


@pytest.fixture
async def make_agent() -> AsyncIterator[MakeAgent]:
    """``await make_agent(config)``: a started phone and integration (serve's set-up)."""
    made: list[Agent] = []

    async def make(config: Config, *, start_phone: bool = True, **kwargs: Any) -> Agent:
        phone = Phone(config)
        kwargs.setdefault("files_wrapups", True)
        integration = Integration(phone, config, **kwargs)
        await integration.start()
        agent = Agent(phone, integration, config)
        made.append(agent)
        if start_phone:
            await phone.start()
        return agent

    try:
        yield make
    finally:
        for agent in made:
            await agent.phone.stop()
            await agent.integration.stop()
