"""The demo switch with real phones over loopback: registration, calls both ways (UDP and
TCP), 404/480, the echo number, the DTMF read-back number and the record and pause feature codes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agentconsole.demo.runner import DemoRunner
from agentconsole.softphone.session import Session
from tests.demo.conftest import MakePhone
from tests.interop.baresip import wav_peak
from tests.interop.test_calls_baresip import wait_for
from tests.test_transfer import tail_peak
from tests.waiting import frames_flow


async def talking(session: Session, timeout: float = 10.0) -> None:
    await wait_for(lambda: session.status.call_status == "talking", timeout)


async def test_phone_registers_with_digest(demo: DemoRunner, make_phone: MakePhone) -> None:
    assert not demo.switch.is_registered("1001")
    phone = await make_phone("1001")
    assert phone.is_registered
    binding = demo.switch.location.lookup("1001", asyncio.get_running_loop().time())
    assert binding is not None and binding.flow.transport == "udp"
    await phone.stop()
    await wait_for(lambda: not demo.switch.is_registered("1001"), 5)


async def test_agent_calls_colleague_and_hears_them(demo: DemoRunner, make_phone: MakePhone,
                                                    tmp_path: Path) -> None:
    phone = await make_phone("1001", tone_hz=440)
    session = await phone.call("2001")
    await talking(session)
    colleague = demo.parties["2001"].phone
    assert len(colleague.sessions) == 1
    heard_by_colleague = next(iter(colleague.sessions.values()))
    await frames_flow(session.media, 125, 10)  # 2.5 s of the colleague's audio
    assert heard_by_colleague.status.number == "1001"
    session.hangup()
    await wait_for(lambda: not colleague.sessions, 5)
    # the tail: the file starts with the ringback the agent heard while 2001 rang
    peak, rms = tail_peak(tmp_path / "1001-heard.wav")
    assert rms > 300 and abs(peak - 523) <= 20, (peak, rms)  # 2001 talks at 523 Hz


async def test_call_across_transports_tcp_agent_to_udp_colleague(
        demo: DemoRunner, make_phone: MakePhone) -> None:
    phone = await make_phone("1001", transport="tcp")
    session = await phone.call("2003")
    await talking(session)
    await session.hold()  # a re-INVITE through the record-routed switch
    assert session.status.is_hold
    await session.unhold()
    session.hangup()
    await wait_for(lambda: not demo.parties["2003"].phone.sessions, 5)


async def test_call_to_tcp_colleague_from_udp_agent(demo: DemoRunner,
                                                    make_phone: MakePhone) -> None:
    phone = await make_phone("1001")
    session = await phone.call("2002")  # 2002 is registered over TCP
    await talking(session)
    ended: list[object] = []
    session.on("ended", ended.append)
    colleague = next(iter(demo.parties["2002"].phone.sessions.values()))
    colleague.hangup()  # a BYE from the TCP side, back to UDP
    await wait_for(lambda: bool(ended), 5)


async def test_customer_calls_the_agent_with_identity_headers(
        demo: DemoRunner, make_phone: MakePhone) -> None:
    phone = await make_phone("1001")
    incoming: list[Session] = []
    phone.on("incoming", incoming.append)
    assert demo.caller is not None
    assert demo.caller.call_now(customer=None)
    await wait_for(lambda: bool(incoming), 10)
    ringing = incoming[0]
    call = next(iter(demo.caller.active.values()))
    assert ringing.status.name == call.customer.name
    assert ringing.status.number == call.customer.number
    assert ringing.status.company == call.customer.company
    assert ringing.status.queue == call.queue.name
    assert ringing.status.did == call.queue.did
    await ringing.answer()
    await talking(ringing)
    ringing.hangup()
    await wait_for(lambda: not demo.caller.active, 5)


async def test_customer_gives_up_after_patience(demo: DemoRunner,
                                                make_phone: MakePhone) -> None:
    phone = await make_phone("1001")
    incoming: list[Session] = []
    phone.on("incoming", incoming.append)
    assert demo.caller is not None
    demo.caller.patience = (1.0, 1.0)
    demo.caller.call_now()
    await wait_for(lambda: bool(incoming), 10)
    await wait_for(lambda: incoming[0].is_ended, 10)
    assert incoming[0].end_cause == "Canceled"


async def test_unknown_number_is_404_and_unregistered_is_480(
        demo: DemoRunner, make_phone: MakePhone) -> None:
    phone = await make_phone("1001")
    for number, code in (("4242", 404), ("1002", 480)):
        session = await phone.call(number)
        await wait_for(lambda: session.is_ended, 10)  # noqa: B023
        assert session.end_code == code


async def test_calling_a_customer_back_reaches_an_idle_line(
        demo: DemoRunner, make_phone: MakePhone) -> None:
    """A number from the history (a customer's) rings one of the trunk lines, whose
    customer answers; any other unknown number is still 404."""
    assert demo.caller is not None
    phone = await make_phone("1001")
    session = await phone.call("+15550100111")
    await talking(session)
    (line, call), = demo.caller.active.items()
    assert line in ("9001", "9002", "9003", "9004") and call.customer.name == "Kwame Mensah"
    await wait_for(lambda: session.media.dtmf_payload_type is not None, 5)
    await frames_flow(session.media, 25)
    await session.dtmf("*1")  # the customer's line runs the record code too
    await wait_for(lambda: session.status.record_status == "recording", 10)
    session.hangup()
    await wait_for(lambda: not demo.caller.active, 10)  # the line is free again
    stranger = await phone.call("+15559999999")
    await wait_for(lambda: stranger.is_ended, 10)
    assert stranger.end_code == 404


async def test_echo_number_returns_the_tone(demo: DemoRunner, make_phone: MakePhone,
                                            tmp_path: Path) -> None:
    phone = await make_phone("1001", tone_hz=697)
    session = await phone.call("600")
    await talking(session)
    await frames_flow(session.media, 175, 15)  # 3.5 s of what the echo sends back
    session.hangup()
    peak, rms = wav_peak(tmp_path / "1001-heard.wav", start_s=2.0, length_s=1.0)
    assert rms > 300 and abs(peak - 697) <= 20, (peak, rms)


async def test_readback_number_reports_the_digits(demo: DemoRunner,
                                                  make_phone: MakePhone) -> None:
    phone = await make_phone("1001")
    session = await phone.call("601")
    await talking(session)
    await wait_for(lambda: session.media.dtmf_payload_type is not None, 5)
    got: list[str] = []
    session.on("dtmf_received", lambda info: got.append(info["digit"]))
    await frames_flow(session.media, 25)  # media settled before the digits
    await session.dtmf("4711#")
    party = demo.parties["601"]
    await wait_for(lambda: getattr(party, "readbacks", None) == ["4711#"], 10)
    await wait_for(lambda: "".join(got) == "4711#", 10)
    session.hangup()


async def test_record_feature_code_reports_its_state(demo: DemoRunner,
                                                     make_phone: MakePhone) -> None:
    phone = await make_phone("1001")
    session = await phone.call("2001")
    await talking(session)
    await wait_for(lambda: session.media.dtmf_payload_type is not None, 5)
    await frames_flow(session.media, 25)  # media settled before the digits
    for code, state in (("*1", "recording"), ("*2", "pause"), ("*2", "recording"),
                        ("*1", "stop")):
        await session.dtmf(code)
        await wait_for(lambda state=state: session.status.record_status == state, 10)
    session.hangup()


async def test_websocket_agent_registers_and_calls(tmp_path: Path) -> None:
    from agentconsole.demo.data import account
    from agentconsole.demo.parties import party_config
    from agentconsole.demo.runner import DemoOptions
    from agentconsole.softphone.phone import Phone

    runner = DemoRunner(DemoOptions(port=0, ws_port=0, rate=0, customers=False))
    await runner.start()
    phone: Phone | None = None
    try:
        ws_port = runner.switch.ws_port
        assert ws_port
        acc = account("1001")
        assert acc is not None
        config = party_config(runner.switch.host, runner.switch.port, acc, transport="ws",
                              extra={"account": {"ws_url": f"ws://127.0.0.1:{ws_port}/"}})
        phone = Phone(config)
        await phone.start()
        assert phone.is_registered
        session = await phone.call("2002")  # WS in, TCP out
        await talking(session)
        session.hangup()
        await wait_for(lambda: not runner.parties["2002"].phone.sessions, 5)
    finally:
        if phone is not None:
            await phone.stop()
        await runner.stop()


async def test_parties_offer_plain_rtp_when_the_demo_asks(tmp_path: Path) -> None:
    """``media_profile="rtp"``: customers offer RTP/AVP, so a console on any profile
    answers on the plain engine (what a soak of thousands of calls runs on), and a
    colleague answers the console's plain offer; audio flows both times."""
    from agentconsole import Phone
    from agentconsole.demo.data import account
    from agentconsole.demo.parties import party_config
    from agentconsole.demo.runner import DemoOptions

    runner = DemoRunner(DemoOptions(port=0, rate=0, customers=False, media_profile="rtp"))
    await runner.start()
    acc = account("1001")
    assert acc is not None and runner.caller is not None
    phone = Phone(party_config(runner.switch.host, runner.switch.port, acc, profile="rtp"))
    try:
        await phone.start()
        incoming: list[Session] = []
        phone.on("incoming", incoming.append)
        assert runner.caller.call_now()
        await wait_for(lambda: bool(incoming), 10)
        customer = incoming[0]
        assert b"RTP/AVP" in (customer.leg.remote_sdp or b"")
        await customer.answer()
        await frames_flow(customer.media, 25)
        customer.hangup()
        colleague = await phone.call("2001")
        await talking(colleague)
        await frames_flow(colleague.media, 25)
        (theirs,) = runner.parties["2001"].phone.sessions.values()
        assert b"RTP/AVP" in (theirs.leg.remote_sdp or b"")
        colleague.hangup()
    finally:
        await phone.stop()
        await runner.stop()
