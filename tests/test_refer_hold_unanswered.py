"""Accepting a REFER while our hold of the call is unanswered (issue 12, item 6).

Three agentconsole phones over loopback UDP: B (the transferor) is in a call with A
and REFERs A to C. When A accepts, A holds the call with B as configured, but B —
busy with its REFER, here made deaf to re-INVITEs — never answers that hold. The call
to C must go out at once, not after the hold's re-INVITE times out (Timer B, 32 s).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from agentconsole import Phone, parse_config
from tests.test_two_phones import phone_config
from tests.waiting import wait_until

CALLS = "calls:\n  dial_rate_limit_s: 0\n  max_calls: 2\n"
REINVITE = re.compile(rb"^(To|t)\s*:[^\r\n]*;tag=", re.MULTILINE | re.IGNORECASE)


def deaf_to_reinvites(phone: Phone) -> list[bytes]:
    """Make ``phone`` drop every re-INVITE it receives; returns the dropped ones."""
    ua = phone.ua
    assert ua is not None
    receive = ua.receive_data
    dropped: list[bytes] = []

    def filtered(data: bytes, source: tuple[str, int], now: float) -> None:
        if data.startswith(b"INVITE ") and REINVITE.search(data):
            dropped.append(data)
            return
        receive(data, source, now)

    ua.receive_data = filtered  # type: ignore[method-assign]
    return dropped


async def test_refer_accepted_while_our_hold_is_unanswered_calls_at_once(
        tmp_path: Path) -> None:
    phones = {user: Phone(parse_config(phone_config(tmp_path, user, hz, CALLS)))
              for user, hz in (("1001", 440), ("1002", 880), ("1003", 660))}
    a, b, c = phones["1001"], phones["1002"], phones["1003"]
    incoming: dict[str, list[Any]] = {user: [] for user in phones}
    for user, phone in phones.items():
        await phone.start()
        phone.on("incoming", incoming[user].append)

    def uri(phone: Phone, user: str) -> str:
        assert phone.transport is not None and phone.transport.local_address is not None
        return f"sip:{user}@127.0.0.1:{phone.transport.local_address[1]}"

    try:
        to_a = await b.call(uri(a, "1001"))
        await wait_until(lambda: bool(incoming["1001"]), 10)
        at_a = incoming["1001"][0]
        await at_a.answer()
        await wait_until(lambda: to_a.status.call_status == "talking", 10)
        dropped = deaf_to_reinvites(b)
        requests: list[Any] = []
        at_a.on("transfer_request", requests.append)
        refer = asyncio.get_running_loop().create_task(to_a.blind_transfer(uri(c, "1003")))
        await wait_until(lambda: bool(requests), 10)

        accept = asyncio.get_running_loop().create_task(requests[0].accept())
        await wait_until(lambda: bool(incoming["1003"]), 15, "the call to the target")
        # the target rings while our hold is still waiting for an answer that never comes
        assert at_a.hold_pending and not at_a.status.is_hold
        assert dropped, "the hold re-INVITE should have reached B (and been ignored)"
        new = await accept
        assert await refer
        assert not at_a.is_ended  # the original stays until the new call is answered

        at_c = incoming["1003"][0]
        await at_c.answer()
        await wait_until(lambda: new.status.call_status == "talking", 10)
        await wait_until(lambda: at_a.is_ended, 10)
        assert at_a.end_cause == "Transferred"
        assert not new.is_ended and at_c.status.call_status == "talking"
    finally:
        for phone in phones.values():
            await phone.stop()
