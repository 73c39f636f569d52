"""Calls with WebRTC media between agentconsole and baresip through Kamailio + rtpengine.

agentconsole registers over WebSocket as 1004 (aiortc: ICE + DTLS-SRTP); baresip sits on
plain RTP/UDP; rtpengine converts between the two, as a PBX's WebRTC gateway would.
Audio is checked both ways by the frequency of each side's tone.
"""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import Callable
from pathlib import Path

from agentconsole import Phone, parse_config
from agentconsole.media.stats import Report
from agentconsole.softphone.session import Session
from tests.waiting import wait_until

from .baresip import Baresip, wav_peak
from .rig import Kamailio


def write_tone(path: Path, hz: float, seconds: float = 2.0, rate: int = 48000) -> None:
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def agent_config(tmp: Path, *, tone_hz: int = 440) -> tuple[str, Path]:
    """1004's config playing ``tone_hz``, and the file of what it hears."""
    from .media_check import agent_heard, agent_yaml

    return agent_yaml(tmp, tone_hz=tone_hz), agent_heard(tmp)


async def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """The interop tests' name for :func:`tests.waiting.wait_until` (longer default)."""
    await wait_until(predicate, timeout)


async def test_agent_calls_baresip_and_both_hear_each_other(
    kamailio_rtpengine: Kamailio, tmp_path: Path
) -> None:
    callee = Baresip("1002", tmp_path, answer="auto", tone_hz=880)
    callee.start()
    text, heard = agent_config(tmp_path, tone_hz=440)
    phone = Phone(parse_config(text))
    await phone.start()
    reports: list[Report] = []
    events: list[str] = []
    try:
        session = await phone.call("1002")
        session.on("progress", lambda code: events.append(f"progress {code}"))
        session.on("accepted", lambda s: events.append("accepted"))
        session.on("confirmed", lambda s: events.append("confirmed"))
        session.on("call_report", reports.append)
        await wait_for(lambda: session.status.call_status == "talking", 15)
        # a periodic report (every 3 s) that counts audio both ways: enough of it for
        # the WAV checks below (they read from 1.5 s on)
        await wait_for(lambda: bool(reports) and reports[-1].audio_rx > 120
                       and reports[-1].audio_tx > 120, 20)
        assert "accepted" in events and "confirmed" in events
        assert reports and reports[-1].audio_rx > 50 and reports[-1].audio_tx > 50
        assert reports[-1].mos > 3.5 and reports[-1].rtt_ms >= 0
        assert reports[-1].audio_codec
        ended: list[object] = []
        session.on("ended", ended.append)
        assert session.hangup()
        assert ended and session.is_ended
        assert phone.sessions == {}
    finally:
        await phone.stop()
        callee.stop()
    peak, rms = wav_peak(heard, start_s=1.5)
    assert rms > 300 and abs(peak - 880) <= 20, (peak, rms)
    wavs = callee.received_wavs()
    assert wavs, "baresip recorded nothing"
    peak, rms = wav_peak(wavs[0], start_s=1.0)
    assert rms > 300 and abs(peak - 440) <= 20, (peak, rms)


async def test_baresip_calls_agent_who_answers(kamailio_rtpengine: Kamailio,
                                               tmp_path: Path) -> None:
    text, heard = agent_config(tmp_path, tone_hz=660)
    phone = Phone(parse_config(text))
    incoming: list[Session] = []
    phone.on("incoming", incoming.append)
    await phone.start()
    caller = Baresip("1001", tmp_path, tone_hz=440)
    caller.start()
    try:
        caller.command("dial", "sip:1004@127.0.0.1")
        await wait_for(lambda: bool(incoming), 10)
        session = incoming[0]
        assert session.status.is_ring and session.status.number == "1001"
        assert phone.incoming_list == [session]
        ended: list[object] = []
        session.on("ended", ended.append)
        await session.answer()
        await wait_for(lambda: session.status.call_status == "talking", 10)
        await wait_for(lambda: session.call_report.audio_rx > 150
                       and session.call_report.audio_tx > 150, 20)  # 3 s of audio each way
        caller.command("hangup")
        await wait_for(lambda: bool(ended), 10)
        assert session.end_cause == "Terminated"
    finally:
        await phone.stop()
        caller.stop()
    peak, rms = wav_peak(heard, start_s=1.5)
    assert rms > 300 and abs(peak - 440) <= 20, (peak, rms)
    wavs = caller.received_wavs()
    assert wavs
    peak, rms = wav_peak(wavs[0], start_s=1.0)
    assert rms > 300 and abs(peak - 660) <= 20, (peak, rms)
