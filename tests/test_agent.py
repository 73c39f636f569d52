"""The one agent-state model (``phone.agent``): codes, reasons, after-call work, auto-Away."""

from __future__ import annotations

import pytest

from agentconsole import AgentConsoleError, Phone, parse_config
from agentconsole.config import AgentConfig
from agentconsole.softphone.agent import Agent, AgentState, AgentStatus

BASE = "account:\n  aor: sip:1001@127.0.0.1\n  register: false\naudio:\n  backend: \"null\"\n"


def test_refusal_codes_and_acw_round_trip() -> None:
    config = AgentConfig(dnd_code=486, away_code=480)
    assert AgentState(AgentStatus.AVAILABLE).refusal_code(config) is None
    assert AgentState(AgentStatus.DND).refusal_code(config) == 486
    assert AgentState(AgentStatus.AWAY, "Lunch").refusal_code(config) == 480
    away = AgentState(AgentStatus.AWAY, "Lunch")
    acw = away.enter_acw().enter_acw()  # no nesting
    assert acw.status is AgentStatus.ACW and acw.previous == away
    assert acw.refusal_code(config) == 486  # a queue hunts on while the agent wraps up
    assert acw.refusal_code(AgentConfig(acw_code=None)) is None
    back = acw.leave_acw()
    assert back.label == "Away: Lunch" and back.previous is None


@pytest.mark.parametrize("away_code", [480, 486, 603])
def test_offline_is_480_whatever_away_answers(away_code: int) -> None:
    """RFC 3261 §21.4.18: 480 is "not logged in"; Away's code is a separate choice."""
    config = AgentConfig(away_code=away_code)
    assert AgentState(AgentStatus.OFFLINE).refusal_code(config) == 480
    assert AgentState(AgentStatus.AWAY).refusal_code(config) == away_code


def test_reasons_and_labels() -> None:
    assert AgentState(AgentStatus.AWAY, "Lunch").refusal_reason() == "Away (Lunch)"
    assert AgentState(AgentStatus.AWAY).refusal_reason() == "Away"
    assert AgentState(AgentStatus.DND).refusal_reason() == "Do not disturb"
    assert AgentState(AgentStatus.ACW).refusal_reason() == "After-call work"
    assert AgentState(AgentStatus.OFFLINE).label == "Offline"
    assert AgentState(AgentStatus.AWAY, "Break").label == "Away: Break"
    assert AgentStatus.DND == "dnd"  # scripts may keep using the strings


def test_changes_are_emitted_once_and_acw_returns() -> None:
    events: list[tuple[str, ...]] = []
    agent = Agent(AgentConfig(), lambda *args: events.append(args))
    agent.set("away", "Lunch")
    agent.set(AgentStatus.AWAY, "Lunch")  # no change: no event
    agent.enter_acw()
    agent.leave_acw()
    assert events == [("agent_state_change", "away", "Lunch"),
                      ("agent_state_change", "acw", None),
                      ("agent_state_change", "away", "Lunch")]
    with pytest.raises(AgentConsoleError, match="unknown agent state 'lunch'"):
        agent.set("lunch")
    assert agent.state == AgentState(AgentStatus.AWAY, "Lunch")


def test_a_filed_wrapup_is_an_event_and_leaves_the_state_alone() -> None:
    """Whoever files it (the console's form, the control socket), every client of the
    phone sees the same ``wrapup`` event; leaving after-call work stays a separate step."""
    events: list[tuple[object, ...]] = []
    agent = Agent(AgentConfig(), lambda *args: events.append(args))
    agent.enter_acw()
    agent.wrapup_filed("c1", "Sale", "called back", number="5551", name="Carol")
    assert events[-1] == ("wrapup", {"call_id": "c1", "number": "5551", "name": "Carol",
                                     "code": "Sale", "notes": "called back",
                                     "timed_out": False})
    assert agent.state.status is AgentStatus.ACW


@pytest.mark.parametrize(("state", "auto", "after"), [
    ("available", True, "away"), ("acw", True, "away"), ("dnd", True, "dnd"),
    ("available", False, "available"),
])
def test_a_missed_call_makes_an_available_agent_away(state: str, auto: bool,
                                                     after: str) -> None:
    agent = Agent(AgentConfig(auto_away_on_missed=auto), lambda *args: None)
    agent.set(state)
    agent.call_missed()
    assert agent.state.status == after
    assert agent.state.reason == ("Missed call" if after == "away" else "")


def test_the_phone_refuses_by_the_same_model() -> None:
    """What the console shows is what the phone applies: one object, ``phone.agent``."""
    phone = Phone(parse_config(BASE + "agent:\n  away_code: 486\n"))
    for status in AgentStatus:
        phone.set_agent_state(status)
        refusal = phone.policy.refusal()
        expected = phone.agent.state.refusal_code(phone.config.agent)
        assert (refusal[0] if refusal else None) == expected
    phone.set_agent_state("offline")
    assert phone.policy.refusal() == (480, "Offline")
