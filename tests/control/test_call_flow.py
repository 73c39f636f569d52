"""A client drives whole calls through the control socket against the demo switch, and
sees every event, in the order the phone emitted them."""

from __future__ import annotations

from pathlib import Path

from agentconsole.demo.runner import DemoRunner
from tests.waiting import wait_until

from .conftest import MakeAgent, demo_agent
from .rpc import RpcFailure


async def test_a_client_dials_the_echo_holds_sends_dtmf_records_and_hangs_up(
        demo: DemoRunner, make_agent: MakeAgent, short_dir: Path) -> None:
    agent = await make_agent(demo_agent(demo, short_dir))
    client = await agent.client()
    try:
        assert (await client.call("subscribe"))["events"]
        status = await client.call("status")
        assert status["registered"] is True and status["calls"] == []

        call = await client.call("dial", number="600")
        call_id = call["call_id"]
        assert call["direction"] == "outbound" and call["number"] == "600"
        await client.event("confirmed", call_id)

        held = await client.call("hold")  # no call_id: the current call
        assert held["call_id"] == call_id and held["is_hold"] is True
        assert (await client.call("unhold", call_id=call_id))["is_hold"] is False
        await client.call("mute")
        await client.call("unmute")
        await client.call("dtmf", digits="12#")
        started = await client.call("record_start")
        assert started["record_status"] == "recording" and started["changed"] is True
        assert (await client.call("record_stop"))["record_status"] == "stop"
        ended = await client.call("hangup")
        assert ended["call_status"] == "ended"

        last = await client.event("ended", call_id)
        assert last["cause"] == "Terminated" and last["duration"] >= 0
        assert last["number"] == "600" and last["direction"] == "outbound"
        assert client.names(call_id) == ["outgoing", "confirmed", "hold", "unhold", "mute",
                                         "unmute", "record", "record", "ended"]
        records = [e["record_status"] for e in client.events if e["event"] == "record"]
        assert records == ["recording", "stop"]
        seqs = [e["seq"] for e in client.events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        recordings = list((short_dir / "recordings").glob("*.wav"))
        assert len(recordings) == 1 and recordings[0].read_bytes()[:4] == b"RIFF"
        assert (await client.call("status"))["calls"] == []
        with_id = await client.request("hold", call_id=call_id)
        assert with_id["error"]["code"] == -211  # the SDK's NOT_FOUND_CALL_ID
    finally:
        await client.close()


async def test_digits_read_back_by_the_switch_arrive_as_dtmf_received_events(
        demo: DemoRunner, make_agent: MakeAgent, short_dir: Path) -> None:
    agent = await make_agent(demo_agent(demo, short_dir))
    client = await agent.client()
    try:
        await client.call("subscribe", events=["confirmed", "dtmf_received", "ended"])
        call_id = (await client.call("dial", number="sip:601@" + demo.switch.domain))["call_id"]
        await client.event("confirmed", call_id)
        await client.call("dtmf", digits="47")
        first = await client.event("dtmf_received", call_id, digit="4", timeout=20)
        second = await client.event("dtmf_received", call_id, digit="7", timeout=20)
        assert first["seq"] < second["seq"] and first["number"] == "601"
        await client.call("hangup", call_id=call_id)
        await client.event("ended", call_id)
        assert {e["event"] for e in client.events} <= {"confirmed", "dtmf_received", "ended"}
    finally:
        await client.close()


async def test_an_incoming_demo_call_pops_with_name_queue_and_did_and_is_answered(
        demo: DemoRunner, make_agent: MakeAgent, short_dir: Path) -> None:
    agent = await make_agent(demo_agent(demo, short_dir))
    client = await agent.client()
    try:
        await client.call("subscribe")
        assert demo.caller is not None and demo.caller.call_now()
        ring = await client.event("incoming")
        call_id = ring["call_id"]
        customer = next(iter(demo.caller.active.values()))
        assert ring["name"] == customer.customer.name
        assert ring["number"] == customer.customer.number
        assert ring["company"] == customer.customer.company
        assert ring["queue"] == customer.queue.name and ring["did"] == customer.queue.did
        assert ring["direction"] == "inbound" and ring["is_ring"] is True

        ringing = await client.call("status")
        assert [c["call_id"] for c in ringing["calls"]] == [call_id]
        for method in ("hangup", "hold"):  # a ringing call is never the default one
            refused = await client.request(method)
            assert refused["error"]["code"] == -211, refused
        assert agent.phone.sessions[call_id].status.is_ring
        answered = await client.call("answer")  # the oldest ringing call
        assert answered["call_id"] == call_id and answered["call_status"] == "talking"
        await client.event("confirmed", call_id)
        await client.call("hangup")
        ended = await client.event("ended", call_id)
        assert ended["queue"] == customer.queue.name
        assert client.names(call_id) == ["incoming", "confirmed", "ended"]
        await client.call("wrapup", code="Resolved", notes="called back")
        wrapup = await client.event("wrapup", call_id)
        assert wrapup["wrapup_code"] == "Resolved" and wrapup["notes"] == "called back"
        assert wrapup["name"] == customer.customer.name and wrapup["queue"] == customer.queue.name
        assert wrapup["seq"] > ended["seq"] and wrapup["time"] >= ended["time"]
        assert "code" not in wrapup and wrapup["duration"] == ended["duration"]
    finally:
        await client.close()


async def test_refused_actions_carry_the_sdk_codes(
        demo: DemoRunner, make_agent: MakeAgent, short_dir: Path) -> None:
    agent = await make_agent(demo_agent(demo, short_dir, calls={"max_calls": 1}))
    client = await agent.client()
    try:
        for method, params, code in (("answer", {}, -211), ("hangup", {}, -211),
                                     ("dial", {"number": "  "}, -32602),
                                     ("dial", {"number": "http://x"}, -209),
                                     ("hold", {"call_id": "nope"}, -211)):
            reply = await client.request(method, **params)
            assert reply["error"]["code"] == code, (method, reply)
        call_id = (await client.call("dial", number="600"))["call_id"]
        await wait_until(lambda: agent.phone.sessions[call_id].established, 10)
        full = await client.request("dial", number="2001")
        assert full["error"]["code"] == -205  # MAX_LIMIT_CALL, the phone's own message
        assert full["error"]["message"]
        try:
            await client.call("agent_state", state="lunch")
        except RpcFailure as exc:
            assert exc.code == -32602 and "available" in exc.message
        else:
            raise AssertionError("a bad agent state was accepted")
        assert await client.call("agent_state", state="away", reason="Lunch") == {
            "state": "away", "reason": "Lunch"}
        assert agent.phone.agent_state == "away"
    finally:
        await client.close()
