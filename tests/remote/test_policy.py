"""``remote.on_detach``: Away ("detached") while no terminal is attached, the state
before it back on re-attach — through the phone's own agent model (``phone.agent``), on a
real Phone."""

from __future__ import annotations

import asyncio

import pytest

from agentconsole import Phone, parse_config
from agentconsole.remote.policy import DETACHED_REASON, DetachPolicy

CONFIG = """
account:
  aor: "sip:1001@127.0.0.1"
  register: false
"""


@pytest.fixture
def phone() -> Phone:
    return Phone(parse_config(CONFIG, env={}))


def state(phone: Phone) -> tuple[str, str | None]:
    return phone.agent_state, phone.agent_reason


async def settle() -> None:
    """Let callbacks scheduled with call_soon run (no time passes)."""
    await asyncio.sleep(0)


async def test_away_on_detach_and_back_on_attach(phone: Phone) -> None:
    changes: list[tuple[str, str | None]] = []
    phone.on("agent_state_change", lambda s, r=None: changes.append((s, r)))
    phone.set_agent_state("away", "Lunch")
    policy = DetachPolicy(phone, "away")
    policy.detached()
    assert state(phone) == ("away", DETACHED_REASON)
    policy.attached()
    assert state(phone) == ("away", "Lunch")  # exactly what it was, reason included
    assert changes == [("away", "Lunch"), ("away", DETACHED_REASON), ("away", "Lunch")]


async def test_keep_leaves_the_state_alone(phone: Phone) -> None:
    policy = DetachPolicy(phone, "keep")
    policy.detached()
    assert state(phone) == ("available", None)
    policy.attached()
    assert state(phone) == ("available", None)


async def test_a_state_chosen_while_detached_stands(phone: Phone) -> None:
    policy = DetachPolicy(phone, "away")
    policy.detached()
    phone.set_agent_state("dnd")  # e.g. a supervisor over the control socket
    policy.attached()
    assert state(phone) == ("dnd", None)


async def test_a_second_detach_keeps_the_first_saved_state(phone: Phone) -> None:
    policy = DetachPolicy(phone, "away")
    policy.detached()
    policy.detached()
    policy.attached()
    assert state(phone) == ("available", None)


async def test_a_wrapup_started_while_detached_ends_in_the_saved_state(phone: Phone) -> None:
    """A call ended while detached: its wrap-up (ACW) stands between the detach and the
    re-attach; filing it returns to "Away: detached" (the state before ACW), which the
    policy then undoes to the state before the detach."""
    phone.set_agent_state("dnd")
    policy = DetachPolicy(phone, "away")
    policy.detached()
    phone.agent.enter_acw()  # the console starts the wrap-up of the ended call
    policy.attached()
    assert state(phone) == ("acw", None)  # the agent still has to file it
    phone.agent.leave_acw()  # filed: back to the state before ACW ...
    assert state(phone) == ("away", DETACHED_REASON)
    await settle()
    assert state(phone) == ("dnd", None)  # ... and from there to the one before the detach


async def test_a_wrapup_filed_while_still_detached_stays_away(phone: Phone) -> None:
    phone.set_agent_state("dnd")
    policy = DetachPolicy(phone, "away")
    policy.detached()
    phone.agent.enter_acw()
    phone.agent.leave_acw()  # e.g. agent.wrapup.timeout_s filed it: nobody is attached
    await settle()
    assert state(phone) == ("away", DETACHED_REASON)  # new calls still hunt on
    policy.attached()
    assert state(phone) == ("dnd", None)


def test_an_unknown_policy_is_refused(phone: Phone) -> None:
    with pytest.raises(ValueError, match="on_detach"):
        DetachPolicy(phone, "sometimes")
