"""``agentconsole attach [--list]`` and the choice of running through a holder."""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

import pytest

from agentconsole import cli, paths
from agentconsole.remote.command import choose, detachable

from .conftest import Holder


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


class Tty(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize(("flag", "env", "tty", "expected"), [
    (False, None, True, True),
    (True, None, True, False),  # --no-detach
    (False, "1", True, False),  # $AGENTCONSOLE_NO_DETACH=1
    (False, None, False, False),  # a pipe: the console runs directly
])
def test_when_the_console_runs_through_a_holder(
        flag: bool, env: str | None, tty: bool, expected: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if env is None:
        monkeypatch.delenv("AGENTCONSOLE_NO_DETACH", raising=False)
    else:
        monkeypatch.setenv("AGENTCONSOLE_NO_DETACH", env)
    args = argparse.Namespace(no_detach=flag)
    assert detachable(args, Tty(tty), Tty(tty)) is expected


def test_no_detach_is_an_option_of_the_console() -> None:
    args = cli.build_parser().parse_args(["--no-detach", "--config", "x.yaml"])
    assert args.no_detach and args.command is None


def test_list_without_consoles(short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_dir))
    assert run("attach", "--list") == (0, "no console is running\n", "")


def test_list_shows_config_pid_since_and_attached(
        holder: Holder, short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_dir))
    sock = paths.console_socket_path(Path("/configs/test.yaml"))
    holder.sock = sock
    assert holder.start() == "ready"
    code, out, _err = run("attach", "--list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["CONFIG", "PID", "SINCE", "ATTACHED"]
    fields = lines[1].split()
    assert fields[0] == "/configs/test.yaml" and fields[-1] == "no"
    assert int(fields[1]) != holder.proc.pid  # type: ignore[union-attr]  # the console's


def test_choose_strictly_by_config_else_the_only_one(
        holder: Holder, short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_dir))
    holder.sock = paths.console_socket_path(Path("/configs/test.yaml"))
    assert holder.start() == "ready"
    found, why = choose(Path("/configs/other.yaml"), Path("/configs/default.yaml"))
    assert found is None and "no console is running for /configs/other.yaml" in why
    found, why = choose(None, Path("/configs/default.yaml"))  # not the default: the only one
    assert found is not None and found.config == "/configs/test.yaml" and why == ""


def test_attach_needs_a_terminal(short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_dir))
    code, _out, err = run("attach")
    assert code == 2 and "needs a terminal" in err


def test_socket_paths_are_per_config_and_private(short_dir: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(short_dir)}
    one = paths.console_socket_path(Path("/a/agent.yaml"), env)
    assert one.parent == short_dir / "agentconsole" and one.name.startswith("console-")
    assert one != paths.console_socket_path(Path("/b/agent.yaml"), env)
    assert one == paths.console_socket_path(Path("/a/../a/agent.yaml"), env)  # resolved
    assert os.path.basename(one).endswith(".sock")


def test_the_demo_is_held_with_the_same_options(short_dir: Path) -> None:
    """``agentconsole demo`` in a terminal runs again under a holder, options and all."""
    from agentconsole.demo.command import arguments_again
    from agentconsole.remote.command import config_target, demo_target

    given = ["-v", "demo", "--port", "0", "--seed", "7", "--rate", "0.5", "--ws-port", "0",
             "--digest", "md5"]
    args = cli.build_parser().parse_args(given)
    target = demo_target(arguments_again(args), args.verbose)
    holder_args = target.argv[target.argv.index("agentconsole") + 1:]
    assert holder_args[:3] == ["-v", "--no-detach", "demo"]
    again = cli.build_parser().parse_args(holder_args)
    assert again.no_detach and again.command == "demo" and not again.headless
    for option in ("host", "port", "seed", "rate", "ws_port", "digest", "verbose"):
        assert getattr(again, option) == getattr(args, option), option
    env = {"XDG_RUNTIME_DIR": str(short_dir)}
    assert target.label == "demo"
    assert target.socket.name == paths.demo_socket_path(env).name
    console = config_target(Path("/configs/a.yaml"), 0)
    assert console.argv[-3:] == ["--config", "/configs/a.yaml", "--no-detach"]
    assert console.socket != target.socket
