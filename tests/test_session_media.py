"""DTMF and recording between two agentconsole phones in one process over loopback
(real SIP over UDP, real media: plain RTP, which ``media.profile: auto`` picks on UDP),
using the harness of ``test_two_phones``."""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import wave
from array import array
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentconsole import Phone, parse_config
from agentconsole.media import recorder as rec
from agentconsole.media.tone import dominant_frequency, rms
from agentconsole.softphone.session import Session
from tests.test_two_phones import answer_next, phone_config
from tests.waiting import frames_flow, wait_until

CALLS = "calls:\n  dial_rate_limit_s: 0\n  max_calls: 2\n"


def config(tmp: Path, user: str, tone: int, *, dtmf_mode: str = "auto",
           recording: str = "") -> str:
    text = phone_config(tmp, user, tone, CALLS + recording)
    return text.replace("media:\n", f"media:\n  dtmf_mode: {dtmf_mode}\n", 1)


async def talking_pair(tmp_path: Path, **a_options: str) -> tuple[Phone, Phone, Session,
                                                                  Session]:
    a = Phone(parse_config(config(tmp_path, "1001", 440, **a_options)))
    b = Phone(parse_config(config(tmp_path, "1002", 880)))
    await a.start()
    await b.start()
    assert b.transport is not None and b.transport.local_address is not None
    incoming: list[Session] = []
    b.on("incoming", incoming.append)
    out = await a.call(f"sip:1002@127.0.0.1:{b.transport.local_address[1]}")
    inbound = await answer_next(b, incoming)
    await wait_until(lambda: out.status.call_status == "talking" and out.media.connected, 10)
    await wait_until(lambda: inbound.media.connected, 10)
    return a, b, out, inbound


@pytest.fixture
async def calls(tmp_path: Path, request: pytest.FixtureRequest
                ) -> AsyncIterator[tuple[Session, Session]]:
    options: dict[str, str] = getattr(request, "param", {})
    if "recording" in options:
        options = {**options, "recording": options["recording"].format(tmp=tmp_path)}
    a, b, out, inbound = await talking_pair(tmp_path, **options)
    try:
        yield out, inbound
    finally:
        await a.stop()
        await b.stop()


def digits_of(events: list[dict[str, object]]) -> list[str]:
    return [str(e["digit"]) for e in events]


@pytest.mark.parametrize("calls", [{"dtmf_mode": "rfc4733"}], indirect=True)
async def test_rfc4733_digits_arrive_in_order(calls: tuple[Session, Session]) -> None:
    out, inbound = calls
    got: list[dict[str, object]] = []
    inbound.on("dtmf_received", got.append)
    assert out.media.dtmf_payload_type == 101 and out.dtmf_method() == "rfc4733"
    await frames_flow(inbound.media, 15)  # the audio stream the events ride on is up
    assert await out.dtmf("123#")
    await wait_until(lambda: len(got) >= 4, 5)
    # repeats of the end packets must not add digits: 0.3 s more of the same stream
    await frames_flow(inbound.media, 15)
    assert digits_of(got) == ["1", "2", "3", "#"]
    assert {e["method"] for e in got} == {"rfc4733"}
    assert {e["duration_ms"] for e in got} == {100}
    assert all(e["call_id"] == inbound.call_id for e in got)
    assert out.status.call_status == "talking"


@pytest.mark.parametrize("calls", [{"dtmf_mode": "info"}], indirect=True)
async def test_info_digits_arrive_in_order(calls: tuple[Session, Session]) -> None:
    out, inbound = calls
    got: list[dict[str, object]] = []
    inbound.on("dtmf_received", got.append)
    assert out.dtmf_method() == "info"
    await out.dtmf("123#")
    await wait_until(lambda: len(got) >= 4, 5)
    assert digits_of(got) == ["1", "2", "3", "#"]
    assert {e["method"] for e in got} == {"info"}
    assert {e["duration_ms"] for e in got} == {100}


async def test_auto_mode_uses_rfc4733_when_negotiated(calls: tuple[Session, Session]) -> None:
    out, inbound = calls
    got: list[dict[str, object]] = []
    inbound.on("dtmf_received", got.append)
    out_got: list[dict[str, object]] = []
    out.on("dtmf_received", out_got.append)
    assert inbound.dtmf_method() == "rfc4733"
    await inbound.dtmf("9*")  # the answerer's side sends too
    await out.dtmf("D")
    await wait_until(lambda: len(got) >= 1 and len(out_got) >= 2, 5)
    assert digits_of(got) == ["D"] and digits_of(out_got) == ["9", "*"]
    assert {e["method"] for e in got + out_got} == {"rfc4733"}
    with pytest.raises(Exception, match="DTMF symbol"):
        await out.dtmf("12x")


RECORDING = "recording:\n  directory: \"{tmp}/recordings\"\n"


def channels(path: str) -> tuple[int, list[int], list[int]]:
    with wave.open(path, "rb") as w:
        rate, n = w.getframerate(), w.getnframes()
        assert w.getnchannels() == 2 and w.getsampwidth() == 2
        data = array("h")
        data.frombytes(w.readframes(n))
    return rate, list(data[0::2]), list(data[1::2])


@pytest.mark.parametrize("calls", [{"recording": RECORDING}], indirect=True)
async def test_recording_left_agent_right_customer_with_silent_pause(
        calls: tuple[Session, Session], tmp_path: Path) -> None:
    out, inbound = calls
    statuses: list[str] = []
    out.on("status_change", lambda new, old: statuses.append(new.record_status))
    # Spans are counted in frames of the customer's audio (50 frames = 1 s).
    await wait_until(lambda: min(out.media.frames_received, inbound.media.frames_received)
                     >= 25, 10, "0.5 s of audio both ways")
    loop = asyncio.get_running_loop()
    assert await out.start_record()
    t0 = loop.time()
    assert out.status.record_status == "recording" and out.recording_path
    await frames_flow(out.media, 75)
    assert await out.pause_record()
    t_pause = loop.time() - t0
    assert out.status.record_status == "pause"
    await frames_flow(out.media, 50)
    assert await out.resume_record()
    t_resume = loop.time() - t0
    await frames_flow(out.media, 75)
    assert await out.stop_record()
    span = loop.time() - t0
    assert out.status.record_status == "stop"
    assert statuses[-4:] == ["recording", "pause", "recording", "stop"]
    path = out.recording_path
    assert path is not None and path.startswith(str(tmp_path / "recordings"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    rate, left, right = channels(path)
    assert abs(len(left) / rate - span) <= 0.05
    talk = slice(int(0.4 * rate), int(1.2 * rate))
    assert abs(dominant_frequency(left[talk], rate) - 440) <= 10
    assert abs(dominant_frequency(right[talk], rate) - 880) <= 10
    assert rms(left[talk]) > 1000 and rms(right[talk]) > 1000
    paused = slice(int((t_pause + 0.1) * rate), int((t_resume - 0.1) * rate))
    assert set(left[paused]) == {0} and set(right[paused]) == {0}
    after = slice(int((t_resume + 0.3) * rate), int((t_resume + 1.1) * rate))
    assert abs(dominant_frequency(left[after], rate) - 440) <= 10
    assert abs(dominant_frequency(right[after], rate) - 880) <= 10
    out.hangup()


@pytest.mark.parametrize("calls", [{"recording": RECORDING}], indirect=True)
async def test_hangup_finishes_the_recording(calls: tuple[Session, Session]) -> None:
    out, inbound = calls
    assert await out.start_record()
    assert not await out.start_record()  # already recording
    await frames_flow(out.media, 50)  # 1 s of the customer's audio
    inbound.hangup()
    await wait_until(lambda: out.is_ended, 5)
    await wait_until(lambda: out.status.record_status == "stop", 5)
    assert out.recording_path is not None
    rate, left, _ = channels(out.recording_path)
    assert len(left) / rate >= 0.9


@pytest.mark.parametrize("calls", [{"recording": RECORDING}], indirect=True)
async def test_permission_error_is_shown_and_the_call_goes_on(
        calls: tuple[Session, Session], monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = calls
    errors: list[dict[str, object]] = []
    client: list[dict[str, object]] = []
    out.on("record_error", errors.append)
    out.on("client_error", client.append)

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(rec.os, "open", denied)
    assert not await out.start_record()
    assert errors and "no permission" in str(errors[0]["message"])
    assert client and "Recording" in str(client[0]["cause"])
    assert out.status.record_status == "stop"
    await frames_flow(out.media, 25)  # 0.5 s of the call going on
    assert out.status.call_status == "talking" and not out.is_ended


@pytest.mark.parametrize("calls", [{"recording": RECORDING}], indirect=True)
async def test_disk_full_mid_call_stops_recording_not_the_call(
        calls: tuple[Session, Session], monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = calls
    errors: list[dict[str, object]] = []
    out.on("record_error", errors.append)
    assert await out.start_record()
    path = out.recording_path
    assert path is not None
    # Some audio is on disk before the disk fills (more than the 44-byte header).
    await wait_until(lambda: os.path.getsize(path) > 44, 5, "recorded audio on disk")

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rec.os, "write", full)
    await wait_until(lambda: bool(errors), 3)
    assert "disk is full" in str(errors[0]["message"])
    assert out.status.record_status == "stop"
    frames = out.media.frames_received
    await frames_flow(out.media, 25)  # 0.5 s more of the call
    assert out.status.call_status == "talking" and out.media.frames_received > frames
    monkeypatch.undo()
    assert out.recording_path is not None
    with wave.open(out.recording_path, "rb") as w:
        assert w.getnframes() > 0


FEATURE = ("recording:\n  mode: feature_code\n  feature_codes:\n"
           "    start: \"*1\"\n    pause: \"*2\"\n")


@pytest.mark.parametrize("calls", [{"recording": FEATURE}], indirect=True)
async def test_feature_code_sends_dtmf_and_never_guesses(
        calls: tuple[Session, Session]) -> None:
    out, inbound = calls
    got: list[dict[str, object]] = []
    inbound.on("dtmf_received", got.append)
    assert await out.start_record()
    assert out.status.record_status == "unknown"
    out.pbx_record_feedback("recording")
    assert out.status.record_status == "recording"
    assert await out.pause_record()
    assert await out.stop_record()  # no stop code: the one-touch start code toggles
    await wait_until(lambda: len(got) >= 6, 5)
    assert digits_of(got) == ["*", "1", "*", "2", "*", "1"]
    assert out.status.record_status == "unknown" and out.recording_path is None
