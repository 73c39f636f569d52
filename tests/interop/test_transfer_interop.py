"""Transfers against the rig's real peers (Kamailio + rtpengine, baresip, SIPp).

agentconsole registers over WebSocket as 1004 (media through rtpengine); baresip 1002
(auto-answer, 880 Hz) and 1001 (440 Hz) sit on plain RTP/UDP; a SIPp UAS registered as
1003 is the transfer target; a SIPp UAC (as 1001) plays the transferee that sends an
INVITE with Replaces, which baresip 1.0.0 cannot (see ``transfer_check``).

SIPp ports (UDP, 127.0.0.1): 5097 UAS as 1003, 5098 REGISTER, 5099 Replaces UAC; media
6300, 6310.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agentconsole import Phone, parse_config
from agentconsole.softphone.session import Session

from .baresip import Baresip, wav_peak
from .media_check import (
    SipTrace,
    agent_yaml,
    baresip_rtp_stats,
    peer_log,
    quiet,
    rtp_summaries,
)
from .rig import USERS
from .sipp import Sipp, SippStats, render
from .test_calls_baresip import wait_for
from .transfer_check import MEDIA_PORT, header, sipfrags, sipp_callee, sipp_messages, steps

pytestmark = pytest.mark.usefixtures("kamailio_rtpengine")

#: How long to wait for a line in baresip's log: a bound that only turns a hang into a
#: failure. The line is the peer's own record of an event that already happened (the
#: NOTIFY or BYE we waited for came after it), so on a loaded machine it may take
#: seconds to reach the file, never this long.
PEER_LOG_S = 30.0


@dataclass
class Agent:
    phone: Phone
    trace: SipTrace
    peers: list[Baresip] = field(default_factory=list)

    def evidence(self) -> str:
        parts = [f"--- agentconsole SIP\n{self.trace.text(5000)}"]
        for peer in self.peers:
            log = quiet(peer.log.read_text(errors="replace"))
            parts.append(f"--- baresip {peer.user}\n{log[-2500:]}")
        return "\n".join(parts)


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[Agent]:
    trace = SipTrace()
    phone = Phone(parse_config(agent_yaml(tmp_path)), trace=trace)
    peers: list[Baresip] = []
    try:
        await phone.start()
        yield Agent(phone, trace, peers)
    finally:
        await phone.stop()
        for peer in peers:
            peer.stop()


async def talk_to(agent: Agent, peer: Baresip) -> Session:
    peer.start()
    agent.peers.append(peer)
    session = await agent.phone.call(peer.user)
    await wait_for(lambda: session.status.call_status == "talking", 15)
    await wait_for(lambda: session.media.frames_received > 10, 10)
    return session


def progress_of(session: Session) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    session.on("transfer_progress", seen.append)
    return seen


def last_received_tone(peer: Baresip) -> tuple[float, float]:
    """(dominant Hz, RMS) of what ``peer`` heard in its newest call (sndfile ``*dec.wav``,
    complete once that call has ended)."""
    wavs = peer.received_wavs()
    assert wavs, f"baresip {peer.user} recorded nothing"
    return wav_peak(wavs[-1], start_s=0.5, length_s=1.0)


async def end_peer_call(peer: Baresip) -> str:
    """Hang up ``peer``'s current call and return its log once the RTP summary of that
    call is printed (``rtp_stats yes``)."""
    before = rtp_summaries(peer.log.read_text(errors="replace"))
    peer.command("hangup")
    return await peer_log(peer.log, lambda t: rtp_summaries(t) > before, PEER_LOG_S)


# ----- 1. blind transfer: we are the transferor, baresip the transferee -----------------------
async def test_blind_transfer_of_baresip_call_to_sipp_target(agent: Agent,
                                                             tmp_path: Path) -> None:
    """REFER (no Replaces) to baresip 1002; it calls 1003 (SIPp) through Kamailio and
    reports in NOTIFYs; on the 200 sipfrag we end our leg ("Transferred")."""
    transferee = Baresip("1002", tmp_path, answer="auto", tone_hz=880)
    with sipp_callee(tmp_path, "uas-answer.xml", "target", media_port=MEDIA_PORT) as uas:
        session = await talk_to(agent, transferee)
        await asyncio.sleep(1.1)  # sndfile names files by the second: keep calls apart
        progress = progress_of(session)
        ended: list[dict[str, Any]] = []
        session.on("ended", ended.append)

        assert await session.blind_transfer("1003", hangup_after="notify")
        await wait_for(lambda: session.is_ended, 10)
        assert steps(progress) == [("trying", 202), ("succeeded", 200)], agent.evidence()
        assert all(p["call_id"] == session.call_id for p in progress)
        assert ended == [{"call_id": session.call_id, "cause": "Transferred"}], ended
        assert agent.phone.sessions == {}

        refer = agent.trace.sent_requests("REFER")
        assert len(refer) == 1, agent.evidence()
        assert header(refer[0], "Refer-To") == "<sip:1003@127.0.0.1>", refer[0]
        assert header(refer[0], "Referred-By") == "<sip:1004@127.0.0.1>", refer[0]
        # baresip's NOTIFYs (RFC 3515 §2.4.5): 100 first, then the target's 200 (it
        # sends no 180 NOTIFY); our BYE comes after the final one.
        assert sipfrags(agent.trace.messages("in")) == ["SIP/2.0 100 Trying",
                                                        "SIP/2.0 200 OK"], agent.evidence()
        assert agent.trace.sent_requests("BYE"), agent.evidence()

        # The transferee really talks to the target: SIPp echoes baresip's 880 Hz back.
        await asyncio.sleep(2.0)
        text = await end_peer_call(transferee)
        assert "Call established: sip:1003@127.0.0.1" in text, quiet(text)[-2000:]
        rc = await uas.wait(10)
        assert rc == 0, uas.trace()
        assert uas.stats() == SippStats(successful=1, failed=0)
        received = sipp_messages(uas)
        assert received[0].startswith("INVITE sip:1003@"), received[:1]
        assert "<sip:1002@127.0.0.1>" in (header(received[0], "From") or ""), received[0]
        hz, level = last_received_tone(transferee)
        assert abs(hz - 880) <= 20 and level > 300, (hz, level)


async def test_blind_transfer_to_busy_sipp_target_keeps_the_call(agent: Agent,
                                                                 tmp_path: Path) -> None:
    """The target answers 486: baresip's NOTIFY carries it, progress says failed with
    486, and our call with baresip stays up with audio."""
    transferee = Baresip("1002", tmp_path, answer="auto", tone_hz=880)
    with sipp_callee(tmp_path, "uas-refuse.xml", "busy", code=486, reason="Busy Here") as uas:
        session = await talk_to(agent, transferee)
        progress = progress_of(session)

        assert await session.blind_transfer("1003", hangup_after="notify")
        await wait_for(lambda: any(p["state"] == "failed" for p in progress), 10)
        assert steps(progress) == [("trying", 202), ("failed", 486)], agent.evidence()
        rc = await uas.wait(10)
        assert rc == 0, uas.trace()
        assert sipfrags(agent.trace.messages("in"))[-1].startswith("SIP/2.0 486"), \
            agent.evidence()
        assert not session.is_ended and session.established
        assert session.status.call_status == "talking"
        assert agent.trace.sent_requests("BYE") == []
        before = session.media.frames_received
        await wait_for(lambda: session.media.frames_received > before + 20, 10)
        assert session.hangup()


# ----- 2. attended transfer: baresip 1002 (customer) to baresip 1001 (colleague) ----------
class WrongEndCause(AssertionError):
    """A transferred leg ended with another cause than "Transferred"."""


@pytest.mark.parametrize("via", ["parent", "consult"])
async def test_attended_transfer_leaves_the_two_baresips_talking(agent: Agent, tmp_path: Path,
                                                                 via: str) -> None:
    """A = 1002 (the customer, 880 Hz), B = 1001 (the colleague, 440 Hz, auto-answer).

    ``via="parent"`` (RFC 5589 §7): REFER on the parent leg to A, Refer-To B's AoR with
    Replaces naming the consult dialog. ``via="consult"`` (the seed's direction): REFER on
    the consult leg to B, Refer-To A's contact with Replaces naming the parent dialog.

    baresip 1.0.0 knows no Replaces: the transferee dials the Refer-To URI as a plain new
    call (it even copies the URI's header part into the To header) and the other baresip
    answers it as a second call. So what this proves against real UAs is our side: the
    REFER names the other dialog correctly, the transferee's NOTIFYs drive the transfer to
    "succeeded", we end both our legs, and A and B then talk to each other, audio both
    ways, media direct between their RTP ports. The target dropping the replaced dialog
    on its own (RFC 3891 §3) is shown with SIPp in the Replaces tests below.
    """
    a = Baresip("1002", tmp_path, answer="auto", tone_hz=880)
    b = Baresip("1001", tmp_path, answer="auto", tone_hz=440)
    parent = await talk_to(agent, a)
    b.start()
    agent.peers.append(b)
    consult = await agent.phone.call("1001", transfer_parent=parent.call_id)
    await wait_for(lambda: consult.status.call_status == "talking", 15)
    await wait_for(lambda: consult.media.frames_received > 10, 10)
    assert parent.status.is_hold and consult.status.transfer_parent is not None
    await asyncio.sleep(1.1)  # sndfile names files by the second: keep calls apart
    referred, replaced = (parent, consult) if via == "parent" else (consult, parent)
    transferee, target = (a, b) if via == "parent" else (b, a)
    progress = progress_of(referred)
    other_progress = progress_of(replaced)
    dialog = replaced.leg.dialog
    assert dialog is not None

    assert await consult.attended_transfer(via=via)
    await wait_for(lambda: parent.is_ended and consult.is_ended, 10)
    assert steps(progress) == [("trying", 202), ("succeeded", 200)], agent.evidence()
    assert other_progress == progress
    causes = (parent.end_cause, consult.end_cause)
    assert agent.phone.sessions == {}

    refer = agent.trace.sent_requests("REFER")
    assert len(refer) == 1 and f"Call-ID: {referred.call_id}" in refer[0], agent.evidence()
    replaces = (f"?Replaces={dialog.call_id}%3Bto-tag%3D{dialog.remote_tag}"
                f"%3Bfrom-tag%3D{dialog.local_tag}>")
    assert (header(refer[0], "Refer-To") or "").endswith(replaces), refer[0]

    await peer_log(transferee.log,
                   lambda t: f"Call established: sip:{target.user}" in t, PEER_LOG_S)
    await peer_log(target.log, lambda t: f"from sip:{transferee.user}@127.0.0.1" in t,
                   PEER_LOG_S)
    # Media flows directly between the two baresips (1001 uses RTP ports 100xx,
    # 1002 101xx; plain-to-plain calls are not anchored in rtpengine). Each logs it when
    # the other's first packet arrives, which is after "Call established": wait for
    # that line itself, not for one printed before it.
    await peer_log(a.log, lambda t: re.search(r"receiving from 127\.0\.0\.1:100\d\d", t),
                   PEER_LOG_S)
    await peer_log(b.log, lambda t: re.search(r"receiving from 127\.0\.0\.1:101\d\d", t),
                   PEER_LOG_S)
    await asyncio.sleep(2.0)
    text_a = await end_peer_call(a)
    text_b = await peer_log(b.log, lambda t: rtp_summaries(t) >= 2, PEER_LOG_S)
    stats_a, stats_b = baresip_rtp_stats(text_a), baresip_rtp_stats(text_b)
    assert stats_a.tx > 50 and stats_a.rx > 50, stats_a
    assert abs(stats_a.tx - stats_b.rx) <= 10 and abs(stats_b.tx - stats_a.rx) <= 10, \
        (stats_a, stats_b)
    hz_a, level_a = last_received_tone(a)
    hz_b, level_b = last_received_tone(b)
    assert abs(hz_a - 440) <= 20 and level_a > 300, ("A heard", hz_a, level_a)
    assert abs(hz_b - 880) <= 20 and level_b > 300, ("B heard", hz_b, level_b)
    if causes != ("Transferred", "Transferred"):  # checked last, after the audio
        raise WrongEndCause(f"(parent, consult) end causes: {causes}")


# ----- 3. incoming REFER: baresip transfers us -----------------------------------------------
async def test_refer_from_baresip_is_followed_after_accept(agent: Agent,
                                                           tmp_path: Path) -> None:
    """baresip 1002 (ctrl_tcp ``transfer``) REFERs us to 1003 (SIPp): we ask first
    (``transfer_request``), then call 1003, NOTIFY baresip 100 → 180 → 200, and end
    the original call."""
    peer = Baresip("1002", tmp_path, answer="auto", tone_hz=880)
    with sipp_callee(tmp_path, "uas-answer.xml", "target", media_port=MEDIA_PORT) as uas:
        session = await talk_to(agent, peer)
        requests: list[Any] = []
        session.on("transfer_request", requests.append)
        ended: list[dict[str, Any]] = []
        session.on("ended", ended.append)

        peer.command("transfer", "sip:1003@127.0.0.1")
        await wait_for(lambda: bool(requests), 5)
        request = requests[0]
        assert request.target.startswith("sip:1003@127.0.0.1"), request.target
        assert request.replaces is None and not request.trusted
        assert agent.phone.sessions.keys() == {session.call_id}  # nothing before accept

        new = await request.accept()
        await wait_for(lambda: new.status.call_status == "talking", 15)
        await wait_for(lambda: session.is_ended, 10)
        assert ended == [{"call_id": session.call_id, "cause": "Transferred"}], ended
        assert agent.phone.sessions.keys() == {new.call_id}
        notifies = agent.trace.sent_requests("NOTIFY")
        assert sipfrags(notifies) == ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing",
                                      "SIP/2.0 200 OK"], agent.evidence()
        assert "terminated" in (header(notifies[-1], "Subscription-State") or "")
        assert all(header(n, "Event") is not None for n in notifies)
        # baresip took every NOTIFY (200 to each) and its call with us is over. Our BYE
        # follows the last NOTIFY at once, so its 200 may still be on the way: wait.
        def acks() -> list[str]:
            return [m for m in agent.trace.messages("in") if m.startswith("SIP/2.0 200 ")
                    and re.search(r"^CSeq: \d+ NOTIFY", m, re.M)]

        await wait_for(lambda: len(acks()) >= 3, 10)
        assert len(acks()) == 3, agent.evidence()
        await peer_log(peer.log, lambda t: "Receive:" in t, PEER_LOG_S)
        await wait_for(lambda: new.media.frames_received > 10, 10)
        # baresip's REFER has neither Referred-By nor angle brackets around Refer-To;
        # the call we place is ours (From 1004), with no Replaces.
        refer = next(m for m in agent.trace.messages("in") if m.startswith("REFER "))
        assert header(refer, "Refer-To") == "sip:1003@127.0.0.1", refer
        assert request.referred_by is None

        assert new.hangup()
        rc = await uas.wait(10)
        assert rc == 0, uas.trace()
        assert uas.stats() == SippStats(successful=1, failed=0)
        invite = sipp_messages(uas)[0]
        assert invite.startswith("INVITE sip:1003@"), invite
        assert "<sip:1004@127.0.0.1>" in (header(invite, "From") or ""), invite
        assert header(invite, "Replaces") is None, invite


# ----- 4. we are the target: an INVITE with Replaces through Kamailio ------------------------
REPLACER_PORT = 5099


def replacer(tmp_path: Path, name: str, replaces: str) -> Sipp:
    scenario = render("uac-replaces.xml", tmp_path, replaces=replaces)
    return Sipp(name, scenario, tmp_path, port=REPLACER_PORT, media_port=6310, timeout_s=20,
                extra=["-s", "1004", "-key", "caller", "1001", "-au", "1001",
                       "-ap", USERS["1001"], "-d", "1500"])


async def test_invite_with_replaces_from_sipp_takes_over_a_baresip_call(
    agent: Agent, tmp_path: Path
) -> None:
    """What a transferee does at the end of an attended transfer, played by SIPp (baresip
    1.0.0 cannot send Replaces): its INVITE names our dialog with baresip 1002; we answer
    it without ringing the agent and hang up the replaced call (RFC 3891 §3)."""
    peer = Baresip("1002", tmp_path, answer="auto", tone_hz=880)
    old = await talk_to(agent, peer)
    dialog = old.leg.dialog
    assert dialog is not None
    replaced: list[dict[str, Any]] = []
    agent.phone.on("replaced", replaced.append)
    # to-tag is the recipient's (our) tag, from-tag the other party's (RFC 3891 §3).
    uac = replacer(tmp_path, "replacer",
                   f"{dialog.call_id};to-tag={dialog.local_tag};from-tag={dialog.remote_tag}")
    uac.start()
    try:
        await wait_for(lambda: bool(replaced) or uac.returncode is not None, 10)
        assert replaced, f"{uac.trace()}\n{agent.evidence()}"
        new_id = replaced[0]["call_id"]
        assert replaced == [{"call_id": new_id, "replaced_call_id": old.call_id}]
        await wait_for(lambda: old.is_ended, 5)
        new = agent.phone.sessions[new_id]
        assert new.replaced_call_id == old.call_id
        assert new.status.call_status == "talking"
        await peer_log(peer.log, lambda t: "Receive:" in t, PEER_LOG_S)  # baresip got our BYE
        rc = await uac.wait()
        assert rc == 0, uac.trace()
        assert uac.stats() == SippStats(successful=1, failed=0)
        flow = uac.sent_and_received()
        assert any(line.startswith("<< SIP/2.0 200 ") for line in flow), flow
        assert flow[-1].startswith("<< SIP/2.0 200"), flow  # the 200 to its BYE
        await wait_for(lambda: agent.phone.sessions == {}, 5)
    finally:
        uac.stop()


async def test_invite_with_replaces_for_an_unknown_dialog_gets_481(agent: Agent,
                                                                   tmp_path: Path) -> None:
    uac = replacer(tmp_path, "replacer-481", "no-such-call;to-tag=x1;from-tag=y2").start()
    try:
        rc = await uac.wait()
        assert rc == 0, uac.trace()
        flow = uac.sent_and_received()
        assert any(line.startswith("<< SIP/2.0 481 ") for line in flow), flow
        assert flow[-1].startswith(">> ACK "), flow
        assert agent.phone.sessions == {}
    finally:
        uac.stop()
