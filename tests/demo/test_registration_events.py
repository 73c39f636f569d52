"""``is_registered_change`` on every change of ``is_registered`` and ``re_register()``
(the SDK's ``reRegister``), against the demo switch's registrar."""

from __future__ import annotations

from typing import Any

import pytest

from agentconsole import AgentConsoleError, Phone
from agentconsole.demo.data import account
from agentconsole.demo.parties import party_config
from agentconsole.demo.runner import DemoRunner
from tests.waiting import wait_until


async def test_registered_changes_and_re_register(demo: DemoRunner) -> None:
    acc = account("1001")
    assert acc is not None
    phone = Phone(party_config(demo.switch.host, demo.switch.port, acc))
    changes: list[bool] = []
    registered: list[Any] = []
    phone.on("is_registered_change", changes.append)
    phone.on("registered", registered.append)
    with pytest.raises(AgentConsoleError) as info:
        phone.re_register()  # not started
    assert info.value.code == -201
    await phone.start()
    try:
        assert phone.is_registered and changes == [True] and len(registered) == 1
        assert phone.re_register()
        assert not phone.re_register()  # one REGISTER at a time
        await wait_until(lambda: len(registered) == 2, 5)
        assert changes == [True]  # still registered: no change to report
    finally:
        await phone.stop()
    assert changes == [True, False] and not phone.is_registered
