"""CLI conventions: --version from one source, the --help epilog, ``locate``, completion."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import agentconsole
from agentconsole import cli, cli_completion, cli_help, paths, ui_main
from agentconsole.demo import command as demo_command

from .interop.rig import require

ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# ----- --version ----------------------------------------------------------------------------

def test_version_has_one_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", agentconsole.__version__)
    # the installed metadata is built from agentconsole/__init__.py
    assert importlib.metadata.version("agentconsole") == agentconsole.__version__


def test_version_option_prints_it_and_exits_0() -> None:
    done = subprocess.run([sys.executable, "-m", "agentconsole", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout == f"agentconsole {agentconsole.__version__}\n"


# ----- --help epilog ------------------------------------------------------------------------

def test_help_epilog_has_config_order_environment_and_exit_statuses(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    order = [text.index(s) for s in
             ("--config PATH (", "$AGENTCONSOLE_CONFIG", "$XDG_CONFIG_HOME/agentconsole/config")]
    assert order == sorted(order)
    for variable in ("AGENTCONSOLE_CONFIG", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
                     "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "account.password_env", "NO_COLOR",
                     "AGENTCONSOLE_NO_DETACH", "PULSE_SERVER"):
        assert re.search(rf"^  {re.escape(variable)} ", text, re.M), variable
    for code in cli_help.EXIT_STATUSES:
        assert re.search(rf"^  {code}  \S", text, re.M), code


def test_every_exit_status_a_command_returns_is_described() -> None:
    # every EXIT_NAME = N in the package, whichever module a command lives in
    used = {int(value) for path in (ROOT / "agentconsole").rglob("*.py")
            for value in re.findall(r"^EXIT_\w+ *(?::[^=]+)?= *(\d+)", path.read_text(), re.M)}
    assert {0, 1, 2} <= used
    assert {cli.EXIT_PROBLEMS, ui_main.EXIT_PROBLEMS, demo_command.EXIT_UNAVAILABLE} <= used
    assert used <= set(cli_help.EXIT_STATUSES)
    # argparse's usage errors exit 2, which the table calls "bad arguments"
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(["--no-such-option"])
    assert exited.value.code == 2 and "bad arguments" in cli_help.EXIT_STATUSES[2]
    assert "registration failed" in cli_help.EXIT_STATUSES[1]  # register's 1


# ----- locate -------------------------------------------------------------------------------

@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("CONFIG", "DATA", "STATE", "RUNTIME"):
        monkeypatch.setenv(f"XDG_{var}_HOME" if var != "RUNTIME" else "XDG_RUNTIME_DIR",
                           str(tmp_path / var.lower()))
    monkeypatch.delenv(paths.CONFIG_ENV, raising=False)
    return tmp_path


def test_locate_prints_every_place_from_the_paths_module(xdg: Path) -> None:
    code, out, _ = run("locate")
    assert code == 0
    lines = dict(re.match(r"(.+?)  +(\S+)", line).groups()  # type: ignore[union-attr]
                 for line in out.splitlines())
    assert lines == {
        "config file": str(xdg / "config" / "agentconsole" / "config.yaml"),
        "themes (bundled)": str(paths.bundled_themes_dir()),
        "themes (yours)": str(xdg / "config" / "agentconsole" / "themes"),
        "call history": str(xdg / "data" / "agentconsole" / "history.sqlite3"),
        "recordings": str(xdg / "data" / "agentconsole" / "recordings"),
        "log file": str(xdg / "state" / "agentconsole" / "console.log"),
        "control socket": str(xdg / "runtime" / "agentconsole" / "control.sock"),
        "console socket": str(paths.console_socket_path(
            xdg / "config" / "agentconsole" / "config.yaml")),
        "holder log": str(xdg / "state" / "agentconsole" / "holder.log"),
    }
    assert "config.yaml  (not there yet)  [XDG default]" in out
    assert sorted(p.name for p in paths.bundled_themes_dir().glob("*.toml")) == [
        "agentconsole-dark.toml", "agentconsole-high-contrast.toml", "agentconsole-light.toml"]


def test_locate_json_follows_the_config_and_its_recording_directory(
        xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = xdg / "agent.yaml"
    config.write_text('account: {aor: "sip:1001@pbx.example.com", register: false}\n'
                      f'recording: {{directory: "{xdg / "calls"}"}}\n')
    monkeypatch.setenv(paths.CONFIG_ENV, str(config))
    code, out, _ = run("locate", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"config", "themes_bundled", "themes_user", "history", "recordings",
                         "log", "control_socket", "console_socket", "holder_log"}
    assert data["config"] == {"label": "config file", "path": str(config),
                              "source": f"${paths.CONFIG_ENV}", "exists": True}
    assert data["recordings"]["path"] == str(xdg / "calls")
    assert data["recordings"]["source"] == "recording.directory"
    assert data["themes_bundled"]["exists"] is True
    assert data["control_socket"]["path"] == str(paths.control_socket_path())
    # the socket `agentconsole attach` finds this config's console on
    assert data["console_socket"]["path"] == str(paths.console_socket_path(config))
    assert data["console_socket"]["path"].startswith(str(xdg / "runtime" / "agentconsole"))
    # --config wins over the variable, before or after the command
    other = xdg / "other.yaml"
    code, out, _ = run("locate", "--json", "--config", str(other))
    assert json.loads(out)["config"]["source"] == "--config"
    assert json.loads(out)["config"]["exists"] is False


def test_locate_follows_the_configs_control_socket(xdg: Path) -> None:
    config = xdg / "agent.yaml"
    config.write_text('account: {aor: "sip:1001@pbx.example.com", register: false}\n'
                      'control: {socket: run/agent.sock}\n')
    code, out, _ = run("locate", "--json", "--config", str(config))
    assert code == 0
    place = json.loads(out)["control_socket"]
    assert place["path"] == str(xdg / "run" / "agent.sock")  # relative to the config
    assert place["source"] == "control.socket"


def test_locate_with_a_broken_config_falls_back_and_says_why(xdg: Path) -> None:
    config = xdg / "bad.yaml"
    config.write_text("account: {aor: 12}\nnonsense: 1\n")
    code, out, _ = run("--config", str(config), "locate")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("recordings"))
    assert str(xdg / "data" / "agentconsole" / "recordings") in line
    assert "problems: agentconsole check-config" in line


# ----- completion ---------------------------------------------------------------------------

BASH_COMPLETE = r"""
source "$1"
COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}
read -r -a COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_shtab_agentconsole agentconsole "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    code, out, _ = run("completion", "bash")
    assert code == 0
    path = tmp_path_factory.mktemp("completion") / "agentconsole.bash"
    path.write_text(out)
    return path


def bash_completions(script: Path, line: str) -> list[str]:
    done = subprocess.run(["bash", "-c", BASH_COMPLETE, "complete", str(script), line],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.split()


@pytest.mark.parametrize("shell", cli_completion.SHELLS)
def test_completion_script_names_every_subcommand(shell: str) -> None:
    code, out, _ = run("completion", shell)
    assert code == 0 and "agentconsole" in out
    for name in cli.SUBCOMMANDS:
        assert name in out, (shell, name)


def test_bash_completes_subcommands_options_and_choices(bash_script: Path) -> None:
    assert bash_completions(bash_script, "agentconsole ") == list(cli.SUBCOMMANDS)
    assert bash_completions(bash_script, "agentconsole lo") == ["locate"]
    assert bash_completions(bash_script, "agentconsole completion ") == ["bash", "zsh", "fish"]
    assert bash_completions(bash_script, "agentconsole demo --di") == ["--digest"]
    assert "--version" in bash_completions(bash_script, "agentconsole --")


def test_bash_completes_file_names_for_config_paths(bash_script: Path, tmp_path: Path) -> None:
    (tmp_path / "agent-one.yaml").write_text("")
    (tmp_path / "agent-two.yaml").write_text("")
    found = bash_completions(bash_script, f"agentconsole check-config {tmp_path}/agent-")
    assert sorted(found) == [f"{tmp_path}/agent-one.yaml", f"{tmp_path}/agent-two.yaml"]


def test_a_new_subcommand_completes_without_touching_completion(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(cli.SUBCOMMANDS, "frobnicate",
                        cli.Subcommand("a command added later", lambda a, o, e: 0))
    script = tmp_path / "agentconsole.bash"
    script.write_text(cli_completion.script("bash"))
    assert bash_completions(script, "agentconsole fro") == ["frobnicate"]


def test_fish_completes_subcommands_with_their_help(tmp_path: Path) -> None:
    fish = require("fish")
    script = tmp_path / "agentconsole.fish"
    script.write_text(cli_completion.script("fish"))
    done = subprocess.run([fish, "--no-config", "-c",
                           f"source {script}; complete -C 'agentconsole lo'"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.splitlines() == [f"locate\t{cli.SUBCOMMANDS['locate'].help}"]


def test_zsh_script_parses_and_defines_the_completer(tmp_path: Path) -> None:
    zsh = require("zsh")
    script = tmp_path / "_agentconsole"
    script.write_text(cli_completion.script("zsh"))
    subprocess.run([zsh, "-n", str(script)], check=True, timeout=60)
    assert script.read_text().startswith("#compdef agentconsole")
    done = subprocess.run([zsh, "-f", "-c", f"autoload -U compinit; compinit -u -D; "
                           f"source {script}; whence -w _shtab_agentconsole"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert "_shtab_agentconsole: function" in done.stdout, done.stderr
