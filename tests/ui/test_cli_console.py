"""``agentconsole`` without a subcommand starts the console on the loaded config."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from agentconsole import cli
from agentconsole.ui.app import AgentConsoleApp

CONFIG = """\
account:
  aor: "sip:1001@127.0.0.1"
  register: false
ui:
  keymap: {keymap}
"""


def write(tmp_path: Path, keymap: str = "{}") -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(CONFIG.format(keymap=keymap))
    os.chmod(path, 0o600)
    return path


def run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    # --no-detach: run in this process even under `pytest -s` in a terminal (no holder)
    code = cli.main(["--no-detach", *argv], out=io.StringIO(), err=err)
    return code, err.getvalue()


def test_console_runs_the_app_with_the_given_config(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[AgentConsoleApp] = []

    async def fake_run(self: AgentConsoleApp) -> int:
        seen.append(self)
        return 0

    monkeypatch.setattr(AgentConsoleApp, "run_async", fake_run)
    code, _err = run("--config", str(write(tmp_path)))
    assert code == 0 and seen[0].config.account.aor == "sip:1001@127.0.0.1"


def test_console_reports_a_conflicting_keymap(tmp_path: Path) -> None:
    code, err = run("--config", str(write(tmp_path, '{"call.mute": "a"}')))
    assert code == 1 and "also bound to call.answer" in err


def test_console_reports_a_missing_config(tmp_path: Path) -> None:
    code, err = run("--config", str(tmp_path / "nope.yaml"))
    assert code == 1 and "cannot read" in err
