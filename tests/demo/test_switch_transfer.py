"""Transfers through the demo switch: REFER/NOTIFY relayed in the dialog (blind), and an
INVITE with Replaces routed to the consulted colleague (attended, RFC 5589 §7)."""

from __future__ import annotations

from agentconsole.demo.runner import DemoRunner
from agentconsole.softphone.phone import Phone
from agentconsole.softphone.session import Session
from tests.demo.conftest import MakePhone
from tests.interop.test_calls_baresip import wait_for

AGENT_CALLS = {"auto_hold": True, "max_calls": 2}


async def customer_on_the_line(demo: DemoRunner, phone: Phone) -> tuple[Session, Phone]:
    """A simulated customer calls the agent, who answers; returns (agent's call, line)."""
    incoming: list[Session] = []
    phone.on("incoming", incoming.append)
    assert demo.caller is not None
    demo.caller.talk = (120.0, 120.0)
    assert demo.caller.call_now()
    await wait_for(lambda: bool(incoming), 10)
    session = incoming[0]
    await session.answer()
    # "talking" comes with our 200; REFER needs the ACK too (a confirmed dialog)
    await wait_for(lambda: session.leg.state.name == "CONFIRMED", 10)
    line_user = next(iter(demo.caller.active))
    return session, demo.parties[line_user].phone


def live(phone: Phone) -> list[Session]:
    return [s for s in phone.sessions.values() if not s.is_ended]


async def test_blind_transfer_customer_ends_up_with_colleague(
        demo: DemoRunner, make_phone: MakePhone) -> None:
    phone = await make_phone("1001", calls=AGENT_CALLS)
    session, line = await customer_on_the_line(demo, phone)
    progress: list[str] = []
    session.on("transfer_progress", lambda info: progress.append(info["state"]))
    assert await session.blind_transfer("2001")
    await wait_for(lambda: session.is_ended, 20)
    assert session.end_cause == "Transferred"
    assert progress[-1] == "succeeded"
    colleague = demo.parties["2001"].phone
    await wait_for(lambda: len(live(line)) == 1 and len(live(colleague)) == 1, 10)
    customer_leg, colleague_leg = live(line)[0], live(colleague)[0]
    assert customer_leg.call_id == colleague_leg.call_id  # one call between the two
    assert customer_leg.status.call_status == "talking"
    assert colleague_leg.status.call_status == "talking"
    assert phone.sessions == {}


async def test_attended_transfer_with_replaces(demo: DemoRunner,
                                               make_phone: MakePhone) -> None:
    phone = await make_phone("1001", calls=AGENT_CALLS)
    parent, line = await customer_on_the_line(demo, phone)
    consult = await phone.call("2002", transfer_parent=parent.call_id)  # 2002 is on TCP
    await wait_for(lambda: consult.status.call_status == "talking", 10)
    assert parent.status.is_hold
    colleague = demo.parties["2002"].phone
    assert len(live(colleague)) == 1
    consult_id = consult.call_id
    assert await consult.attended_transfer()
    await wait_for(lambda: parent.is_ended and consult.is_ended, 20)
    assert parent.end_cause == "Transferred"
    await wait_for(lambda: len(live(line)) == 1 and len(live(colleague)) == 1, 10)
    customer_leg, colleague_leg = live(line)[0], live(colleague)[0]
    assert colleague_leg.call_id == customer_leg.call_id != consult_id  # replaced
    await wait_for(lambda: colleague_leg.status.call_status == "talking"
                   and customer_leg.status.call_status == "talking", 10)
    assert phone.sessions == {}
