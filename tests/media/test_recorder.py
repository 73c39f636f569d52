"""The recorder's frame clock, pause/resume timeline, crash-safe header, file names and
error handling, driven by an injected clock (no sleeps)."""

from __future__ import annotations

import errno
import os
import stat
import struct
import wave
from array import array
from pathlib import Path

import pytest

from agentconsole.media import recorder as rec
from agentconsole.media.recorder import (
    FRAME_SAMPLES,
    LEFT,
    RATE,
    RIGHT,
    FrameTap,
    Recorder,
    create_file,
    recording_name,
    sanitize,
)
from agentconsole.media.tone import ToneGenerator, dominant_frequency
from agentconsole.media.tracks import make_frame

START = 1000.0


def marked(value: int) -> bytes:
    """One 20 ms frame whose every sample is ``value``: its slot can be checked exactly."""
    return array("h", [value] * FRAME_SAMPLES).tobytes()


def new_recorder(tmp_path: Path, errors: list[str] | None = None) -> Recorder:
    fd, path = create_file(str(tmp_path / "rec"), "test.wav")
    return Recorder(fd, path, START, on_error=(errors.append if errors is not None else None))


def run(r: Recorder, until: float, *, paused: tuple[float, float] | None = None,
        right_missing: tuple[float, float] | None = None, start_slot: int = 0) -> None:
    """Feed slot k with +k+1 (left) and -(k+1) (right) at its own time, ticking as we go."""
    slot = start_slot
    while START + slot * 0.02 < until - 1e-9:
        now = START + slot * 0.02
        if paused and abs(now - paused[0]) < 1e-9:
            r.pause(now)
        if paused and abs(now - paused[1]) < 1e-9:
            r.resume(now)
        r.push(LEFT, marked(slot + 1), now)
        if not (right_missing and right_missing[0] <= now - START < right_missing[1]):
            r.push(RIGHT, marked(-(slot + 1)), now)
        r.tick(now + 0.001)
        slot += 1


def read_wav(path: str) -> tuple[wave._wave_params, list[int], list[int]]:
    with wave.open(path, "rb") as w:
        params = w.getparams()
        data = array("h")
        data.frombytes(w.readframes(params.nframes))
    return params, list(data[0::2]), list(data[1::2])


def slot_values(channel: list[int], slot: int) -> set[int]:
    return set(channel[slot * FRAME_SAMPLES:(slot + 1) * FRAME_SAMPLES])


def test_frames_land_in_their_slots_and_channels_align(tmp_path: Path) -> None:
    r = new_recorder(tmp_path)
    run(r, START + 2.0, right_missing=(1.0, 1.2))
    r.stop(START + 2.0)
    params, left, right = read_wav(r.path)
    assert (params.nchannels, params.sampwidth, params.framerate) == (2, 2, RATE)
    assert params.nframes == 100 * FRAME_SAMPLES  # 2.0 s exactly
    for slot in range(100):
        assert slot_values(left, slot) == {slot + 1}
        expected = {0} if 50 <= slot < 60 else {-(slot + 1)}  # lost frames are silence
        assert slot_values(right, slot) == expected


def test_pause_resume_writes_silence_and_keeps_the_span(tmp_path: Path) -> None:
    r = new_recorder(tmp_path)
    run(r, START + 3.0, paused=(START + 1.0, START + 2.0))
    assert r.state == "recording"
    r.stop(START + 3.0)
    params, left, right = read_wav(r.path)
    assert abs(params.nframes / RATE - 3.0) <= 0.02  # duration == span ±1 frame
    for slot in range(150):
        if 50 <= slot < 100:
            assert slot_values(left, slot) == {0} == slot_values(right, slot)
        else:  # sample-exact at both edges: nothing dropped, doubled or shifted
            assert slot_values(left, slot) == {slot + 1}, slot
            assert slot_values(right, slot) == {-(slot + 1)}, slot


def test_stop_while_paused_and_nothing_fed(tmp_path: Path) -> None:
    r = new_recorder(tmp_path)
    r.pause(START + 0.5)
    assert r.state == "pause"
    r.tick(START + 1.0)
    r.stop(START + 1.53)
    params, left, right = read_wav(r.path)
    assert abs(params.nframes / RATE - 1.53) <= 0.02
    assert set(left) == {0} == set(right)
    assert r.state == "stop"
    r.stop(START + 5)  # idempotent
    assert read_wav(r.path)[0].nframes == params.nframes


def test_backlog_is_capped_so_channels_stay_aligned(tmp_path: Path) -> None:
    r = new_recorder(tmp_path)
    for k in range(50):  # a burst of one second of audio at once on the right only
        r.push(RIGHT, marked(-(k + 1)), START)
    r.tick(START + 0.2)
    r.stop(START + 0.2)
    _, _, right = read_wav(r.path)
    assert len(right) == 10 * FRAME_SAMPLES
    assert slot_values(right, 0) != {-1}  # stale audio was dropped, not queued for later


def test_header_is_valid_mid_call_as_after_kill_9(tmp_path: Path) -> None:
    r = new_recorder(tmp_path)
    run(r, START + 2.5)  # no stop(): the file is read as a killed process leaves it
    with open(r.path, "rb") as f:
        raw = f.read()
    riff, data_size = struct.unpack_from("<I", raw, 4)[0], struct.unpack_from("<I", raw, 40)[0]
    assert riff == 36 + data_size and 44 + data_size <= len(raw)
    params, left, _ = read_wav(r.path)
    elapsed = 2.5
    assert params.nframes / RATE >= elapsed - 1.0
    assert slot_values(left, 10) == {11}
    r.stop(START + 2.5)


def test_header_rewritten_at_least_every_second(tmp_path: Path) -> None:
    r = new_recorder(tmp_path)
    sizes = []
    for step in range(1, 31):
        now = START + step * 0.1
        r.push(LEFT, marked(1) * 5, now)
        r.tick(now)
        with wave.open(r.path, "rb") as w:
            sizes.append((now - START, w.getnframes() / RATE))
    assert all(t - d <= 1.0 for t, d in sizes), sizes
    r.stop(START + 3.0)


def test_tap_converts_av_frames_to_16k(tmp_path: Path) -> None:
    r = new_recorder(tmp_path)
    clock = [START]
    tap = FrameTap(r, LEFT, clock=lambda: clock[0])
    tone = ToneGenerator(440)
    for k in range(50):
        clock[0] = START + k * 0.02
        tap(make_frame(tone.next_chunk(960), k * 960))
        r.tick(clock[0])
    r.stop(START + 1.0)
    _, left, right = read_wav(r.path)
    assert abs(dominant_frequency(left[4000:], RATE) - 440) <= 5
    assert set(right) == {0}


# ----- names, files, permissions -------------------------------------------------------------
@pytest.mark.parametrize("number", [
    "../../etc/x", "/etc/passwd", "..", "a\x00b\nc\x1b[31m", "%2e%2e%2f", "\u202e1001",
    "x" * 200, "",
])
def test_names_cannot_escape_the_directory(tmp_path: Path, number: str) -> None:
    name = recording_name(1_700_000_000.0, "inbound", number, "../../call-id@evil/\x00")
    stem = name[:-4]
    assert name.endswith(".wav") and "/" not in name and ".." not in name
    assert all(c.isalnum() or c in "+_-" for c in stem) and stem.isascii()
    parts = stem.split("_")
    assert parts[1] == "inbound" and len(parts[2]) <= 32 and len(parts[3]) == 10
    fd, path = create_file(str(tmp_path / "recs"), name)
    os.close(fd)
    assert os.path.dirname(path) == str((tmp_path / "recs").resolve())


def test_sanitize() -> None:
    assert sanitize("+49 (30) 1234-5678") == "+49301234-5678"
    assert sanitize("../../etc/x") == "etcx"


def test_file_and_directory_modes(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "recordings"
    old = os.umask(0)
    try:
        fd, path = create_file(str(directory), "a.wav")
        os.close(fd)
        fd2, path2 = create_file(str(directory), "a.wav")  # never overwrites
        os.close(fd2)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert path2.endswith("a-2.wav") and path != path2


def test_symlinked_name_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_text("keep")
    directory = tmp_path / "recs"
    directory.mkdir()
    (directory / "a.wav").symlink_to(target)
    fd, path = create_file(str(directory), "a.wav")
    os.close(fd)
    assert path.endswith("a-2.wav") and target.read_text() == "keep"


def test_permission_denied_on_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(rec.os, "open", denied)
    with pytest.raises(OSError) as info:
        create_file(str(tmp_path), "a.wav")
    assert "no permission" in rec.RecordingError.describe(info.value, "/x/a.wav")


def test_disk_full_stops_recording_and_keeps_the_file_valid(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[str] = []
    r = new_recorder(tmp_path, errors)
    run(r, START + 1.0)
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rec.os, "write", full)
    run(r, START + 2.0, start_slot=50)
    monkeypatch.setattr(rec.os, "write", real_write)
    assert r.state == "stop" and len(errors) == 1 and "disk is full" in errors[0]
    r.push(LEFT, marked(1), START + 2.0)  # ignored after the error
    r.stop(START + 2.5)
    params, left, _ = read_wav(r.path)
    assert 0.9 <= params.nframes / RATE <= 1.0
    assert slot_values(left, 5) == {6}


def test_jitter_within_the_allowance_keeps_slots_exact(tmp_path: Path) -> None:
    r = new_recorder(tmp_path)
    delays = [0.0, 0.03, 0.01, 0.035, 0.0, 0.02]
    for slot in range(100):
        now = START + slot * 0.02
        r.push(LEFT, marked(slot + 1), now)
        r.push(RIGHT, marked(-(slot + 1)), now + delays[slot % len(delays)])
        r.tick(now + 0.001)
    r.stop(START + 2.0)
    _, left, right = read_wav(r.path)
    for slot in range(100):
        assert slot_values(left, slot) == {slot + 1}
        assert slot_values(right, slot) == {-(slot + 1)}, slot


def test_audio_starting_late_lands_at_its_arrival_time(tmp_path: Path) -> None:
    r = new_recorder(tmp_path)
    for slot in range(25, 50):  # the customer's audio starts 0.5 s in
        r.push(RIGHT, marked(-(slot + 1)), START + slot * 0.02)
        r.tick(START + slot * 0.02)
    r.stop(START + 1.0)
    _, _, right = read_wav(r.path)
    assert slot_values(right, 24) == {0} and slot_values(right, 25) == {-26}
