"""Hold and unhold with a real peer: agentconsole (WS, 1004) and baresip (UDP, 1002)
through Kamailio and rtpengine.

Local hold: our re-INVITE carries ``a=sendonly``; baresip answers ``a=recvonly``
(through rtpengine), so no audio flows either way until ``a=sendrecv`` again; the
evidence is packet counts (our sender and receiver statistics, and baresip's own
end-of-call RTP summary). Remote hold: baresip's ctrl_tcp ``hold``/``resume`` commands
(menu module) send re-INVITEs with ``a=sendonly``/``a=sendrecv``; ``status.remote_hold``
must follow and the media must stop and resume the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentconsole import Phone, parse_config
from agentconsole.softphone.session import Session

from .baresip import Baresip
from .media_check import (
    Counts,
    SipTrace,
    agent_yaml,
    baresip_rtp_stats,
    counts,
    counts_over,
    peer_log,
    quiet,
    rtp_summaries,
    sdp_direction,
)
from .test_calls_baresip import wait_for

pytestmark = pytest.mark.usefixtures("kamailio_rtpengine")

FLOWING = 30  # packets in WINDOW_S when audio flows (20 ms packets: ~50)
STOPPED = 2  # at most this many in WINDOW_S when held (one may be in flight)
WINDOW_S = 1.0


@dataclass
class Call:
    phone: Phone
    session: Session
    peer: Baresip
    trace: SipTrace

    def evidence(self) -> str:
        log = quiet(self.peer.log.read_text(errors="replace"))
        return f"--- agentconsole SIP\n{self.trace.text()}\n--- baresip\n{log[-2500:]}"


@pytest.fixture
async def call(tmp_path: Path) -> AsyncIterator[Call]:
    """agentconsole 1004 talking to baresip 1002 (auto-answer, 880 Hz), audio flowing."""
    peer = Baresip("1002", tmp_path, answer="auto", tone_hz=880)
    peer.start()
    trace = SipTrace()
    phone = Phone(parse_config(agent_yaml(tmp_path)), trace=trace)
    try:
        await phone.start()
        session = await phone.call("1002")
        await wait_for(lambda: session.status.call_status == "talking", 15)
        await wait_for(lambda: session.media.frames_received > 10, 10)
        yield Call(phone, session, peer, trace)
    finally:
        await phone.stop()
        peer.stop()


async def assert_flowing(call: Call, what: str) -> Counts:
    got = await counts_over(call.session, WINDOW_S)
    assert got.tx >= FLOWING and got.rx >= FLOWING, f"{what}: {got}\n{call.evidence()}"
    return got


async def assert_stopped(call: Call, what: str) -> Counts:
    await asyncio.sleep(0.2)  # packets already in flight when the answer arrived
    got = await counts_over(call.session, WINDOW_S)
    assert got.tx <= STOPPED and got.rx <= STOPPED, f"{what}: {got}\n{call.evidence()}"
    return got


async def hang_up_and_read_peer_stats(call: Call) -> Counts:
    final = await counts(call.session)
    assert call.session.hangup()
    text = await peer_log(call.peer.log, lambda t: rtp_summaries(t) > 0)
    peer = baresip_rtp_stats(text)
    # baresip received what we sent (loopback: no loss) and sent what we received.
    assert abs(peer.rx - final.tx) <= max(10, final.tx // 20), (peer, final)
    assert abs(peer.tx - final.rx) <= max(10, final.rx // 20), (peer, final)
    return peer


async def test_hold_stops_media_and_unhold_resumes_it(call: Call) -> None:
    session = call.session
    await assert_flowing(call, "before hold")
    held: list[bool] = []
    session.on("status_change", lambda new, old: held.append(new.is_hold))

    await session.hold()
    assert session.status.is_hold, call.evidence()
    offer = call.trace.sent_requests("INVITE")[-1]
    assert "a=sendonly" in offer, offer
    assert sdp_direction(session.leg.remote_sdp) == "recvonly", call.evidence()
    await peer_log(call.peer.log, lambda t: "call: got re-INVITE" in t)
    await assert_stopped(call, "on hold")
    assert not session.status.remote_hold

    await session.unhold()
    assert not session.status.is_hold, call.evidence()
    assert "a=sendrecv" in call.trace.sent_requests("INVITE")[-1]
    assert sdp_direction(session.leg.remote_sdp) == "sendrecv", call.evidence()
    await assert_flowing(call, "after unhold")
    assert held and held[0] is True and held[-1] is False, held
    await hang_up_and_read_peer_stats(call)


async def test_remote_hold_by_baresip_is_shown_and_media_follows(call: Call) -> None:
    session = call.session
    await assert_flowing(call, "before remote hold")
    reinvites: list[bool] = []
    session.on("reinvite", lambda s: reinvites.append(s.status.remote_hold))

    call.peer.command("hold")
    await wait_for(lambda: session.status.remote_hold, 5)
    assert reinvites == [True], reinvites
    assert not session.status.is_hold  # held by the peer, not by us
    answer = session.leg.local_sdp
    assert sdp_direction(session.leg.remote_sdp) == "sendonly", call.evidence()
    assert sdp_direction(answer) == "recvonly", answer
    await assert_stopped(call, "held by baresip")

    call.peer.command("resume")
    await wait_for(lambda: not session.status.remote_hold, 5)
    assert reinvites == [True, False], reinvites
    assert sdp_direction(session.leg.local_sdp) == "sendrecv"
    await assert_flowing(call, "after baresip resumed")
    await hang_up_and_read_peer_stats(call)


async def test_hold_while_held_by_baresip_then_both_resume(call: Call) -> None:
    session = call.session
    call.peer.command("hold")
    await wait_for(lambda: session.status.remote_hold, 5)

    # Holding a call the peer already holds offers inactive (RFC 3264 §8.4); resuming
    # our side while the peer still holds us offers recvonly.
    await session.hold()
    assert session.status.is_hold and session.status.remote_hold
    assert "a=inactive" in call.trace.sent_requests("INVITE")[-1], call.evidence()
    assert sdp_direction(session.leg.remote_sdp) == "inactive", call.evidence()
    await assert_stopped(call, "held both ways")
    await session.unhold()
    assert not session.status.is_hold and session.status.remote_hold
    assert "a=recvonly" in call.trace.sent_requests("INVITE")[-1], call.evidence()
    assert sdp_direction(session.leg.remote_sdp) == "sendonly", call.evidence()

    call.peer.command("resume")
    await wait_for(lambda: not session.status.remote_hold, 5)
    assert sdp_direction(session.leg.remote_sdp) == "sendrecv", call.evidence()
    assert sdp_direction(session.leg.local_sdp) == "sendrecv", call.evidence()
    await assert_flowing(call, "both sides resumed")
    await hang_up_and_read_peer_stats(call)
