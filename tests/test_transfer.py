"""Blind and attended transfer between three agentconsole phones in one process over
loopback UDP (no registrar): A is the agent, B the customer, C the colleague. Real SIP
(REFER, NOTIFY, Replaces) and real media; the heard WAVs show who talks to whom."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentconsole import AgentConsoleError, parse_config
from agentconsole.softphone.phone import Phone
from agentconsole.softphone.session import Session
from agentconsole.softphone.transfer_in import TransferRequest
from tests.interop.baresip import wav_peak
from tests.test_two_phones import phone_config
from tests.waiting import frames_flow, wait_until

TONES = {"1001": 440, "1002": 880, "1003": 660}
CALLS = "calls:\n  dial_rate_limit_s: 0\n  max_calls: 2\n"


TransferPhone = Phone


@dataclass
class Trio:
    a: TransferPhone
    b: TransferPhone
    c: TransferPhone
    uri_b: str
    uri_c: str
    incoming: dict[str, list[Session]]
    tmp: Path


async def make_trio(tmp: Path, b_calls: str = CALLS) -> Trio:
    phones = {}
    incoming: dict[str, list[Session]] = {}
    for user in TONES:
        calls = b_calls if user == "1002" else CALLS
        phone = TransferPhone(parse_config(phone_config(tmp, user, TONES[user], calls)))
        await phone.start()
        incoming[user] = []
        phone.on("incoming", incoming[user].append)
        phones[user] = phone

    def uri(user: str) -> str:
        transport = phones[user].transport
        assert transport is not None and transport.local_address is not None
        return f"sip:{user}@127.0.0.1:{transport.local_address[1]}"

    return Trio(phones["1001"], phones["1002"], phones["1003"], uri("1002"), uri("1003"),
                incoming, tmp)


@pytest.fixture
async def trio(tmp_path: Path) -> AsyncIterator[Trio]:
    t = await make_trio(tmp_path)
    try:
        yield t
    finally:
        for phone in (t.a, t.b, t.c):
            await phone.stop()


async def answer_next(t: Trio, user: str) -> Session:
    await wait_until(lambda: bool(t.incoming[user]), 10)
    session = t.incoming[user].pop(0)
    await session.answer()
    return session


async def a_calls_b(t: Trio) -> tuple[Session, Session]:
    out = await t.a.call(t.uri_b)
    inbound = await answer_next(t, "1002")
    await wait_until(lambda: out.status.call_status == "talking", 10)
    return out, inbound


async def heard_both_ways(*sessions: Session, frames: int = 100) -> None:
    """Let each new leg hear ``frames`` more frames (2 s) of the other, so the tail of the
    heard WAVs is the new party alone."""
    await asyncio.gather(*(frames_flow(s.media, frames, 10) for s in sessions))


def tail_peak(path: Path, seconds: float = 1.0) -> tuple[float, float]:
    """Dominant frequency of the last ``seconds`` (minus a short tail) of a heard WAV."""
    with wave.open(str(path), "rb") as w:
        duration = w.getnframes() / w.getframerate()
    return wav_peak(path, start_s=max(0.0, duration - seconds - 0.3), length_s=seconds)


async def stop_all(t: Trio) -> None:
    for phone in (t.a, t.b, t.c):
        await phone.stop()


async def test_blind_transfer_hands_the_customer_to_the_colleague(tmp_path: Path) -> None:
    trusted = CALLS + '  trusted_refer_sources: ["127.0.0.1"]\n'
    t = await make_trio(tmp_path, b_calls=trusted)
    try:
        out, inbound = await a_calls_b(t)
        progress: list[dict[str, object]] = []
        requests: list[TransferRequest] = []
        out.on("transfer_progress", progress.append)
        inbound.on("transfer_request", requests.append)
        assert await out.blind_transfer(t.uri_c)
        await wait_until(lambda: bool(t.incoming["1003"]), 10)
        assert requests and requests[0].trusted and requests[0].replaces is None
        assert requests[0].referred_by is not None and "1001" in requests[0].referred_by
        at_c = await answer_next(t, "1003")
        await wait_until(lambda: out.is_ended, 10)
        assert out.end_cause == "Transferred"
        states = [p["state"] for p in progress]
        assert states[0] == "trying" and states[-1] == "succeeded", states
        assert progress[-1]["status"] == 200 and progress[-1]["call_id"] == out.call_id
        await wait_until(lambda: inbound.is_ended, 10)
        new_b = requests[0].new_session
        assert new_b is not None
        await wait_until(lambda: new_b.status.call_status == "talking", 10)
        assert at_c.status.call_status == "talking"
        assert t.a.sessions == {} and list(t.b.sessions) == [new_b.call_id]
        await heard_both_ways(new_b, at_c)
        await stop_all(t)
        peak, rms = tail_peak(tmp_path / "1003-heard.wav")
        assert rms > 300 and abs(peak - 880) <= 20, (peak, rms)
        peak, rms = tail_peak(tmp_path / "1002-heard.wav")
        assert rms > 300 and abs(peak - 660) <= 20, (peak, rms)
    finally:
        await stop_all(t)


async def test_rejected_refer_keeps_the_call_up(trio: Trio) -> None:
    t = trio
    out, inbound = await a_calls_b(t)
    requests: list[TransferRequest] = []
    inbound.on("transfer_request", lambda r: (requests.append(r), r.reject(603)))
    progress: list[dict[str, object]] = []
    out.on("transfer_progress", progress.append)
    with pytest.raises(AgentConsoleError) as info:
        await out.blind_transfer(t.uri_c, hold=True)
    assert "603" in str(info.value)
    assert len(requests) == 1 and not requests[0].trusted  # not in the trusted list
    assert [p["state"] for p in progress] == ["failed"] and progress[0]["status"] == 603
    await wait_until(lambda: not out.status.is_hold, 10)  # we held it, so we resume it
    assert not out.is_ended and not inbound.is_ended
    assert out.status.call_status == "talking" and t.c.sessions == {}


async def test_failed_target_keeps_the_call_up(trio: Trio) -> None:
    t = trio
    out, inbound = await a_calls_b(t)
    inbound.on("transfer_request", lambda r: asyncio.ensure_future(r.accept()))
    progress: list[dict[str, object]] = []
    out.on("transfer_progress", progress.append)
    assert await out.blind_transfer(t.uri_c)
    await wait_until(lambda: bool(t.incoming["1003"]), 10)
    t.incoming["1003"][0].reject()  # the colleague is busy
    await wait_until(lambda: bool(progress) and progress[-1]["state"] == "failed", 10)
    assert progress[-1]["status"] == 486
    await wait_until(lambda: not inbound.status.is_hold, 10)  # B resumes A
    assert not out.is_ended and not inbound.is_ended


async def test_attended_transfer_connects_customer_and_colleague(trio: Trio) -> None:
    t = trio
    parent, at_b = await a_calls_b(t)
    consult = await t.a.call(t.uri_c, transfer_parent=parent.call_id)
    assert parent.status.is_hold and consult.status.is_transfer
    at_c = await answer_next(t, "1003")
    await wait_until(lambda: consult.status.call_status == "talking", 10)
    requests: list[TransferRequest] = []
    at_b.on("transfer_request", lambda r: (requests.append(r), asyncio.ensure_future(r.accept())))
    replaced: list[dict[str, object]] = []
    t.c.on("replaced", replaced.append)
    progress: list[dict[str, object]] = []
    consult.on("transfer_progress", progress.append)
    # the SDK's form: the phone completes the transfer whose consult leg it is given
    assert await t.a.attended_transfer(consult.call_id, t.uri_c)
    await wait_until(lambda: bool(replaced), 15)
    assert requests and requests[0].replaces is not None
    call_id, _, tags = requests[0].replaces.partition(";")
    assert call_id == consult.leg.call_id  # Replaces names the consult dialog
    assert consult.leg.dialog is not None
    assert f"to-tag={consult.leg.dialog.remote_tag}" in tags
    assert f"from-tag={consult.leg.dialog.local_tag}" in tags
    await wait_until(lambda: parent.is_ended and consult.is_ended and at_c.is_ended, 10)
    assert parent.end_cause == "Transferred"
    assert t.a.sessions == {}
    new_b = requests[0].new_session
    assert new_b is not None
    (new_c,) = t.c.sessions.values()
    assert new_c.replaced_call_id == at_c.call_id
    await wait_until(lambda: new_b.status.call_status == "talking" and at_b.is_ended, 10)
    assert new_c.status.call_status == "talking"
    assert progress and progress[-1]["state"] == "succeeded"
    await heard_both_ways(new_b, new_c)
    await stop_all(t)
    peak, rms = tail_peak(t.tmp / "1003-heard.wav")
    assert rms > 300 and abs(peak - 880) <= 20, (peak, rms)
    peak, rms = tail_peak(t.tmp / "1002-heard.wav")
    assert rms > 300 and abs(peak - 660) <= 20, (peak, rms)


async def test_cancel_and_swap(trio: Trio) -> None:
    t = trio
    parent, _ = await a_calls_b(t)
    consult = await t.a.call(t.uri_c, transfer_parent=parent.call_id)
    at_c = await answer_next(t, "1003")
    await wait_until(lambda: consult.status.call_status == "talking", 10)
    assert parent.status.is_hold and not consult.status.is_hold
    await consult.swap()
    assert not parent.status.is_hold and consult.status.is_hold
    await parent.swap()  # either leg swaps
    assert parent.status.is_hold and not consult.status.is_hold
    await consult.cancel_transfer()
    assert consult.is_ended and not parent.is_ended and not parent.status.is_hold
    await wait_until(lambda: at_c.is_ended, 10)
    with pytest.raises(AgentConsoleError):
        await parent.swap()  # no consult left
    with pytest.raises(AgentConsoleError):
        await parent.attended_transfer()  # not a consult leg


async def test_replaces_for_an_unknown_dialog_is_refused(trio: Trio) -> None:
    t = trio
    out = await t.a.call(t.uri_c, extra_headers=["Replaces: nosuch@x;to-tag=a;from-tag=b"])
    failed: list[dict[str, object]] = []
    out.on("failed", failed.append)
    await wait_until(lambda: bool(failed), 10)
    assert failed[0]["code"] == 481 and t.incoming["1003"] == []


async def test_completing_while_the_target_rings(trio: Trio) -> None:
    t = trio
    parent, at_b = await a_calls_b(t)
    at_b.on("transfer_request", lambda r: asyncio.ensure_future(r.accept()))
    consult = await t.a.call(t.uri_c, transfer_parent=parent.call_id)
    await wait_until(lambda: consult.status.call_status == "ringing", 10)
    progress: list[dict[str, object]] = []
    parent.on("transfer_progress", progress.append)
    # Replaces naming an early dialog the target did not initiate: 481 (RFC 3891 §3)
    assert await consult.attended_transfer()
    await wait_until(lambda: bool(progress) and progress[-1]["state"] == "failed", 10)
    assert progress[-1]["status"] == 481
    assert not parent.is_ended and not consult.is_ended
    # the semi-attended fallback: drop the consult, blind-transfer the parent to C
    assert await consult.attended_transfer(ringing="blind")
    assert consult.is_ended
    await wait_until(lambda: len(t.incoming["1003"]) == 2, 10)
    ringing_consult, from_b = t.incoming["1003"]
    await wait_until(lambda: ringing_consult.is_ended, 10)
    await from_b.answer()
    await wait_until(lambda: parent.is_ended, 10)
    assert parent.end_cause == "Transferred" and t.a.sessions == {}
    assert from_b.status.call_status == "talking"


async def test_hangup_immediately_policy(trio: Trio) -> None:
    t = trio
    out, inbound = await a_calls_b(t)
    inbound.on("transfer_request", lambda r: asyncio.ensure_future(r.accept()))
    assert await out.blind_transfer(t.uri_c, hangup_after="immediately")
    assert out.is_ended and out.end_cause == "Transferred"
    await answer_next(t, "1003")
    await wait_until(lambda: inbound.is_ended, 10)
    assert len(t.b.sessions) == 1
