"""The command line: check-config output and exit codes, placeholders, extensibility."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import TextIO

import pytest

from agentconsole import cli

PASSWORD = "Cli-pw-4c3b2a-unique"
ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def test_check_config_ok_prints_a_summary_without_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, f"""\
account:
  aor: "sip:1001@pbx.example.com"
  password: "{PASSWORD}"
  transport: tcp
directory:
  - {{name: Bob, number: "1002"}}
""")
    code, out, err = run("check-config", str(path))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: OK: sip:1001@pbx.example.com over tcp")
    assert "registrar sip:pbx.example.com" in lines[0] and "1 directory entry" in lines[0]
    assert PASSWORD not in out + err


def test_check_config_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, f"""\
account:
  aor: "sip:1001@pbx.example.com"
  password: "{PASSWORD}"
  transport: smoke
sip:
  t1_ms: -1
  bogus: 1
""")
    code, out, err = run("check-config", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}:4: account.transport: must be one of udp, tcp, tls, ws, wss (got 'smoke')",
        f"{path}:6: sip.t1_ms: must be between 10 and 60000 (got -1)",
        f"{path}:7: sip.bogus: unknown key",
    ]
    assert "3 problems" in err
    assert PASSWORD not in out + err


def test_check_config_prints_warnings_but_succeeds(tmp_path: Path) -> None:
    path = write(tmp_path, f"account: {{aor: 'sip:a@b', password: '{PASSWORD}'}}\n")
    os.chmod(path, 0o644)
    code, out, _ = run("check-config", str(path))
    assert code == 0
    assert out.splitlines()[0].startswith(f"{path}:1: account.password: warning: ")
    assert PASSWORD not in out


def test_check_config_uses_global_config_option(tmp_path: Path) -> None:
    path = write(tmp_path, "account: {aor: 'sip:a@b', register: false}\n")
    code, out, _ = run("--config", str(path), "check-config")
    assert code == 0 and "no password" in out


def test_check_config_missing_file(tmp_path: Path) -> None:
    code, out, _ = run("check-config", str(tmp_path / "nope.yaml"))
    assert code == 1 and "cannot read" in out


def test_example_config_checks_clean() -> None:
    env = dict(os.environ, AGENTCONSOLE_PASSWORD=PASSWORD)
    result = subprocess.run(
        [sys.executable, "-m", "agentconsole", "check-config", str(ROOT / "config.example.yaml")],
        capture_output=True, text=True, env=env, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK:" in result.stdout and PASSWORD not in result.stdout


def test_demo_and_console_need_a_terminal_and_a_config(tmp_path: Path) -> None:
    code, out, err = run("demo")  # no terminal here: the console part needs one
    assert code == 2 and "needs a terminal" in err
    code, out, err = run("--config", str(tmp_path / "missing.yaml"))
    assert code == 1 and "cannot read" in err


def test_unknown_subcommand_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        run("frobnicate")
    assert info.value.code == 2


def test_a_subcommand_can_be_added(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[argparse.Namespace] = []

    def register(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        seen.append(args)
        print("registered", file=out)
        return 0

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--timeout", type=float, default=5.0)

    commands = dict(cli.SUBCOMMANDS)
    commands["register"] = cli.Subcommand("register once and exit", register, arguments)
    monkeypatch.setattr(cli, "SUBCOMMANDS", commands)
    code, out, _ = run("-v", "--config", "x.yaml", "register", "--timeout", "2")
    assert code == 0 and out == "registered\n"
    assert seen[0].timeout == 2.0 and seen[0].config == "x.yaml" and seen[0].verbose == 1
    assert cli.config_path(seen[0]) == Path("x.yaml")
