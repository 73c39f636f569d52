"""A hold the peer refuses leaves the call up and un-held, and says so (JsSIP hangs up here).

Two phones in one process over loopback; B's media layer refuses the hold re-offer, so B
answers the re-INVITE 488. A's ``hold()`` raises a clear error, the call keeps talking
and audio keeps flowing both ways.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentconsole import AgentConsoleError
from agentconsole.media.sdp import MediaNegotiationError
from tests.test_two_phones import make_pair, talking_call
from tests.waiting import frames_flow, wait_until


async def test_refused_hold_keeps_the_call_talking(tmp_path: Path) -> None:
    a, b, target = await make_pair(tmp_path)
    try:
        out, inbound = await talking_call(a, b, target)

        async def refuse(sdp: str) -> str:
            raise MediaNegotiationError("no hold here", status=488)

        inbound.media.accept_reoffer = refuse  # type: ignore[method-assign]
        with pytest.raises(AgentConsoleError) as info:
            await out.hold()
        assert "488" in str(info.value) and "still up" in str(info.value)
        assert not out.status.is_hold and out.status.call_status == "talking"
        assert not out.is_ended and not inbound.is_ended
        await frames_flow(out.media, 25)  # the customer is still heard ...
        await frames_flow(inbound.media, 25)  # ... and still hears the agent
        out.hangup()
        await wait_until(lambda: inbound.is_ended, 5, "remote end")
    finally:
        await a.stop()
        await b.stop()
