"""A short shift: the soak's driver for twenty calls, in ``make test``.

The same driver as ``bench/bench_soak.py`` (the real console under Pilot, a real Phone,
the demo switch and its parties in a child process, plain RTP media), for two rounds of
its ten call kinds: hang-ups by the agent and by the customer, blind transfers, a
rejected and a missed call, calls dialled to the DTMF read-back number, with hold,
DTMF, recording and the wrap-up along the way. What a shift must not lose or leave
behind is checked after the calls: every call is in the history once (by call id), and
the console is back where it started — no session, no task, widget, fd or thread more.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .driver import KINDS, logged_to, shift

pytestmark = pytest.mark.soak

CALLS = 2 * len(KINDS)


async def test_twenty_calls_leave_the_console_as_they_found_it(tmp_path: Path) -> None:
    with logged_to(tmp_path / "console.log") as logged:
        async with shift(tmp_path, talk_frames=25) as agent:
            before = await agent.sample(0)
            for n in range(CALLS):
                await agent.call(n)
            after = await agent.sample(CALLS)
            history = agent.history_check()
    assert history == [] and agent.log.problems == []
    assert after.history_rows == CALLS == len(agent.log.call_ids)
    assert set(agent.log.kinds) == {"hangup", "remote", "transfer", "outbound", "reject",
                                    "missed"}
    assert agent.log.readbacks == 2 and agent.log.recordings > 0
    assert after.sessions == before.sessions == 0
    assert (after.tasks, after.widgets, after.fds, after.threads) == \
        (before.tasks, before.widgets, before.fds, before.threads)
    assert not logged, (tmp_path / "console.log").read_text()
