"""The console's log file (the UI owns the terminal, so logs go to a file) is rotated."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agentconsole import ui_main


def test_the_log_file_rotates_instead_of_growing(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui_main, "LOG_MAX_BYTES", 2000)
    path = tmp_path / "state" / "console.log"
    log = logging.getLogger("agentconsole.test-rotation")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    try:
        with ui_main.logs_to_file(path):
            for n in range(200):
                log.info("line %03d of a long shift %s", n, "." * 40)
    finally:
        root.setLevel(level)
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["console.log", "console.log.1", "console.log.2", "console.log.3"]
    assert all(p.stat().st_size <= 2000 for p in path.parent.iterdir())
    assert "line 199" in path.read_text()  # the newest lines are in the current file
