"""Two agentconsole phones in one process over loopback: real SIP over UDP, real media —
plain RTP by default (``media.profile: auto`` on UDP), and the audio test on every
profile (plain RTP, SDES-SRTP, WebRTC through aiortc) —, tone in, tone frequency
detected out on both sides; plus the call policies that need a live call (auto-hold,
max calls, guards).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentconsole import AgentConsoleError, Phone, parse_config
from agentconsole.softphone.session import Session
from tests.interop.baresip import wav_peak
from tests.interop.test_calls_baresip import write_tone
from tests.waiting import wait_until


def phone_config(tmp: Path, user: str, tone_hz: int, extra: str = "",
                 profile: str = "auto") -> str:
    """A phone on loopback UDP with no registrar, a tone in and a WAV of what it hears;
    ``extra`` is appended (more sections), ``profile`` is ``media.profile``."""
    tone = tmp / f"{user}-in.wav"
    write_tone(tone, tone_hz)
    profile_line = f"  profile: {profile}\n" if profile != "auto" else ""
    return f"""
account:
  aor: "sip:{user}@127.0.0.1"
  transport: udp
  register: false
sip:
  local_host: 127.0.0.1
media:
  host_addresses: ["127.0.0.1"]
{profile_line}audio:
  backend: file
  file_in: "{tone}"
  file_out: "{tmp / (user + '-heard.wav')}"
{extra}
"""


async def make_pair(tmp_path: Path, calls_a: str = "", calls_b: str = "",
                    profile: str = "auto") -> tuple[Phone, Phone, str]:
    base = "calls:\n  dial_rate_limit_s: 0\n  max_calls: 2\n"
    a = Phone(parse_config(phone_config(tmp_path, "1001", 440, calls_a or base, profile)))
    b = Phone(parse_config(phone_config(tmp_path, "1002", 880, calls_b or base, profile)))
    await a.start()
    await b.start()
    assert b.transport is not None and b.transport.local_address is not None
    return a, b, f"sip:1002@127.0.0.1:{b.transport.local_address[1]}"


@pytest.fixture
async def pair(tmp_path: Path, request: pytest.FixtureRequest
               ) -> AsyncIterator[tuple[Phone, Phone, str]]:
    """Two started phones and B's address; ``media.profile`` is the test's parameter
    (``indirect``), else auto."""
    a, b, target = await make_pair(tmp_path, profile=getattr(request, "param", "auto"))
    try:
        yield a, b, target
    finally:
        await a.stop()
        await b.stop()


async def answer_next(b: Phone, incoming: list[Session]) -> Session:
    await wait_until(lambda: bool(incoming), 10)
    session = incoming.pop(0)
    await session.answer()
    return session


async def talking_call(a: Phone, b: Phone, target: str) -> tuple[Session, Session]:
    """A calls ``target`` (B), B answers: (A's session, B's) once A's is talking."""
    incoming: list[Session] = []
    b.on("incoming", incoming.append)
    out = await a.call(target)
    inbound = await answer_next(b, incoming)
    await wait_until(lambda: out.status.call_status == "talking", 10, "talking")
    return out, inbound


@pytest.mark.parametrize("pair", ["rtp", "srtp", "webrtc"], indirect=True)
async def test_call_with_audio_both_ways(pair: tuple[Phone, Phone, str],
                                         tmp_path: Path) -> None:
    a, b, target = pair
    profile = a.config.media.profile
    incoming: list[Session] = []
    b.on("incoming", incoming.append)
    out = await a.call(target)
    streams: list[dict[str, object]] = []
    timers: list[object] = []
    out.on("stream_added", streams.append)
    out.on("update_timer", timers.append)
    assert out.status.call_status == "calling" and out.status.communication_type == "outbound"
    inbound = await answer_next(b, incoming)
    await wait_until(lambda: out.status.call_status == "talking", 10)
    # 2 s of audio heard on each side (the WAVs are checked from 1 s on) and two ticks.
    await wait_until(lambda: min(out.media.frames_received, inbound.media.frames_received)
                     >= 100 and len(timers) >= 2, 10, "2 s of audio both ways")
    assert streams and streams[0]["communication_type"] == "outbound"
    assert out.media.profile == inbound.media.profile == profile
    assert len(timers) >= 2  # the 1 Hz tick
    assert inbound.status.call_status == "talking" and not inbound.status.is_ring
    assert out.timer.call_duration >= 1.0
    out.hangup()
    await wait_until(lambda: inbound.is_ended, 5)
    assert inbound.end_cause == "Terminated"
    assert a.sessions == {} and b.sessions == {}
    await a.stop()  # closes the heard WAVs (their headers are patched once a second)
    await b.stop()
    peak, rms = wav_peak(tmp_path / "1001-heard.wav", start_s=1.0)
    assert rms > 300 and abs(peak - 880) <= 20, (peak, rms)
    peak, rms = wav_peak(tmp_path / "1002-heard.wav", start_s=1.0)
    assert rms > 300 and abs(peak - 440) <= 20, (peak, rms)


async def test_reject_and_caller_sees_busy(pair: tuple[Phone, Phone, str]) -> None:
    a, b, target = pair
    incoming: list[Session] = []
    b.on("incoming", incoming.append)
    out = await a.call(target)
    failed: list[dict[str, object]] = []
    out.on("failed", failed.append)
    await wait_until(lambda: bool(incoming), 10)
    assert incoming[0].reject()
    await wait_until(lambda: bool(failed), 10)
    assert failed[0]["code"] == 486 and failed[0]["cause"] == "Busy"


async def test_caller_cancel_ends_the_ringing_call(pair: tuple[Phone, Phone, str]) -> None:
    a, b, target = pair
    incoming: list[Session] = []
    b.on("incoming", incoming.append)
    out = await a.call(target)
    await wait_until(lambda: bool(incoming) and out.status.call_status == "ringing", 10)
    ringing = incoming[0]
    out.hangup()
    await wait_until(lambda: ringing.is_ended, 10)
    assert ringing.end_cause == "Canceled"
    assert b.incoming_list == []


async def test_hold_and_resume_are_negotiated(pair: tuple[Phone, Phone, str]) -> None:
    out, inbound = await talking_call(*pair)
    await out.hold()
    assert out.status.is_hold
    await wait_until(lambda: inbound.status.remote_hold, 5)
    await out.unhold()
    assert not out.status.is_hold
    await wait_until(lambda: not inbound.status.remote_hold, 5)
    out.hangup()


async def test_guards_and_max_calls(pair: tuple[Phone, Phone, str]) -> None:
    a, b, target = pair
    with pytest.raises(AgentConsoleError) as info:
        await a.call("  ")
    assert info.value.code == -209
    incoming: list[Session] = []
    b.on("incoming", incoming.append)
    first = await a.call(target)
    with pytest.raises(AgentConsoleError) as info:
        await a.call(target)  # the first call is still unanswered
    assert info.value.code == -210
    await answer_next(b, incoming)
    await wait_until(lambda: first.status.call_status == "talking", 10)
    second = await a.call(target)  # auto-holds the first call
    assert first.status.is_hold
    await answer_next(b, incoming)
    await wait_until(lambda: second.status.call_status == "talking", 10)
    assert a.is_max_call
    with pytest.raises(AgentConsoleError) as info:
        await a.call(target)
    assert info.value.code == -205
    # b is full too: a third call to it would be answered 486 before any Session exists
    assert len(b.sessions) == 2 and b.is_max_call
    second.hangup()
    first.hangup()


async def test_unknown_call_id_is_211(pair: tuple[Phone, Phone, str]) -> None:
    a, _, _ = pair
    with pytest.raises(AgentConsoleError) as info:
        a.get_session("no-such-call")
    assert info.value.code == -211


async def test_dial_rate_limit_is_208(tmp_path: Path) -> None:
    a, b, target = await make_pair(tmp_path, "calls:\n  dial_rate_limit_s: 30\n")
    try:
        first = await a.call(target)
        first.hangup()
        with pytest.raises(AgentConsoleError) as info:
            await a.call(target)
        assert info.value.code == -208
    finally:
        await a.stop()
        await b.stop()


async def test_full_phone_answers_486_before_any_session(tmp_path: Path) -> None:
    one = "calls:\n  dial_rate_limit_s: 0\n  max_calls: 1\n"
    a, b, target = await make_pair(tmp_path, calls_b=one)
    try:
        incoming: list[Session] = []
        b.on("incoming", incoming.append)
        first = await a.call(target)
        await answer_next(b, incoming)
        await wait_until(lambda: first.status.call_status == "talking", 10)
        second = await a.call(target)
        failed: list[dict[str, object]] = []
        second.on("failed", failed.append)
        await wait_until(lambda: bool(failed), 10)
        assert failed[0]["code"] == 486 and failed[0]["cause"] == "Busy"
        assert incoming == [] and len(b.sessions) == 1
    finally:
        await a.stop()
        await b.stop()


async def test_consult_leg_is_exempt_and_ends_with_its_parent(tmp_path: Path) -> None:
    one = "calls:\n  dial_rate_limit_s: 0\n  max_calls: 1\n"
    a, b, target = await make_pair(tmp_path, calls_a=one)
    try:
        incoming: list[Session] = []
        b.on("incoming", incoming.append)
        parent = await a.call(target)
        await answer_next(b, incoming)
        await wait_until(lambda: parent.status.call_status == "talking", 10)
        assert a.is_max_call
        consult = await a.call(target, transfer_parent=parent.call_id)
        assert parent.status.is_hold  # auto-held before the consult leg
        assert consult.status.is_transfer
        assert consult.status.transfer_parent is not None
        assert consult.status.transfer_parent.call_id == parent.call_id
        await answer_next(b, incoming)
        await wait_until(lambda: consult.status.call_status == "talking", 10)
        with pytest.raises(AgentConsoleError) as info:
            await a.call(target, transfer_parent="gone")
        assert info.value.code == -207
        parent.hangup()
        assert consult.is_ended and a.sessions == {}
    finally:
        await a.stop()
        await b.stop()


async def test_dnd_and_away_refuse_new_calls(pair: tuple[Phone, Phone, str]) -> None:
    a, b, target = pair
    incoming: list[Session] = []
    b.on("incoming", incoming.append)
    changes: list[tuple[str, str | None]] = []
    b.on("agent_state_change", lambda state, reason: changes.append((state, reason)))
    for state, reason, code in (("dnd", None, 486), ("away", "Lunch", 480)):
        b.set_agent_state(state, reason)
        out = await a.call(target)
        failed: list[dict[str, object]] = []
        out.on("failed", failed.append)
        await wait_until(lambda: bool(failed), 10)  # noqa: B023
        assert failed[0]["code"] == code
        assert incoming == []
    assert changes == [("dnd", None), ("away", "Lunch")]
    b.set_agent_state("available")
    with pytest.raises(AgentConsoleError):
        b.set_agent_state("sleeping")
