"""agentconsole on plain RTP with scripted SIPp peers, through Kamailio without
rtpengine: a caller whose offer is plain RTP/AVP and who echoes our RTP back
(``-rtp_echo``: we must hear our own tone), and two callees for early media (RFC
3960): one sends 183 with SDP and plays RTP before its 200 (``play_pcap_audio`` of a
1 kHz tone written by the test), one sends a 180 without SDP (we play a local
ringback until its 200), a callee whose 200 names who answered (RFC 3325), and a
caller that moves the call between plain RTP and SDES-SRTP by re-INVITEs (one of them
offerless) while echoing our RTP.

SIPp ports (UDP, 127.0.0.1): 5111 UAC (media 6400), 5112 the profile-changing UAC
(media 6410); the callees are
:func:`~.transfer_check.sipp_callee`'s (5097 as 1003, 5098 REGISTER, media 6300).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest

from agentconsole import Phone, parse_config
from agentconsole.media.tone import frame_to_mono, goertzel_power, rms

from .baresip import wav_peak
from .media_check import SipTrace, agent_heard, agent_yaml, read_wav
from .plain_check import write_rtp_pcap
from .sipp import Sipp, SippStats, render
from .test_calls_baresip import wait_for
from .test_calls_sipp import caller_args
from .transfer_check import MEDIA_PORT, sipp_callee

pytestmark = pytest.mark.usefixtures("kamailio")

AGENT_HZ, EARLY_HZ = 660, 1000
UAC_PORT, UAC_MEDIA = 5111, 6400


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[tuple[Phone, SipTrace]]:
    trace = SipTrace()
    phone = Phone(parse_config(agent_yaml(tmp_path, tone_hz=AGENT_HZ, transport="udp")),
                  trace=trace)
    await phone.start()
    try:
        assert phone.is_registered
        yield phone, trace
    finally:
        await phone.stop()


class Heard:
    """Frames of the far end's audio, split by whether the call was answered yet."""

    def __init__(self, session: Any) -> None:
        self.before: list[av.AudioFrame] = []
        self.after: list[av.AudioFrame] = []
        self._session = session
        session.media.add_remote_tap(self)

    def __call__(self, frame: av.AudioFrame) -> None:
        answered = self._session.status.call_status == "talking"
        (self.after if answered else self.before).append(frame)


def dominant(frames: list[av.AudioFrame], candidates: tuple[int, ...]) -> tuple[int, float]:
    samples: list[int] = []
    for frame in frames:
        samples.extend(frame_to_mono(frame))
    rate = frames[-1].sample_rate
    powers = {hz: goertzel_power(samples, rate, hz) for hz in candidates}
    return max(powers, key=lambda hz: powers[hz]), rms(samples)


async def test_sipp_calls_with_a_plain_offer_and_echoes_our_tone(
        agent: tuple[Phone, SipTrace], tmp_path: Path) -> None:
    phone, _trace = agent
    incoming: list[Any] = []
    phone.on("incoming", incoming.append)
    uac = Sipp("uac-echo", render("uac-answered-bye.xml", tmp_path), tmp_path, port=UAC_PORT,
               media_port=UAC_MEDIA, timeout_s=20,
               extra=[*caller_args(), "-d", "4000", "-rtp_echo"]).start()
    try:
        await wait_for(lambda: bool(incoming) or uac.returncode is not None, 10)
        assert incoming, uac.trace()
        session = incoming[0]
        offer = session.leg.remote_sdp or b""
        assert b"RTP/AVP 0" in offer and b"UDP/TLS" not in offer  # no rtpengine rewrote it
        await session.answer()
        assert type(session.media).__name__ == "PlainMediaSession"
        assert b"RTP/AVP 0" in (session.leg.local_sdp or b"")
        await wait_for(lambda: session.media.frames_received > 50, 10)
        report = await session.media.report()
        assert report.audio_rx > 40 and report.audio_codec == "PCMU"
        await wait_for(lambda: session.is_ended, 10)
        rc = await uac.wait()
        assert rc == 0, uac.trace()
        assert uac.stats() == SippStats(successful=1, failed=0)
    finally:
        uac.stop()
    await phone.stop()  # closes the heard WAV (its header is patched once a second)
    peak, level = wav_peak(agent_heard(tmp_path), start_s=0.5)
    assert level > 300 and abs(peak - AGENT_HZ) <= 20, (peak, level)  # our own tone back


async def test_early_media_plays_before_the_answer(agent: tuple[Phone, SipTrace],
                                                   tmp_path: Path) -> None:
    phone, trace = agent
    pcap = tmp_path / "announcement.pcap"
    write_rtp_pcap(pcap, EARLY_HZ, seconds=2.5)
    with sipp_callee(tmp_path, "uas-early-media.xml", "early", media_port=MEDIA_PORT,
                     pcap=str(pcap), early_ms=3000) as uas:
        session = await phone.call("1003")
        heard = Heard(session)
        progress: list[int] = []
        session.on("progress", progress.append)
        await wait_for(lambda: 183 in progress, 10)
        await wait_for(lambda: len(heard.before) > 60, 5)
        assert session.status.call_status == "ringing" and not session.established
        assert not session.media.ringback.playing
        hz, level = dominant(heard.before[-50:], (AGENT_HZ, EARLY_HZ, 440, 480))
        assert hz == EARLY_HZ and level > 1000, (hz, level)
        await wait_for(lambda: session.status.call_status == "talking", 10)
        await wait_for(lambda: len(heard.after) > 50, 5)  # SIPp's echo: our own tone now
        hz, level = dominant(heard.after[-25:], (AGENT_HZ, EARLY_HZ))
        assert hz == AGENT_HZ and level > 1000, (hz, level)
        assert session.hangup()
        rc = await uas.wait(10)
        assert rc == 0, f"{uas.trace()}\n{trace.text(3000)}"


async def test_the_answer_names_who_picked_up(agent: tuple[Phone, SipTrace],
                                             tmp_path: Path) -> None:
    """We dial a queue's number; the 200 comes from the agent who took the call, with
    its P-Asserted-Identity (RFC 3325): the call shows that agent, not the number we
    dialled, from the moment it is answered."""
    phone, trace = agent
    with sipp_callee(tmp_path, "uas-answer.xml", "queue", media_port=MEDIA_PORT,
                     identity='"Dana Queue-Agent" <sip:+15550177@127.0.0.1>') as uas:
        session = await phone.call("1003")
        assert session.status.number == "1003"
        await wait_for(lambda: session.status.call_status == "talking", 10)
        assert (session.status.name, session.status.number) == \
            ("Dana Queue-Agent", "+15550177"), trace.text(3000)
        assert session.hangup()
        rc = await uas.wait(10)
        assert rc == 0, f"{uas.trace()}\n{trace.text(3000)}"


async def test_ringing_without_sdp_plays_local_ringback_until_the_answer(
        agent: tuple[Phone, SipTrace], tmp_path: Path) -> None:
    phone, trace = agent
    with sipp_callee(tmp_path, "uas-ringback.xml", "ringback", media_port=MEDIA_PORT,
                     ring_ms=2500) as uas:
        session = await phone.call("1003")
        progress: list[int] = []
        session.on("progress", progress.append)
        await wait_for(lambda: 180 in progress, 10)
        assert session.media.ringback.playing
        ringback = session.media.ringback
        await wait_for(lambda: ringback.frames_played > 50, 5)
        await wait_for(lambda: session.status.call_status == "talking", 10)
        assert not ringback.playing
        frames = ringback.frames_played
        await wait_for(lambda: session.media.frames_received > 50, 5)
        assert ringback.frames_played == frames  # it stopped at the 200
        assert session.hangup()
        rc = await uas.wait(10)
        assert rc == 0, f"{uas.trace()}\n{trace.text(3000)}"
    await phone.stop()  # closes the heard WAV (its header is patched once a second)
    wav = read_wav(agent_heard(tmp_path))
    first = wav.samples[0][: int(wav.rate * 1.0)]  # the ringback frames played first
    us = goertzel_power(first, wav.rate, 440) + goertzel_power(first, wav.rate, 480)
    assert us > 50 * goertzel_power(first, wav.rate, AGENT_HZ), "no US ringback heard"
    last = wav.samples[0][-int(wav.rate * 0.5):]  # then SIPp's echo of our tone
    assert goertzel_power(last, wav.rate, AGENT_HZ) > 50 * goertzel_power(last, wav.rate, 440)


PROFILE_UAC_PORT, PROFILE_UAC_MEDIA, PHASE_MS = 5112, 6410, 2500
CRYPTO_KEY = re.compile(rb"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/=]+)")


async def test_sipp_moves_a_plain_call_to_srtp_and_back(agent: tuple[Phone, SipTrace],
                                                        tmp_path: Path) -> None:
    """Mid-call profile changes by the caller's re-INVITEs (``uac-profile-change.xml``,
    SIPp echoing our RTP): plain → SRTP with its key (the echo of our encrypted packets
    cannot be decrypted: nothing heard, so they are encrypted on the wire) → SRTP with
    our key (a rekey, RFC 4568 §7.1.4: our tone again) → an offerless re-INVITE (we
    offer SRTP with the same key, the answer comes in the ACK) → plain again."""
    phone, trace = agent
    incoming: list[Any] = []
    phone.on("incoming", incoming.append)
    uac = Sipp("uac-profile", render("uac-profile-change.xml", tmp_path), tmp_path,
               port=PROFILE_UAC_PORT, media_port=PROFILE_UAC_MEDIA, timeout_s=40,
               extra=[*caller_args(), "-d", str(PHASE_MS), "-rtp_echo"]).start()
    try:
        await wait_for(lambda: bool(incoming) or uac.returncode is not None, 10)
        assert incoming, uac.trace()
        session = incoming[0]
        phases: list[list[av.AudioFrame]] = [[]]
        encrypted: list[bool] = []
        session.on("reinvite", lambda s: (phases.append([]),
                                          encrypted.append(s.media.encrypted)))
        confirmed: list[Any] = []
        session.on("confirmed", confirmed.append)
        await session.answer()
        engine = session.media
        engine.add_remote_tap(lambda frame: phases[-1].append(frame))
        await wait_for(lambda: session.is_ended, 40)
        rc = await uac.wait()
        assert rc == 0, f"{uac.trace()}\n{trace.text(4000)}"
    finally:
        uac.stop()
    assert session.media is engine  # RTP/AVP ↔ RTP/SAVP: the same plain engine throughout
    assert len(confirmed) == 1  # the ACK with the answer to our re-offer confirms nothing
    assert encrypted == [True, True, True, False], encrypted
    heard = [dominant(p[-40:], (AGENT_HZ, 440)) if len(p) > 60 else (0, 0.0)
             for p in phases]
    tones = [hz == AGENT_HZ and level > 1000 for hz, level in heard]
    assert tones == [True, False, True, True, True], (heard, [len(p) for p in phases])
    # our SDES key, as SIPp received it in our 200s: one key throughout (RFC 4568
    # §7.1.4 lets it outlive the offer/answer); our own SIP trace shows none of them
    log = uac.messages.read_bytes().split(b"----------------------------------------------- ")
    ours = [m for m in log if b"message received" in m and b"SIP/2.0 200 OK" in m]
    keys = [k for m in ours for k in CRYPTO_KEY.findall(m)]
    assert len(keys) == 3 and len(set(keys)) == 1, keys
    assert not any(keys[0].decode() in m for m in trace.messages())
