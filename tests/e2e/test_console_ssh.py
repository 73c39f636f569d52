"""The same console reached through ``ssh -t`` to a loopback sshd, inside tmux: the queue
shows baresip's call, ``a`` answers it, ctrl+q (confirmed) hangs up and quits cleanly.

The console runs with ``audio.backend: auto`` on a machine without a sound card, so the
header must also say "no audio device" once the call's audio opens.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ..interop.baresip import Baresip
from ..interop.rig import Kamailio
from .conftest import console_binary, console_yaml, home_env
from .remote_steps import sshd  # noqa: F401  (fixture)
from .sshd import Sshd
from .steps import console_log, header, ring_and_answer, wait_exit
from .term import TmuxTerm

pytestmark = pytest.mark.interop


def test_console_over_ssh_answers_and_quits(
    kamailio_rtpengine: Kamailio, sshd: Sshd, tmp_path: Path,  # noqa: F811
    term_factory: Callable[..., TmuxTerm],
) -> None:
    config = console_yaml(tmp_path, backend="auto")
    remote = ["env", *(f"{k}={v}" for k, v in home_env(tmp_path).items()),
              str(console_binary()), "--config", str(config)]
    term = term_factory(100, 30)
    term.logs += [console_log(tmp_path), sshd.log]
    term.start(sshd.client_argv(remote))
    screen = term.wait_for(lambda s: "Registered" in s and "Available" in header(s), 20,
                           "registered over ssh")
    assert "Available" in header(screen), screen
    peer = Baresip("1001", tmp_path, tone_hz=440)
    peer.start()
    try:
        ring_and_answer(term, peer)
        screen = term.wait_for(lambda s: "no audio device" in header(s), 5,
                               "no-audio-device notice in the header")
        term.snapshot("talking-over-ssh")
        term.send("C-q")
        screen = term.wait_for(lambda s: "Quit?" in s and "1 call is up" in s, 5,
                               "quit confirmation")
        assert "1 call is up" in screen, screen
        term.snapshot("confirm-quit")
        term.send("y")
        assert wait_exit(term, 15) == ("0", ""), term.capture()
        peer.wait_log("Receive:", 30)  # baresip got the BYE and closed the call
    finally:
        peer.stop()
    assert "Accepted publickey" in sshd.log.read_text(), sshd.log.read_text()[-800:]
