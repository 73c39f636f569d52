"""The phone outlives its terminal, over real SSH (issue 15).

The console runs through ``ssh -t`` to a loopback sshd, inside tmux, sending a looped
660 Hz WAV as the agent's voice. baresip (1001) calls the agent through the rig
(Kamailio + rtpengine) and the agent answers by key. Then the SSH client is SIGKILLed:

- the call stays up — baresip keeps receiving our RTP (its end-of-call packet count
  and the tone in its recording well past the kill), the history row stays open;
- while nobody is attached the agent is Away ("detached"): a call from 1002 is refused
  with 480 and filed in the history as turned away;
- a new ``ssh -t … agentconsole attach``, at another terminal size, shows the call with
  its talk timer still counting and the agent Available again; hold and hang-up work by
  key and baresip sees the BYE; ctrl+q ends the phone and the SSH session with status 0,
  leaving no holder behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ..interop.baresip import Baresip, wav_peak
from ..interop.media_check import baresip_rtp_stats
from ..interop.polling import poll_until
from ..interop.rig import Kamailio
from .conftest import console_yaml
from .remote_steps import (
    console_over_ssh,
    history_rows,
    kill_and_wait,
    runtime_dir,  # noqa: F401  (fixture)
    ssh_client_pid,
    sshd,  # noqa: F401  (fixture)
)
from .sshd import Sshd
from .steps import console_log, header, ring_and_answer, talk_seconds, wait_exit
from .term import TmuxTerm

pytestmark = pytest.mark.interop

PACKETS_PER_S = 50  # 20 ms packets
TONE_HZ = 660  # console_yaml's agent voice


def wait_text(path: Path, text: str, timeout: float) -> str:
    def said() -> str | None:
        content = path.read_text(errors="replace") if path.exists() else ""
        return content if text in content else None

    return poll_until(said, timeout, f"{path.name} to say {text!r}")


def heard_seconds(recording: Path) -> float:
    """Seconds of audio baresip's sndfile recording holds so far (its size on disk: the
    header's lengths are only patched at the end), 16-bit samples."""
    with recording.open("rb") as handle:
        fmt = handle.read(44)
    channels = int.from_bytes(fmt[22:24], "little")
    rate = int.from_bytes(fmt[24:28], "little")
    return max(0, recording.stat().st_size - 44) / (2 * channels * rate)


def test_call_survives_killed_ssh_client_and_comes_back_on_attach(
    kamailio_rtpengine: Kamailio, sshd: Sshd, tmp_path: Path,  # noqa: F811
    runtime_dir: Path,  # noqa: F811
    term_factory: Callable[..., TmuxTerm],
) -> None:
    config = console_yaml(tmp_path)  # a looped 660 Hz WAV as the agent's voice
    holder_log = tmp_path / "state" / "agentconsole" / "holder.log"
    first = term_factory(100, 30)
    first.logs += [console_log(tmp_path), holder_log, sshd.log]
    first.start(console_over_ssh(sshd, tmp_path, runtime_dir, config))
    screen = first.wait_for("Registered", 25, "registered over ssh")
    assert "Available" in header(screen) and "⇄ attached" in header(screen), screen
    peer = Baresip("1001", tmp_path, tone_hz=440)
    other = Baresip("1002", tmp_path)
    peer.start()
    try:
        ring_and_answer(first, peer)
        established = time.monotonic()
        screen = first.wait_for(lambda s: (talk_seconds(s) or 0) >= 2, 5, "talking 2 s")
        first.snapshot("talking-before-the-kill")

        killed = kill_and_wait(ssh_client_pid(int(first.pane("#{pane_pid}"))))
        talk_at_kill = int(killed - established)
        wait_text(holder_log, "detached (hangup)", 15)
        open_rows = [r for r in history_rows(tmp_path) if r["number"] == "1001"]
        assert len(open_rows) == 1 and open_rows[0]["ended_at"] is None, open_rows

        other.start()  # a new caller while nobody sees the screen
        other.command("dial", "sip:1004@127.0.0.1")
        other.wait_log("session closed: 480", 10)
        refused = [r for r in history_rows(tmp_path) if r["number"] == "1002"]
        assert len(refused) == 1 and refused[0]["disposition"] == "refused", refused
        assert refused[0]["end_code"] == 480 and "detached" in str(refused[0]["end_cause"])

        # Six seconds of media unattended, measured in what baresip heard (media's own clock).
        recording = peer.received_wavs()[-1]
        poll_until(lambda: heard_seconds(recording) >= talk_at_kill + 6, 20,
                   "six seconds of our audio at baresip after the kill")
        assert history_rows(tmp_path)[0]["ended_at"] is None  # still the open call

        second = term_factory(112, 26)  # another terminal, another size
        second.logs += [console_log(tmp_path), holder_log]
        attaching = time.monotonic()
        second.start(console_over_ssh(sshd, tmp_path, runtime_dir, config, "attach"))
        screen = second.wait_for(
            lambda s: "TALKING" in s and (talk_seconds(s) or 0) >= talk_at_kill + 6
            and "Available" in header(s) and "⇄ attached" in header(s), 15,
            "the call, its talk timer past the time away, the agent Available again")
        redrawn = time.monotonic() - attaching  # ssh connect + attach + full redraw
        second.snapshot("reattached")
        assert len(screen.splitlines()[1].rstrip()) == 112, screen  # drawn at the new width
        counted = talk_seconds(screen) or 0
        second.wait_for(lambda s: (talk_seconds(s) or 0) >= counted + 2, 5, "timer counting")

        second.send("Space")
        second.wait_for(lambda s: "HELD" in s and "Hold 00:" in s, 5, "HELD badge")
        peer.wait_log("call: got re-INVITE", 5)
        second.snapshot("held")
        second.send("h")
        second.wait_for("again to hang up", 3, "hang-up confirmation")
        second.send("h")
        text = peer.wait_log("Receive:", 10)  # baresip got the BYE, printed its summary
        second.wait_for(lambda s: "Wrap-up" in s, 10, "wrap-up form")

        stats = baresip_rtp_stats(text)
        unattended = killed + 5 - established
        assert stats.rx >= 0.8 * PACKETS_PER_S * unattended, (stats, unattended)
        recording = peer.received_wavs()[-1]
        hz, level = wav_peak(recording, start_s=talk_at_kill + 4, length_s=1.0)
        assert abs(hz - TONE_HZ) <= 10 and level > 300, (hz, level)

        second.send("Escape")  # wrap-up later
        second.wait_gone("Wrap-up", 5)
        second.send("C-q")
        assert wait_exit(second, 20) == ("0", ""), second.capture()
    finally:
        peer.stop()
        other.stop()
    print(f"\nSSH client killed {talk_at_kill} s into the call; re-attached screen complete "
          f"{redrawn:.1f} s after `ssh -t … agentconsole attach` started; baresip received "
          f"{stats.rx} packets, {hz:.0f} Hz at {talk_at_kill + 4} s into its recording")
    assert not list((runtime_dir / "agentconsole").glob("console-*")), "holder left behind"
    assert "the console exited with status 0" in holder_log.read_text()
