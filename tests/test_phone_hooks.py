"""The library hooks the console uses: audio devices and level meters, trace-hook
removal, ``refused`` and ``missed`` events, auto-Away, and the ring tone on incoming
calls. Device tests use a fake sounddevice module (no sound card on CI); call tests
use two phones over loopback.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agentconsole import Phone, parse_config
from agentconsole.media import audio_base, audio_sd
from agentconsole.media.audio import (
    AudioDeviceError,
    NullBackend,
    SounddeviceBackend,
    ToneBackend,
    rms_dbfs,
)
from agentconsole.media.ringer import RING_TONES
from agentconsole.media.tone import sine
from agentconsole.media.tracks import make_frame
from agentconsole.sip.message import Headers
from agentconsole.sip.uri import parse_name_addr
from agentconsole.softphone.session import Session
from agentconsole.transport.driver import TraceEntry
from tests.media.test_ringer import DEVICES, FakeSounddevice, install_fake_sounddevice
from tests.test_two_phones import make_pair
from tests.waiting import wait_until

BASE = "account:\n  aor: sip:1001@127.0.0.1\n  register: false\n"
TWO_CALLS = "calls:\n  dial_rate_limit_s: 0\n  max_calls: 2\n"
AUTO_AWAY = TWO_CALLS + "agent:\n  auto_away_on_missed: true\n"
SINE_DBFS = 20 * math.log10(0.3 / math.sqrt(2))  # a 0.3 amplitude sine: about -13.5


def phone(audio: str = 'backend: "null"') -> Phone:
    return Phone(parse_config(BASE + "audio:\n  " + audio + "\n"))


# ----- level meters -------------------------------------------------------------------------------

def test_rms_dbfs() -> None:
    assert rms_dbfs(bytes(1920)) == audio_base.SILENCE_DBFS
    assert rms_dbfs(b"") == audio_base.SILENCE_DBFS
    assert abs(rms_dbfs(sine(1000, 960, amplitude=0.3).tobytes()) - SINE_DBFS) < 0.1
    full = (b"\xff\x7f" + b"\x00\x80") * 480  # full-scale square
    assert abs(rms_dbfs(full)) < 0.01


def test_input_level_about_ten_times_a_second() -> None:
    backend = ToneBackend(1000)
    levels: list[tuple[str, float]] = []
    chunk = backend.metered(lambda n: sine(1000, n, amplitude=0.3).tobytes())
    backend.add_level_listener(lambda d, v: levels.append((d, v)))
    for _ in range(50):  # one second of 20 ms frames
        chunk(960)
    assert len(levels) == 10
    assert all(d == "input" and abs(v - SINE_DBFS) < 0.2 for d, v in levels)


def test_output_level_from_played_frames_and_listener_removal() -> None:
    backend = NullBackend()
    levels: list[tuple[str, float]] = []

    def listener(direction: str, dbfs: float) -> None:
        levels.append((direction, dbfs))

    backend.add_level_listener(listener)
    backend.add_level_listener(listener)  # once only
    pcm = sine(440, 960, amplitude=0.3).tobytes()
    for i in range(10):
        backend.play(make_frame(pcm, i * 960))
    assert [d for d, _ in levels] == ["output", "output"]
    assert abs(levels[0][1] - SINE_DBFS) < 0.2
    backend.remove_level_listener(listener)
    backend.remove_level_listener(listener)  # unknown: ignored
    for i in range(10):
        backend.play(make_frame(pcm, i * 960))
    assert len(levels) == 2 and backend.frames_played == 20


def test_nothing_is_measured_without_a_listener(monkeypatch: pytest.MonkeyPatch) -> None:
    measured: list[bytes] = []

    def spy(pcm: bytes) -> float:
        measured.append(pcm)
        return 0.0

    monkeypatch.setattr(audio_base, "rms_dbfs", spy)
    backend = NullBackend()
    chunk = backend.metered(lambda n: bytes(2 * n))
    for i in range(20):
        chunk(960)
        backend.play(make_frame(bytes(1920), i * 960))
    assert measured == []


def test_a_failing_listener_does_not_stop_audio_or_other_listeners() -> None:
    backend = NullBackend()
    got: list[str] = []

    def broken(direction: str, dbfs: float) -> None:
        raise RuntimeError("meter widget gone")

    backend.add_level_listener(broken)
    backend.add_level_listener(lambda d, v: got.append(d))
    backend.play(make_frame(bytes(1920), 0))
    assert got == ["output"] and backend.frames_played == 1


async def test_source_track_feeds_the_input_meter() -> None:
    backend = ToneBackend(700)
    levels: list[tuple[str, float]] = []
    backend.add_level_listener(lambda d, v: levels.append((d, v)))
    track = backend.source_track()
    await track.recv()  # the first frame is measured at once
    track.stop()
    assert levels and levels[0][0] == "input" and abs(levels[0][1] - SINE_DBFS) < 0.2


def test_phone_level_listeners_follow_the_backend() -> None:
    p = phone()
    calls: list[str] = []

    def listener(direction: str, dbfs: float) -> None:
        calls.append(direction)

    p.devices.add_level_listener(listener)  # before the backend exists
    p.devices.open()
    assert p.audio_backend is not None
    p.audio_backend.play(make_frame(bytes(1920), 0))
    assert calls == ["output"]
    p.devices.remove_level_listener(listener)
    p.audio_backend.play(make_frame(bytes(1920), 0))
    assert calls == ["output"]


# ----- audio devices ------------------------------------------------------------------------------

def test_devices_without_a_sound_card(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_portaudio() -> Any:
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(audio_sd, "_sounddevice", no_portaudio)
    p = phone("backend: auto")
    assert p.devices.available() == []
    assert p.devices.rescan() == []
    selection = p.devices.selection()
    assert (selection.input, selection.output, selection.ring) == (None, None, None)
    with pytest.raises(AudioDeviceError) as info:
        p.devices.choose(input="Jabra")
    assert "'null'" in info.value.message and "libportaudio2" in info.value.message
    assert info.value.title == "Audio device"


@pytest.mark.parametrize("audio", ['backend: "null"', "backend: tone"])
def test_non_card_backends_have_no_devices_to_choose(audio: str) -> None:
    with pytest.raises(AudioDeviceError, match="no devices to choose"):
        phone(audio).devices.choose(output=1)


async def test_a_beep_stands_in_for_the_ring_tone_until_restored() -> None:
    """Auto-answer's pips: afterwards the ring device plays what the calls want again,
    the ring tone while one rings, else nothing (not the pips' long quiet cadence)."""
    p = phone()
    backend = p.devices.open()
    await p.devices.beep(seconds=0)
    assert backend.ringing is not None and backend.ringing.name == "beep"
    await p.devices.restore_ring()
    assert backend.ringing is None
    p.devices.ring(True)  # a call rings
    await p.devices.beep(seconds=0)
    assert backend.ringing.name == "beep"
    await p.devices.restore_ring()
    assert backend.ringing == RING_TONES["us"]
    await p.devices.close()


async def test_switch_devices_while_a_call_track_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install_fake_sounddevice(monkeypatch)
    p = phone("backend: auto")
    assert [d.name for d in p.devices.available()] == [d["name"] for d in DEVICES]
    p.devices.open()
    backend = p.audio_backend
    assert isinstance(backend, SounddeviceBackend)
    track = backend.source_track()  # a call in progress
    p.devices.choose(input="jabra", output=1)
    selection = p.devices.selection()
    assert selection.input is not None and selection.input.name == "Jabra Evolve 40"
    assert selection.output is not None and selection.output.index == 1
    assert selection.ring == selection.output
    live = fake.live()
    assert sorted((s.kind, s.device, s.samplerate) for s in live) == \
        [("in", 1, 16000), ("out", 1, 16000)]
    assert all(s.started for s in live) and len(fake.streams) == 4  # the old two closed
    mic = fake.live("in")[0]
    heard = 0
    for _ in range(6):  # the same track now carries the new microphone
        mic.feed(sine(500, 320, rate=16000, amplitude=0.3).tobytes())
        frame = await track.recv()
        pcm = bytes(frame.planes[0])  # type: ignore[union-attr]
        heard = max(heard, max(abs(x) for x in memoryview(pcm).cast("h")))
    track.stop()
    assert heard > 3000
    await backend.close()


def test_an_unknown_device_keeps_the_old_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install_fake_sounddevice(monkeypatch)
    p = phone("backend: sounddevice")
    with pytest.raises(AudioDeviceError, match="Plantronics"):
        p.devices.choose(output="Plantronics")
    selection = p.devices.selection()
    assert selection.output is not None and selection.output.index == 0
    assert sorted(s.device for s in fake.live()) == [0, 0]


def test_a_busy_device_keeps_the_old_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install_fake_sounddevice(monkeypatch)
    p = phone("backend: sounddevice")
    p.devices.open()
    fake.fail_device = 1
    with pytest.raises(AudioDeviceError, match="Device unavailable"):
        p.devices.choose(input=1)
    assert [(s.kind, s.device) for s in fake.live()] == [("in", 0), ("out", 0)]


def test_rescan_finds_a_headset_plugged_in_after_start(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install_fake_sounddevice(monkeypatch, devices=[])
    p = phone("backend: auto")
    notices: list[str] = []
    p.on("audio_notice", notices.append)
    levels: list[str] = []
    p.devices.add_level_listener(lambda d, v: levels.append(d))
    p.devices.open()
    assert isinstance(p.audio_backend, NullBackend) and notices and p.audio_notice
    fake.devices = list(DEVICES)
    found = p.devices.rescan()
    assert len(found) == 3 and fake.inits == 1
    assert isinstance(p.audio_backend, SounddeviceBackend) and p.audio_notice is None
    p.audio_backend.play(make_frame(bytes(1920), 0))
    assert levels == ["output"]  # the listener moved to the new backend
    assert isinstance(p.devices.rescan(), list) and fake.inits == 2  # card: reopen in place


def test_rescan_does_not_replace_an_explicit_null_backend(
        monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_sounddevice(monkeypatch)
    p = phone('backend: "null"')
    p.devices.open()
    p.devices.rescan()
    assert isinstance(p.audio_backend, NullBackend)


# ----- trace hooks --------------------------------------------------------------------------------

def test_remove_trace_hook_before_start() -> None:
    p = phone()
    seen: list[TraceEntry] = []
    p.add_trace_hook(seen.append)
    p.remove_trace_hook(seen.append)  # an equal bound method
    p.remove_trace_hook(seen.append)  # unknown: ignored
    assert p.connection.trace_hooks == []


async def test_removed_trace_hook_sees_nothing_more(tmp_path: Path) -> None:
    a, b, target = await make_pair(tmp_path)
    try:
        first: list[TraceEntry] = []
        second: list[TraceEntry] = []

        def once(entry: TraceEntry) -> None:
            first.append(entry)
            a.remove_trace_hook(once)  # removing itself mid-dispatch

        a.add_trace_hook(once)
        a.add_trace_hook(second.append)
        b.on("incoming", lambda s: s.reject())
        out = await a.call(target)
        await wait_until(lambda: out.is_ended, 10)
        assert len(first) == 1 and first[0] is second[0]
        assert len(second) >= 3  # INVITE, 486, ACK at least: the other hook was not skipped
    finally:
        await a.stop()
        await b.stop()


# ----- refused ------------------------------------------------------------------------------------

def fake_invite(sdp: bytes | None = None) -> SimpleNamespace:
    headers = Headers([("P-Asserted-Identity", '"Ann Caller" <sip:+15551234@pbx.example>')])
    leg = SimpleNamespace(call_id="c-1", request_headers=headers, remote_sdp=sdp,
                          remote_identity=parse_name_addr("<sip:anon@pbx.example>"))
    return SimpleNamespace(leg=leg)


def refused_by(p: Phone, event: SimpleNamespace) -> tuple[list[dict[str, Any]], list[Any]]:
    refused: list[dict[str, Any]] = []
    p.on("refused", refused.append)
    actions: list[Any] = []
    p.signal = actions.append  # type: ignore[method-assign, assignment]
    p._ring(event)  # type: ignore[arg-type]
    return refused, actions


@pytest.mark.parametrize(("state", "reason", "code", "text"), [
    ("dnd", None, 486, "Do not disturb"),
    ("away", "Lunch", 480, "Away (Lunch)"),
    ("offline", None, 480, "Offline"),
    ("acw", None, 486, "After-call work"),
])
def test_refused_by_agent_state(state: str, reason: str | None, code: int, text: str) -> None:
    p = phone()
    p.set_agent_state(state, reason)
    refused, actions = refused_by(p, fake_invite())
    assert refused == [{"call_id": "c-1", "number": "+15551234", "name": "Ann Caller",
                        "code": code, "reason": text}]
    assert len(actions) == 1 and p.sessions == {}


def test_acw_lets_calls_ring_when_acw_code_is_null() -> None:
    p = Phone(parse_config(BASE + 'audio:\n  backend: "null"\nagent:\n  acw_code: null\n'))
    p.set_agent_state("acw")
    assert p.policy.refusal() is None
    p.set_agent_state("dnd")
    assert p.policy.refusal() == (486, "Do not disturb")


def test_refused_when_full_and_for_media_we_cannot_serve() -> None:
    p = phone()
    busy = SimpleNamespace(status=SimpleNamespace(is_transfer=False))
    p.sessions.update({"x": busy, "y": busy})  # type: ignore[dict-item]
    refused, _ = refused_by(p, fake_invite())
    assert refused[0]["code"] == 486 and refused[0]["reason"] == "Busy: 2 calls already"
    p = phone()
    keyless = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" \
              b"m=audio 4000 RTP/SAVP 0\r\n"  # SRTP without an SDES key: nothing to decrypt
    refused, _ = refused_by(p, fake_invite(keyless))
    assert refused[0]["code"] == 488 and refused[0]["reason"].startswith("Incompatible media")
    assert "no SRTP crypto suite" in refused[0]["reason"]


async def test_refused_over_the_wire(tmp_path: Path) -> None:
    a, b, target = await make_pair(tmp_path)
    try:
        refused: list[dict[str, Any]] = []
        b.on("refused", refused.append)
        b.set_agent_state("dnd")
        out = await a.call(target)
        await wait_until(lambda: bool(refused) and out.is_ended, 10)
        assert refused[0]["number"] == "1001" and refused[0]["code"] == 486
        assert refused[0]["call_id"] == out.call_id
    finally:
        await a.stop()
        await b.stop()


# ----- missed, auto-Away and the ring tone --------------------------------------------------------

async def ringing_call(a: Phone, b: Phone, target: str) -> tuple[Session, Session]:
    incoming: list[Session] = []
    b.on("incoming", incoming.append)
    out = await a.call(target)
    await wait_until(lambda: bool(incoming) and out.status.call_status == "ringing", 10)
    return out, incoming[0]


async def test_caller_cancel_is_missed_rings_then_stops(tmp_path: Path) -> None:
    a, b, target = await make_pair(tmp_path, calls_b=AUTO_AWAY)
    try:
        missed: list[dict[str, Any]] = []
        b.on("missed", missed.append)
        out, ringing = await ringing_call(a, b, target)
        assert b.ringing and b.audio_backend is not None
        assert b.audio_backend.ringing is RING_TONES["us"]  # file backend: would ring
        out.hangup()
        await wait_until(lambda: ringing.is_ended, 10)
        assert missed == [{"call_id": ringing.call_id, "number": "1001", "name": "1001",
                           "cause": "Canceled"}]
        assert not b.ringing and b.audio_backend.ringing is None
        assert b.agent_state == "available"  # only a ring-out makes the agent Away
    finally:
        await a.stop()
        await b.stop()


async def test_no_answer_is_missed_and_makes_the_agent_away(tmp_path: Path) -> None:
    a, b, target = await make_pair(tmp_path, calls_b=AUTO_AWAY)
    try:
        missed: list[dict[str, Any]] = []
        b.on("missed", missed.append)
        states: list[tuple[str, str | None]] = []
        b.on("agent_state_change", lambda s, r: states.append((s, r)))
        failed: list[dict[str, Any]] = []
        out, ringing = await ringing_call(a, b, target)
        out.on("failed", failed.append)
        assert ringing.no_answer_armed  # calls.no_answer_s armed the timer
        b._no_answer(ringing)  # what the timer does when it fires
        assert missed[0]["cause"] == "No Answer" and missed[0]["call_id"] == ringing.call_id
        assert (b.agent_state, b.agent_reason) == ("away", "Missed call")
        assert states == [("away", "Missed call")]
        assert not b.ringing
        await wait_until(lambda: bool(failed), 10)
        assert failed[0]["code"] == 480
    finally:
        await a.stop()
        await b.stop()


async def test_no_auto_away_by_default_nor_when_declined(tmp_path: Path) -> None:
    a, b, target = await make_pair(tmp_path)
    try:
        missed: list[dict[str, Any]] = []
        b.on("missed", missed.append)
        out, ringing = await ringing_call(a, b, target)
        b._no_answer(ringing)
        assert missed and b.agent_state == "available"
        await wait_until(lambda: out.is_ended, 10)
        out, ringing = await ringing_call(a, b, target)
        ringing.reject()  # the agent declined: not missed
        assert len(missed) == 1
    finally:
        await a.stop()
        await b.stop()


async def test_answering_the_last_ringing_call_stops_the_ring(tmp_path: Path) -> None:
    a, b, target = await make_pair(tmp_path)
    try:
        out, ringing = await ringing_call(a, b, target)
        assert b.ringing
        await ringing.answer()
        assert not b.ringing and b.audio_backend is not None
        assert b.audio_backend.ringing is None and b.audio_backend.ring_starts == 1
        await wait_until(lambda: out.status.call_status == "talking", 10)
        out.hangup()
        await wait_until(lambda: ringing.is_ended, 10)
        assert b.audio_backend.ring_starts == 1
    finally:
        await a.stop()
        await b.stop()


async def test_stop_silences_the_ringer(tmp_path: Path) -> None:
    a, b, target = await make_pair(tmp_path)
    try:
        _, _ = await ringing_call(a, b, target)
        backend = b.audio_backend
        assert backend is not None and backend.ringing is RING_TONES["us"]
    finally:
        await a.stop()
        await b.stop()
    assert backend.ringing is None and not b.ringing


def test_fake_sounddevice_is_what_the_backend_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install_fake_sounddevice(monkeypatch)
    assert isinstance(fake, FakeSounddevice) and audio_sd._sounddevice() is fake
