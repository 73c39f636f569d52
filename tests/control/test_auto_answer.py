"""Auto-answer: only a trusted source's request is obeyed; the agent's mode answers queue
calls (after a beep) but never over a call in progress; both switchable from the socket."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from agentconsole.control.auto_answer import answer_request
from agentconsole.demo.runner import DemoRunner
from agentconsole.sip.message import Headers
from tests.waiting import wait_until

from .conftest import Agent, MakeAgent, demo_agent

REQUESTS = {
    "call-info": ("Call-Info", "<sip:pbx.example.com>;answer-after=0"),
    "alert-info": ("Alert-Info", "<http://www.notused.com>;info=alert-autoanswer"),
    "answer-mode": ("Answer-Mode", "Auto"),
}


def party(demo: DemoRunner, user: str = "9001") -> Any:
    return demo.parties[user].phone


async def ring(agent: Agent, demo: DemoRunner, headers: list[tuple[str, str]],
               user: str = "9001") -> Any:
    """``user`` calls the agent with ``headers``; returns the agent's ringing session."""
    before = set(agent.phone.sessions)
    await party(demo, user).call("1001", extra_headers=headers)
    await wait_until(lambda: set(agent.phone.sessions) - before, 10, "the call to ring")
    (call_id,) = set(agent.phone.sessions) - before
    return agent.phone.sessions[call_id]


@pytest.mark.parametrize("kind", sorted(REQUESTS))
async def test_a_request_from_a_trusted_source_is_answered(
        kind: str, demo: DemoRunner, make_agent: MakeAgent, short_dir: Path) -> None:
    config = demo_agent(demo, short_dir,
                        auto_answer={"requests_from": ["192.0.2.7", "127.0.0.1"],
                                     "beep": False})
    agent = await make_agent(config)
    answered: list[dict[str, Any]] = []
    agent.integration.auto_answer.on("answered", answered.append)
    session = await ring(agent, demo, [REQUESTS[kind]])
    await wait_until(lambda: session.status.call_status == "talking", 10, "the auto-answer")
    assert answered == [{"call_id": session.call_id, "reason": "request", "delay_s": 0.0}]
    session.hangup()


async def test_a_name_in_the_list_is_resolved_to_the_packet_source(
        demo: DemoRunner, make_agent: MakeAgent, short_dir: Path) -> None:
    config = demo_agent(demo, short_dir, auto_answer={"requests_from": ["localhost"],
                                                      "beep": False})
    agent = await make_agent(config)
    session = await ring(agent, demo, [REQUESTS["answer-mode"]])
    await wait_until(lambda: session.status.call_status == "talking", 10, "the auto-answer")
    session.hangup()


@pytest.mark.parametrize("requests_from", [[], ["192.0.2.7", "127.0.0.1:1"]])
async def test_a_request_from_anyone_else_just_rings(
        requests_from: list[str], demo: DemoRunner, make_agent: MakeAgent, short_dir: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    config = demo_agent(demo, short_dir, auto_answer={"requests_from": requests_from})
    agent = await make_agent(config)
    with caplog.at_level(logging.WARNING, logger="agentconsole.control.auto_answer"):
        session = await ring(agent, demo, [REQUESTS["call-info"], REQUESTS["answer-mode"],
                                           ("From-Trusted", "127.0.0.1")])
        await wait_until(lambda: "ignored an auto-answer request (Call-Info)" in caplog.text,
                         10, "the request to be turned down")
    assert session.call_id in caplog.text and "not in auto_answer.requests_from" in caplog.text
    assert session.status.is_ring and not agent.integration.auto_answer.pending
    session.reject()


async def test_agent_mode_answers_queue_calls_after_a_beep_but_not_over_a_call(
        demo: DemoRunner, make_agent: MakeAgent, short_dir: Path) -> None:
    agent = await make_agent(demo_agent(demo, short_dir, auto_answer={"delay_s": 0}))
    backend = agent.phone.devices.backend
    assert backend is not None
    tones: list[tuple[str, bool]] = []  # (tone, a call was still ringing)
    start_ring = backend.start_ring

    def spy(tone: Any) -> None:
        tones.append((tone.name, bool(agent.phone.incoming_list)))
        start_ring(tone)

    backend.start_ring = spy  # type: ignore[method-assign]
    client = await agent.client()
    try:
        await client.call("subscribe", events=["auto_answer", "incoming", "confirmed"])
        state = await client.call("auto_answer", enabled=True)
        assert state["enabled"] is True and state["delay_s"] == 0.0
        assert (await client.event("auto_answer"))["enabled"] is True

        direct = await ring(agent, demo, [], user="2001")  # no queue: it rings
        assert direct.call_id not in agent.integration.auto_answer.pending
        direct.reject()
        await wait_until(lambda: not agent.phone.sessions, 10)

        assert demo.caller is not None and demo.caller.call_now()
        incoming = [e for e in client.events if e["event"] == "incoming"]
        assert [e["call_id"] for e in incoming] == [direct.call_id]
        queued = await client.event("incoming", direction="inbound", number=_customer(demo))
        confirmed = await client.event("confirmed", queued["call_id"], timeout=15)
        assert queued["queue"] and confirmed["call_status"] == "talking"
        assert ("beep", True) in tones  # the pips, then the answer

        second = await ring(agent, demo, [("X-Queue", "Sales")], user="9002")
        await wait_until(lambda: second.call_id not in agent.integration.auto_answer.pending,
                         10)
        assert second.status.is_ring  # a call is up: the queue call waits for the agent
        second.reject()
        off = await client.call("auto_answer", enabled=False)
        assert off["enabled"] is False
        assert [e["enabled"] for e in client.events if e["event"] == "auto_answer"] == [
            True, False]
    finally:
        await client.close()


def _customer(demo: DemoRunner) -> str:
    assert demo.caller is not None
    return next(iter(demo.caller.active.values())).customer.number


def test_answer_requests_are_read_from_the_headers() -> None:
    def read(*pairs: tuple[str, str]) -> Any:
        return answer_request(Headers(list(pairs)))

    assert read(("Call-Info", "<sip:x>;answer-after=5")).delay_s == 5.0
    assert read(("Call-Info", "<sip:x>;answer-after=9999")).delay_s == 60.0
    assert read(("Call-Info", "<sip:a;answer-after=1>;purpose=icon")) is None
    assert read(("Alert-Info", "<http://x>;info=alert-autoanswer")).header == "Alert-Info"
    assert read(("Alert-Info", "Ring-Answer")).delay_s == 0.0
    assert read(("Answer-Mode", "Auto;require")).header == "Answer-Mode"
    assert read(("Priv-Answer-Mode", "auto")).header == "Priv-Answer-Mode"
    assert read(("Answer-Mode", "Manual")) is None
    assert read(("Alert-Info", "<http://x/ring.wav>")) is None
