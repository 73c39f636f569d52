"""A call survives its flow: the agent's TCP or WebSocket connection to Kamailio is reset
(``ss -K``) 5 s into a call with baresip, the INVITE transaction of a call we placed
still alive (RFC 6026 Accepted).

agentconsole (1004) talks to baresip (1002 auto-answer when we call, 1001 when it calls
us; plain RTP over UDP) with the media its transport gets by default (``media.profile:
auto``): over TCP plain RTP end to end with baresip, over WS WebRTC anchored in
rtpengine — each test checks which one its call used. After the reset the call must
stay up with audio both ways; the phone reconnects, re-registers and refreshes the
call's target (UPDATE or re-INVITE with the new Contact), so that the peer's BYE
reaches it through Kamailio (without the refresh Kamailio answers it 477), and our BYE
reaches the peer. A reset while the callee still rings ends the call here and CANCELs
it there once a flow is back.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentconsole import Phone, parse_config

from .baresip import Baresip
from .media_check import (
    SipTrace,
    agent_yaml,
    baresip_rtp_stats,
    counts,
    peer_log,
    quiet,
    rtp_summaries,
    talking_call,
)
from .rig import KAMAILIO_PORTS, reset_tcp_flow
from .test_calls_baresip import wait_for

pytestmark = pytest.mark.usefixtures("kamailio_rtpengine")

FIVE_SECONDS_OF_AUDIO = 250  # 20 ms frames
#: The media profile (the m= line's protocol) the agent's SDP has on each transport.
MEDIA_PROTOCOL = {"tcp": "RTP/AVP", "ws": "UDP/TLS/RTP/SAVPF"}


@dataclass
class Agent:
    phone: Phone
    trace: SipTrace
    transport: str
    registrations: list[float]
    disconnects: list[str]

    def evidence(self, peer: Baresip | None = None) -> str:
        text = f"--- agentconsole SIP\n{self.trace.text(7000)}"
        if peer is not None:
            log = quiet(peer.log.read_text(errors="replace"))
            text += f"\n--- baresip {peer.user}\n{log[-2500:]}"
        return text


@pytest.fixture(params=["tcp", "ws"])
async def agent(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Agent]:
    trace = SipTrace()
    phone = Phone(parse_config(agent_yaml(tmp_path, transport=request.param)), trace=trace)
    loop = asyncio.get_running_loop()
    agent = Agent(phone, trace, request.param, [], [])
    phone.on("registered", lambda expires: agent.registrations.append(loop.time()))
    phone.on("disconnected", agent.disconnects.append)
    await phone.start()
    try:
        assert phone.is_registered
        yield agent
    finally:
        await phone.stop()


def in_dialog(message: str, call_id: str) -> bool:
    return f"Call-ID: {call_id}\r\n" in message


def answered(trace: SipTrace, since: int, method: str, call_id: str) -> bool:
    """Some ``method`` request of ours after entry ``since`` got a 2xx."""
    sent = [e.data.decode() for e in trace.entries[since:] if e.direction == "out"]
    got = [e.data.decode() for e in trace.entries[since:] if e.direction == "in"]
    numbers = {m.group(1) for text in sent if text.startswith(f"{method} ")
               and in_dialog(text, call_id)
               for m in [re.search(rf"^CSeq: (\d+) {method}", text, re.M)] if m}
    return any(text.startswith("SIP/2.0 2") and in_dialog(text, call_id)
               and (m := re.search(rf"^CSeq: (\d+) {method}", text, re.M)) is not None
               and m.group(1) in numbers for text in got)


def media_protocols(trace: SipTrace, call_id: str) -> set[str]:
    """The protocol of the audio m= line in every SDP we sent in the call."""
    return {m.group(1) for text in trace.messages("out") if in_dialog(text, call_id)
            for m in [re.search(r"^m=audio \d+ (\S+) ", text, re.M)] if m}


def target_refreshed(trace: SipTrace, since: int, call_id: str) -> bool:
    return answered(trace, since, "UPDATE", call_id) or answered(trace, since, "INVITE", call_id)


@pytest.mark.parametrize("ender", ["peer", "us"])
@pytest.mark.parametrize("direction", ["placed", "received"])
async def test_call_survives_a_reset_of_its_flow(agent: Agent, tmp_path: Path,
                                                 direction: str, ender: str) -> None:
    user, tone = ("1002", 880) if direction == "placed" else ("1001", 440)
    answer = "auto" if direction == "placed" else "manual"
    peer = Baresip(user, tmp_path, answer=answer, tone_hz=tone)
    try:
        session = await talking_call(agent.phone, peer, we_dial=direction == "placed",
                                     frames=10)
        call_id = session.call_id
        assert media_protocols(agent.trace, call_id) == {MEDIA_PROTOCOL[agent.transport]}, \
            agent.evidence(peer)
        # 5 s into the call: an outbound call's INVITE transaction is still in Accepted
        await wait_for(lambda: session.media.frames_received >= FIVE_SECONDS_OF_AUDIO, 30)
        sent_before = (await counts(session)).tx
        transport = agent.phone.transport
        assert transport is not None and transport.local_address is not None
        mark = len(agent.trace.entries)
        registered = len(agent.registrations)
        reset_tcp_flow(transport.local_address, KAMAILIO_PORTS[agent.transport])
        loop = asyncio.get_running_loop()
        reset_at = loop.time()

        await wait_for(lambda: bool(agent.disconnects), 5)
        assert not session.is_ended and session.status.call_status == "talking", \
            (session.end_cause, agent.evidence(peer))
        await wait_for(lambda: len(agent.registrations) > registered, 15)
        await wait_for(lambda: target_refreshed(agent.trace, mark, call_id), 15)
        how = "UPDATE" if answered(agent.trace, mark, "UPDATE", call_id) else "re-INVITE"
        print(f"\n{agent.transport} {direction}: registered again "
              f"{agent.registrations[-1] - reset_at:.2f} s and target refreshed ({how}) "
              f"{loop.time() - reset_at:.2f} s after the reset")
        assert not session.is_ended, (session.end_cause, agent.evidence(peer))
        frames = session.media.frames_received
        await wait_for(lambda: session.media.frames_received >= frames + 50, 10)

        bye_mark = len(agent.trace.entries)
        if ender == "peer":
            peer.command("hangup")
            await wait_for(lambda: session.is_ended, 15)
            assert session.end_cause == "Terminated", (session.end_cause, agent.evidence(peer))
            byes = [m for m in agent.trace.messages("in") if m.startswith("BYE ")
                    and in_dialog(m, call_id)]
            assert byes, agent.evidence(peer)  # it reached us over the new flow
        else:
            assert session.hangup()
            await wait_for(lambda: answered(agent.trace, bye_mark, "BYE", call_id), 15)
        text = await peer_log(peer.log, lambda t: rtp_summaries(t) > 0, 30)  # call closed
        stats = baresip_rtp_stats(text)
        # the peer received audio we sent after the reset, and sent us some
        assert stats.rx > sent_before + 25, (stats, sent_before)
        assert stats.tx > FIVE_SECONDS_OF_AUDIO, stats
        assert agent.phone.sessions == {}
        assert agent.phone.is_registered
        # the target refresh kept the session as it was (same media, RFC 3264 §8)
        assert media_protocols(agent.trace, call_id) == {MEDIA_PROTOCOL[agent.transport]}
    finally:
        peer.stop()


async def test_a_reset_while_the_callee_rings_cancels_the_call_there(agent: Agent,
                                                                     tmp_path: Path) -> None:
    """We call baresip (manual answer: it rings) and our flow resets before it answers.
    The call fails here at once ("Connection Error"); once the flow is back our CANCEL
    (RFC 3261 §9.1, the INVITE's own branch) reaches Kamailio, which stops baresip
    ringing. Without it baresip rang on until Kamailio's fr_inv_timer (120 s), and its
    user could answer into a call that nobody was on."""
    peer = Baresip("1002", tmp_path, answer="manual")
    peer.start()
    try:
        session = await agent.phone.call(peer.user)
        call_id = session.call_id
        await wait_for(lambda: any(m.startswith("SIP/2.0 180") and in_dialog(m, call_id)
                                   for m in agent.trace.messages("in")), 15)
        await peer_log(peer.log, lambda t: "Incoming call" in t, 10)
        transport = agent.phone.transport
        assert transport is not None and transport.local_address is not None
        registered = len(agent.registrations)
        reset_tcp_flow(transport.local_address, KAMAILIO_PORTS[agent.transport])
        await wait_for(lambda: session.is_ended, 5)
        assert session.end_cause == "Connection Error", agent.evidence(peer)
        await wait_for(lambda: len(agent.registrations) > registered, 15)
        cancels = [m for m in agent.trace.messages("out") if m.startswith("CANCEL ")
                   and in_dialog(m, call_id)]
        assert len(cancels) == 1, agent.evidence(peer)
        # baresip hears the call end while it rings (libre reports a CANCEL as the
        # session closed with ECONNRESET): long before Kamailio's 120 s
        text = await peer_log(peer.log, lambda t: "session closed" in t, 15)
        assert "established" not in text.lower(), agent.evidence(peer)
        assert agent.phone.sessions == {}
    finally:
        peer.stop()
