"""The real ``agentconsole`` binary in a real terminal (tmux) takes a call from baresip
through the rig (Kamailio + rtpengine): answer, hold, resume, hang up, file a wrap-up.

Every step is asserted on what the screen shows (``capture-pane``) and, where the peer
can tell, on baresip's log; the screens are kept in ``/tmp/agentconsole-e2e/<test>/``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ..interop.baresip import Baresip
from ..interop.rig import Kamailio
from .steps import (
    file_wrapup,
    header,
    ring_and_answer,
    start_console,
    stored_wrapups,
    talk_seconds,
)
from .term import TmuxTerm

pytestmark = pytest.mark.interop


@pytest.mark.parametrize(("width", "height", "backend"),
                         [(100, 30, "file"), (80, 24, "tone")],
                         ids=["100x30-file", "80x24-tone"])
def test_answer_hold_resume_hangup_and_wrapup(
    kamailio_rtpengine: Kamailio, tmp_path: Path, term_factory: Callable[..., TmuxTerm],
    width: int, height: int, backend: str,
) -> None:
    term = term_factory(width, height)
    start_console(term, tmp_path, backend)
    peer = Baresip("1001", tmp_path, tone_hz=440)
    peer.start()
    try:
        screen = ring_and_answer(term, peer)
        first = talk_seconds(screen)
        assert first is not None
        screen = term.wait_for(lambda s: (talk_seconds(s) or -1) >= first + 2, 5,
                               "talk timer advancing")
        term.snapshot("talking")

        term.send("Space")
        screen = term.wait_for(lambda s: "HELD" in s and "Hold 00:" in s, 5, "HELD badge")
        term.snapshot("held")
        peer.wait_log("call: got re-INVITE", 30)
        term.send("Space")
        screen = term.wait_for(lambda s: "TALKING" in s and "HELD" not in s, 5, "resumed")
        term.snapshot("resumed")

        term.send("h")
        term.wait_for("again to hang up", 3, "hang-up confirmation")
        term.send("h")
        screen = term.wait_for(lambda s: "Wrap-up" in s and "Support" in s and "Sale" in s
                               and "1001" in s, 10, "wrap-up form")
        term.snapshot("wrapup")
        assert "Sale" in screen and "1001" in screen, screen
        peer.wait_log("Receive:", 30)  # baresip's end-of-call RTP summary: call closed

        term.send("Escape")  # "later": the agent stays in after-call work
        # dialogs are translucent: the header behind them updates before they close
        screen = term.wait_for(lambda s: "After-call work" in header(s) and "Wrap-up" not in s
                               and "No active calls" in s, 5, "ACW in header, form closed")
        assert "Wrap-up" not in screen and "No active calls" in screen, screen
        term.snapshot("acw")
        term.send("w")
        term.wait_for(lambda s: "Wrap-up" in s and "Support" in s, 5, "wrap-up form reopened")
        file_wrapup(term, "Support", "called about an order")
        screen = term.wait_for(lambda s: "Available" in header(s) and "Wrap-up" not in s, 5,
                               "back to Available")
        term.snapshot("filed")
    finally:
        peer.stop()
    assert stored_wrapups(tmp_path) == [("1001", "Support", "called about an order")]
