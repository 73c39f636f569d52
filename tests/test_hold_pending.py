"""One hold or resume at a time, and how long a call waits for its requests' outcome.

Two phones in one process over loopback UDP; B is made deaf to re-INVITEs, so A's hold
stays unanswered: a second hold or a resume meanwhile is refused with a clear error
(it would replace the offer the first still waits for), and hanging up ends the wait
at once. The wait itself is derived from the configured T1, long enough for the SIP
core's own bound on an in-dialog request (checked with a fake clock in
tests/sip/test_flow_recovery.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentconsole import AgentConsoleError, parse_config
from agentconsole.sip.in_dialog import answer_bound
from agentconsole.softphone.host import request_wait_s
from tests.test_refer_hold_unanswered import deaf_to_reinvites
from tests.test_two_phones import make_pair, phone_config, talking_call
from tests.waiting import wait_until


async def test_a_second_hold_while_the_first_is_unanswered_is_refused(tmp_path: Path) -> None:
    a, b, target = await make_pair(tmp_path)
    try:
        out, inbound = await talking_call(a, b, target)
        dropped = deaf_to_reinvites(b)

        first = asyncio.get_running_loop().create_task(out.hold())
        await wait_until(lambda: bool(dropped), 10, "the hold's re-INVITE at B")
        assert out.hold_pending and not out.status.is_hold
        for again in (out.hold, out.unhold):
            with pytest.raises(AgentConsoleError, match="already on its way"):
                await again()
        assert len(dropped) == 1  # neither sent a re-INVITE of its own

        out.hangup()
        with pytest.raises(AgentConsoleError, match="ended during the request"):
            await first
        assert not out.hold_pending
        await wait_until(lambda: inbound.is_ended, 5, "B sees the BYE")
    finally:
        await a.stop()
        await b.stop()


@pytest.mark.parametrize(("t1_ms", "t2_ms", "wait_s"), [(500, 4000, 68.0), (100, 1000, 13.8)])
def test_the_wait_for_a_request_follows_the_configured_t1(tmp_path: Path, t1_ms: int,
                                                          t2_ms: int, wait_s: float) -> None:
    """What a hold or a REFER waits for the core: 2×64·T1 (a request parked through a
    flow outage, then resent with a Timer B/F of its own) plus one T2 for a retry's
    round trip."""
    sip = f"sip:\n  local_host: 127.0.0.1\n  t1_ms: {t1_ms}\n  t2_ms: {t2_ms}\n"
    text = phone_config(tmp_path, "1001", 440).replace("sip:\n  local_host: 127.0.0.1\n", sip)
    config = parse_config(text)
    timers = config.sip.timers()
    assert timers.t1 == t1_ms / 1000 and timers.t2 == t2_ms / 1000
    assert request_wait_s(config) == pytest.approx(wait_s)
    assert request_wait_s(config) > answer_bound(timers) == 2 * 64 * timers.t1
