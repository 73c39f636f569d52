"""agentconsole on plain RTP and SDES-SRTP with baresip, through Kamailio WITHOUT
rtpengine (the ``kamailio`` fixture starts none; and the rig's script engages it only
when one side is on WS anyway): the media goes straight between the two UAs.

agentconsole registers as 1004 over UDP, so ``media.profile: auto`` offers RTP/AVP
(or RTP/SAVP with ``srtp``); baresip 1002 auto-answers (880 Hz), 1001 calls (880 Hz).
Each test checks the tone of each side in what the other received. For SRTP the
packets are also read off the loopback interface: the RTP header is clear, the payload
is the codec's size plus a 10-byte tag and looks random, and no PCMU tone decodes from
it; for plain RTP the same capture decodes to baresip's tone.

Also here: WebRTC straight between aiortc and baresip (ICE + DTLS-SRTP, no rtpengine),
and hold, DTMF, recording and a blind transfer on the plain path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentconsole import Phone, parse_config

from .baresip import Baresip, wav_peak
from .media_check import (
    SipTrace,
    agent_heard,
    agent_yaml,
    baresip_rfc4733_digits,
    counts_over,
    peer_log,
    quiet,
    read_wav,
    talking_call,
    tone,
)
from .plain_check import (
    LoopbackCapture,
    looks_encrypted,
    looks_plain_pcmu,
    pcmu_tone_hz,
)
from .test_calls_baresip import wait_for
from .transfer_check import MEDIA_PORT, sipfrags, sipp_callee, steps

pytestmark = pytest.mark.usefixtures("kamailio")

AGENT_HZ, PEER_HZ = 660, 880
BARESIP_RTP = range(10000, 10200)  # 1001: 10000-10099, 1002: 10100-10199
AGENT_RTP = range(16384, 32768)
MEDIAENC = {"rtp": "", "srtp-mand": ";mediaenc=srtp-mand", "srtp": ";mediaenc=srtp"}


@dataclass
class Agent:
    phone: Phone
    trace: SipTrace
    tmp: Path
    peers: list[Baresip]

    def evidence(self) -> str:
        parts = [f"--- agentconsole SIP\n{self.trace.text(4000)}"]
        for peer in self.peers:
            parts.append(f"--- baresip {peer.user}\n"
                         f"{quiet(peer.log.read_text(errors='replace'))[-2500:]}")
        return "\n".join(parts)


async def start_agent(tmp: Path, **options: Any) -> Agent:
    trace = SipTrace()
    phone = Phone(parse_config(agent_yaml(tmp, tone_hz=AGENT_HZ, transport="udp", **options)),
                  trace=trace)
    await phone.start()
    assert phone.is_registered
    return Agent(phone, trace, tmp, [])


@pytest.fixture
async def agents(tmp_path: Path) -> AsyncIterator[list[Agent]]:
    started: list[Agent] = []
    try:
        yield started
    finally:
        for agent in started:
            await agent.phone.stop()
            for peer in agent.peers:
                peer.stop()


async def connect(agent: Agent, peer: Baresip, caller: str) -> Any:
    """A talking call between the agent and ``peer``, whoever dials."""
    agent.peers.append(peer)
    return await talking_call(agent.phone, peer, we_dial=caller == "agent")


async def hang_up_and_check_tones(agent: Agent, session: Any, peer: Baresip,
                                  start_s: float) -> None:
    """End the call, then each side's tone must be in what the other heard."""
    assert session.hangup()
    await asyncio.sleep(0.5)
    await agent.phone.stop()  # closes the heard WAV (its header is patched once a second)
    peak, level = wav_peak(agent_heard(agent.tmp), start_s=start_s)
    assert level > 300 and abs(peak - PEER_HZ) <= 20, ("agent heard", peak, level)
    wavs = peer.received_wavs()
    assert wavs, f"baresip {peer.user} recorded nothing"
    peak, level = wav_peak(wavs[-1], start_s=1.0)
    assert level > 300 and abs(peak - AGENT_HZ) <= 20, ("baresip heard", peak, level,
                                                         agent.evidence())


@pytest.mark.parametrize("caller", ["agent", "baresip"])
@pytest.mark.parametrize("mode", ["rtp", "srtp-mand", "srtp"])
async def test_plain_and_sdes_calls_with_baresip(agents: list[Agent], tmp_path: Path,
                                                 mode: str, caller: str) -> None:
    profile = "auto" if mode == "rtp" else "srtp"  # what we offer when we call
    agent = await start_agent(tmp_path, profile=profile, codecs=("PCMU",))
    agents.append(agent)
    user = "1002" if caller == "agent" else "1001"
    peer = Baresip(user, tmp_path, answer="auto", tone_hz=PEER_HZ, account=MEDIAENC[mode])
    capture = LoopbackCapture(min(BARESIP_RTP), max(AGENT_RTP)).start()
    try:
        session = await connect(agent, peer, caller)
        await asyncio.sleep(3.0)
    finally:
        capture.stop()
    offer = (session.leg.local_sdp if caller == "agent" else session.leg.remote_sdp) or b""
    answer = (session.leg.remote_sdp if caller == "agent" else session.leg.local_sdp) or b""
    media = session.media
    assert type(media).__name__ == "PlainMediaSession" and media.codec == "PCMU"
    report = await media.report()
    assert report.audio_rx > 100 and report.audio_tx > 100 and report.mos > 4.0
    received = capture.rtp_between(BARESIP_RTP, AGENT_RTP)[:20]
    sent = capture.rtp_between(AGENT_RTP, BARESIP_RTP)[:20]
    assert len(received) >= 10 and len(sent) >= 10, agent.evidence()
    if mode == "rtp":
        assert b"RTP/AVP" in offer and b"a=crypto" not in offer + answer
        assert not media.encrypted
        assert looks_plain_pcmu(received, PEER_HZ) and looks_plain_pcmu(sent, AGENT_HZ)
    else:
        expected = b"RTP/SAVP" if mode == "srtp-mand" or caller == "agent" else b"RTP/AVP "
        assert expected in offer and b"a=crypto:" in offer and b"a=crypto:" in answer
        assert media.encrypted
        assert looks_encrypted(received) and looks_encrypted(sent), agent.evidence()
        assert not any(abs(pcmu_tone_hz(p.payload[12:172]) - PEER_HZ) <= 30 for p in received)
        await peer_log(peer.log, lambda t: "SRTP is Enabled" in t, 2)
    await hang_up_and_check_tones(agent, session, peer, start_s=1.5)


@pytest.mark.parametrize("caller", ["agent", "baresip"])
async def test_webrtc_straight_with_baresip(agents: list[Agent], tmp_path: Path,
                                            caller: str) -> None:
    """aiortc and baresip with ``medianat=ice;mediaenc=dtls_srtp`` and no rtpengine:
    baresip's RSA DTLS certificate when it calls us, its answer without ``a=mid`` when
    we call it (interop-notes: both used to fail)."""
    agent = await start_agent(tmp_path, profile="webrtc")
    agents.append(agent)
    user = "1002" if caller == "agent" else "1001"
    peer = Baresip(user, tmp_path, answer="auto", tone_hz=PEER_HZ, rtcp_mux=True,
                   account=";medianat=ice;mediaenc=dtls_srtp")
    session = await connect(agent, peer, caller)
    sdp = (session.leg.local_sdp or b"") + (session.leg.remote_sdp or b"")
    assert sdp.count(b"UDP/TLS/RTP/SAVPF") == 2
    assert type(session.media).__name__ == "MediaSession" and session.media.connected
    text = await peer_log(peer.log, lambda t: "DTLS-SRTP complete" in t, 5)
    assert "no shared cipher" not in text
    await asyncio.sleep(2.5)
    await hang_up_and_check_tones(agent, session, peer, start_s=1.0)


async def test_hold_dtmf_and_recording_on_the_plain_path(agents: list[Agent],
                                                         tmp_path: Path) -> None:
    directory = tmp_path / "recordings"
    agent = await start_agent(tmp_path, codecs=("PCMU",), recording_dir=directory)
    agents.append(agent)
    peer = Baresip("1002", tmp_path, answer="auto", tone_hz=PEER_HZ)
    session = await connect(agent, peer, "agent")
    assert await session.start_record()

    # hold: a=sendonly offered, recvonly answered, nothing flows either way
    await session.hold()
    assert session.status.is_hold and b"a=sendonly" in (session.leg.local_sdp or b"")
    await asyncio.sleep(0.3)
    held = await counts_over(session, 1.0)
    assert held.tx <= 2 and held.rx <= 2, (held, agent.evidence())
    await session.unhold()
    await asyncio.sleep(0.3)
    flowing = await counts_over(session, 1.0)
    assert flowing.tx > 30 and flowing.rx > 30, (flowing, agent.evidence())

    # DTMF both ways in the RTP stream (RFC 4733)
    assert session.dtmf_method() == "rfc4733"
    assert await session.dtmf("123#")
    text = await peer_log(peer.log, lambda t: len(baresip_rfc4733_digits(t)) >= 4)
    assert baresip_rfc4733_digits(text) == list("123#"), agent.evidence()
    received: list[dict[str, Any]] = []
    session.on("dtmf_received", received.append)
    peer.command("sndcode", "59")
    await wait_for(lambda: len(received) >= 2, 15)
    assert [r["digit"] for r in received] == ["5", "9"]

    # recording: left our tone, right baresip's
    await asyncio.sleep(2.0)
    assert await session.stop_record()
    path = session.recording_path
    assert path is not None
    wav = read_wav(path)
    end = wav.duration_s - 0.5
    for channel, hz in ((0, AGENT_HZ), (1, PEER_HZ)):
        peak, level = tone(wav, channel, end - 1.0, 0.5)
        assert level > 300 and abs(peak - hz) <= 10, (channel, peak, level)
    assert session.hangup()


async def test_blind_transfer_on_the_plain_path(agents: list[Agent], tmp_path: Path) -> None:
    """REFER to baresip 1002 (plain RTP with us); it calls 1003 (SIPp, RTP echo) through
    Kamailio; on the 200 NOTIFY we end our leg."""
    agent = await start_agent(tmp_path)
    agents.append(agent)
    peer = Baresip("1002", tmp_path, answer="auto", tone_hz=PEER_HZ)
    with sipp_callee(tmp_path, "uas-answer.xml", "target", media_port=MEDIA_PORT) as uas:
        session = await connect(agent, peer, "agent")
        assert type(session.media).__name__ == "PlainMediaSession"
        progress: list[dict[str, Any]] = []
        session.on("transfer_progress", progress.append)
        assert await session.blind_transfer("1003", hangup_after="notify")
        await wait_for(lambda: session.is_ended, 10)
        assert steps(progress) == [("trying", 202), ("succeeded", 200)], agent.evidence()
        assert session.end_cause == "Transferred"
        assert sipfrags(agent.trace.messages("in"))[-1] == "SIP/2.0 200 OK"
        await asyncio.sleep(1.5)
        peer.command("hangup")
        rc = await uas.wait(10)
        assert rc == 0, uas.trace()
