"""Local call recording against a real peer: agentconsole (WS, 440 Hz tone from the file
backend) talks to baresip 1002 (880 Hz ausine) through Kamailio and rtpengine.

The stereo WAV must hold our tone on the left and baresip's on the right, silence
where the recording was paused, last as long as the recording span, be mode 0600 in
the configured directory; and a ``kill -9`` of a recording agent process
(``record_child.py``, registered as 1003) must leave a file ``wave`` can open.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentconsole import Phone, parse_config
from agentconsole.softphone.session import Session

from .baresip import Baresip
from .media_check import SipTrace, Wav, agent_yaml, quiet, read_wav, rms, tone
from .test_calls_baresip import wait_for

pytestmark = pytest.mark.usefixtures("kamailio_rtpengine")

CHILD = Path(__file__).with_name("record_child.py")
LEFT, RIGHT = 0, 1
AGENT_HZ, PEER_HZ = 440, 880
TALK_S, PAUSE_S, RESUMED_S = 3.0, 1.0, 2.0
EDGE_S = 0.25  # keep analysis windows this far from a pause/resume boundary
HEARD = 300  # RMS of a channel carrying a tone (full scale 32767; the tones are ~8000)
SILENT = 30


@pytest.fixture
def baresip(tmp_path: Path) -> Iterator[Baresip]:
    peer = Baresip("1002", tmp_path, answer="auto", tone_hz=PEER_HZ)
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


def assert_tones(wav: Wav, start_s: float, end_s: float, where: str) -> None:
    """Left = our 440 Hz, right = baresip's 880 Hz, in windows across [start, end)."""
    t = start_s
    while t + 0.2 <= end_s:
        for channel, hz in ((LEFT, AGENT_HZ), (RIGHT, PEER_HZ)):
            peak, level = tone(wav, channel, t, 0.2)
            assert level > HEARD and abs(peak - hz) <= 10, (
                f"{where}: channel {channel} at {t:.2f} s: {peak} Hz, RMS {level:.0f}")
        t += 0.6


def record_status(session: Session) -> str:
    return session.status.record_status


def assert_private_file(path: Path, directory: Path) -> None:
    assert path.parent == directory.resolve(), (path, directory)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)


async def test_recording_holds_both_sides_and_a_silent_pause(baresip: Baresip,
                                                             tmp_path: Path) -> None:
    directory = tmp_path / "recordings"
    trace = SipTrace()
    phone = Phone(parse_config(agent_yaml(tmp_path, tone_hz=AGENT_HZ,
                                          recording_dir=directory)), trace=trace)
    states: list[str] = []
    try:
        await phone.start()
        session = await phone.call("1002")
        await wait_for(lambda: session.status.call_status == "talking", 15)
        await wait_for(lambda: session.media.frames_received > 25, 10)
        session.on("status_change", lambda new, old: states.append(new.record_status))

        assert await session.start_record()
        assert record_status(session) == "recording"
        await asyncio.sleep(TALK_S)
        assert await session.pause_record()
        assert record_status(session) == "pause"
        await asyncio.sleep(PAUSE_S)
        assert await session.resume_record()
        await asyncio.sleep(RESUMED_S)
        assert session.hangup()
        await wait_for(lambda: session.status.record_status == "stop", 5)
    finally:
        await phone.stop()
    assert states[:3] == ["recording", "pause", "recording"] and states[-1] == "stop", states
    assert session.recording_path is not None
    path = Path(session.recording_path)
    assert_private_file(path, directory)
    assert [p.name for p in directory.iterdir()] == [path.name]

    wav = read_wav(path)
    assert (wav.channels, wav.rate) == (2, 16000)
    span = TALK_S + PAUSE_S + RESUMED_S
    assert abs(wav.duration_s - span) < 0.5, (wav.duration_s, span)
    evidence = quiet(baresip.log.read_text(errors="replace"))[-1500:]
    assert_tones(wav, 0.3, TALK_S - EDGE_S, f"before the pause\n{evidence}")
    for channel in (LEFT, RIGHT):
        paused = wav.window(channel, TALK_S + EDGE_S, PAUSE_S - 2 * EDGE_S)
        assert rms(paused) < SILENT, f"channel {channel} not silent while paused"
    assert_tones(wav, TALK_S + PAUSE_S + EDGE_S, wav.duration_s - 0.1, "after resume")


async def test_kill_9_during_recording_leaves_a_playable_wav(baresip: Baresip,
                                                             tmp_path: Path) -> None:
    directory = tmp_path / "recordings"
    config = tmp_path / "child.yaml"
    config.write_text(agent_yaml(tmp_path, user="1003", tone_hz=AGENT_HZ,
                                 recording_dir=directory))
    out = tmp_path / "child.out"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(config), "1002", "30"], cwd=tmp_path,
        stdin=subprocess.DEVNULL, stdout=out.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 25
        line = ""
        while not line:
            text = out.read_text(errors="replace")
            line = next((x for x in text.splitlines() if x.startswith(("RECORDING ", "FAILED"))),
                        "")
            assert child.poll() is None or line, f"child exited rc={child.returncode}\n{text}"
            assert time.monotonic() < deadline, f"child never started recording\n{text}"
            await asyncio.sleep(0.05)
        assert line.startswith("RECORDING "), out.read_text(errors="replace")
        await asyncio.sleep(3.0)
        assert child.poll() is None, out.read_text(errors="replace")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(5) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(5)
    baresip.command("hangup")  # the dead agent never sent BYE

    path = Path(line.split(" ", 1)[1])
    assert_private_file(path, directory)
    wav = read_wav(path)  # the header the killed process left must parse
    assert (wav.channels, wav.rate) == (2, 16000)
    assert wav.duration_s >= 1.5, wav.duration_s
    assert wav.duration_s <= 3.5 + 0.2, wav.duration_s
    body = max(0.0, wav.duration_s - 0.2)
    assert rms(wav.window(LEFT, 0.1, body)) > HEARD
    assert rms(wav.window(RIGHT, 0.1, body)) > HEARD
    assert_tones(wav, 0.3, wav.duration_s - 0.2, "killed recording")
