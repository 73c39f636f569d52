"""Fixtures for the demo switch tests: a running switch with its parties, and agent phones
registered to it with a tone in and a WAV of what they hear out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from agentconsole.demo.data import account
from agentconsole.demo.parties import party_config
from agentconsole.demo.runner import DemoOptions, DemoRunner
from agentconsole.softphone.phone import Phone
from tests.interop.test_calls_baresip import write_tone

MakePhone = Callable[..., Awaitable[Phone]]


@pytest.fixture
async def demo() -> AsyncIterator[DemoRunner]:
    runner = DemoRunner(DemoOptions(port=0, rate=0, customers=False, seed=7))
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


@pytest.fixture
async def make_phone(demo: DemoRunner, tmp_path: Path) -> AsyncIterator[MakePhone]:
    """``await make_phone("1001", tone_hz=440, transport="udp")``: a started Phone
    whose voice is a tone and whose ear is ``<tmp>/<user>-heard.wav``."""
    phones: list[Phone] = []

    async def make(user: str = "1001", *, tone_hz: int = 440, transport: str = "udp",
                   calls: dict[str, object] | None = None) -> Phone:
        acc = account(user)
        assert acc is not None
        tone = tmp_path / f"{user}-in.wav"
        write_tone(tone, tone_hz)
        audio = {"backend": "file", "file_in": str(tone),
                 "file_out": str(tmp_path / f"{user}-heard.wav")}
        config = party_config(demo.switch.host, demo.switch.port, acc, transport=transport,
                              audio=audio, calls=calls)
        phone = Phone(config)
        phones.append(phone)
        await phone.start()
        return phone

    try:
        yield make
    finally:
        for phone in phones:
            await phone.stop()
