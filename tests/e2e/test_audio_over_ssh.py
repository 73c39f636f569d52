"""Audio over SSH (issue 15): the agent's sound server, forwarded through the SSH tunnel.

A real PulseAudio daemon (tests/e2e/pulse.py) stands for the agent's desktop: a null
sink ``speaker`` (the headset; we record its monitor) and a ``mic`` sink whose monitor is
the default source (a tone played into it is the agent's voice). The console runs
through ``ssh -t -R <remote socket>:<daemon socket>`` — the socket forward a user sets
up — with ``PULSE_SERVER=unix:<remote socket>`` on the remote side and ``audio.backend:
auto``. baresip (1001, 440 Hz) calls through the rig; the agent answers by key.

- the header says where audio goes ("audio: pulse via SSH tunnel");
- the devices screen lists the server's sink and source;
- the caller's 440 Hz is captured from the speaker's monitor;
- 1200 Hz played into the virtual microphone reaches baresip (its recording).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..interop.baresip import Baresip, dominant_frequency, wav_peak
from ..interop.rig import Kamailio
from .conftest import console_yaml
from .pulse import RATE, PulseServer
from .remote_steps import console_over_ssh, runtime_dir, sshd  # noqa: F401  (fixtures)
from .sshd import Sshd
from .steps import console_log, header, ring_and_answer, wait_exit
from .term import TmuxTerm

pytestmark = pytest.mark.interop

PEER_HZ = 440
MIC_HZ = 1200


@pytest.fixture
def pulse(tmp_path: Path) -> Iterator[PulseServer]:
    work = tmp_path / "pulse"
    work.mkdir()
    server = PulseServer(work)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_call_heard_and_spoken_through_a_forwarded_sound_server(
    kamailio_rtpengine: Kamailio, sshd: Sshd, pulse: PulseServer,  # noqa: F811
    tmp_path: Path, runtime_dir: Path, term_factory: Callable[..., TmuxTerm],  # noqa: F811
) -> None:
    tunnel_end = runtime_dir / "pulse-tunnel.sock"  # what ssh -R makes on the remote side
    config = console_yaml(tmp_path, backend="auto")
    term = term_factory(120, 30)  # room for the whole header
    term.logs += [console_log(tmp_path), pulse.log, sshd.log]
    term.start(console_over_ssh(
        sshd, tmp_path, runtime_dir, config, extra_env={"PULSE_SERVER": f"unix:{tunnel_end}"},
        ssh_options=["-R", f"{tunnel_end}:{pulse.socket}", "-o", "ExitOnForwardFailure=yes"]))
    screen = term.wait_for(lambda s: "Registered" in s
                           and "audio: pulse via SSH tunnel" in header(s), 25,
                           "registered, audio through the tunnel")
    assert "no audio device" not in screen, screen
    term.snapshot("pulse-via-ssh")

    term.send("F4")
    screen = term.wait_for(lambda s: "Headset" in s and "Microphone-feed" in s, 10,
                           "the server's sink and source on the devices screen")
    term.snapshot("devices")
    term.send("Escape")
    term.wait_gone("Audio devices", 5)

    pulse.play_into_mic(MIC_HZ)
    peer = Baresip("1001", tmp_path, tone_hz=PEER_HZ)
    peer.start()
    try:
        ring_and_answer(term, peer)
        term.wait_for(lambda s: "Talk 00:02" in s, 6, "two seconds of talk")
        heard = array("h", pulse.record_speaker(2.0))
        assert len(heard) >= RATE, "the speaker monitor gave less than a second"
        hz, level = dominant_frequency(heard, RATE)
        assert abs(hz - PEER_HZ) <= 10 and level > 300, (hz, level)

        term.send("h")
        term.wait_for("again to hang up", 3, "hang-up confirmation")
        term.send("h")
        peer.wait_log("Receive:", 10)
        said_hz, said_level = wav_peak(peer.received_wavs()[-1], start_s=1.0, length_s=1.0)
        assert abs(said_hz - MIC_HZ) <= 10 and said_level > 300, (said_hz, said_level)
        term.wait_for("Wrap-up", 10, "wrap-up form")
        term.send("Escape")
        term.wait_gone("Wrap-up", 5)
        term.send("C-q")
        assert wait_exit(term, 20) == ("0", ""), term.capture()
    finally:
        peer.stop()
    print(f"\ncaller heard through the tunnel: {hz:.0f} Hz (RMS {level:.0f}); "
          f"agent's microphone at the caller: {said_hz:.0f} Hz (RMS {said_level:.0f})")


async def test_audio_comes_back_with_the_sound_server(pulse: PulseServer) -> None:
    """The tunnel drops with the SSH session and comes back with the next one: the
    backend reports the loss and plays again on its own once the server answers."""
    import asyncio

    from agentconsole.media.audio_pulse import PulseBackend
    from agentconsole.media.tone import sine
    from agentconsole.media.tracks import make_frame
    from tests.waiting import wait_until

    backend = PulseBackend(pulse.server, rate=16000, latency_ms=40)
    stop = asyncio.Event()

    async def caller_speaks() -> None:  # 20 ms frames of 440 Hz, as a call plays them
        loop = asyncio.get_running_loop()
        start, n = loop.time(), 0
        while not stop.is_set():
            backend.play(make_frame(sine(PEER_HZ, 960, 48000, 0.5, start=960 * n).tobytes(),
                                    960 * n))
            n += 1
            await asyncio.sleep(max(0.0, start + n * 0.02 - loop.time()))

    def heard() -> float:
        samples = array("h", pulse.record_speaker(0.5))
        return dominant_frequency(samples, RATE)[0] if samples else 0.0

    speaking = asyncio.ensure_future(caller_speaks())
    loop = asyncio.get_running_loop()
    try:
        await wait_until(lambda: backend.reachable, 5, "the server to answer")
        assert abs(await loop.run_in_executor(None, heard) - PEER_HZ) <= 10
        pulse.stop()  # the tunnel is gone
        await wait_until(lambda: backend.reachable is False, 5, "the loss noticed")
        assert "does not answer" in (backend.notice or "")
        pulse.start()  # the agent is back, and so is the tunnel
        await wait_until(lambda: backend.reachable and backend.streams_opened >= 2, 10,
                         "the stream reopened")
        assert backend.notice is None
        assert abs(await loop.run_in_executor(None, heard) - PEER_HZ) <= 10
    finally:
        stop.set()
        await speaking
        await backend.close()
