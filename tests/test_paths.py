"""The one home of default paths: XDG variables decide, relative values are ignored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentconsole import paths


def test_xdg_variables_place_every_file() -> None:
    env = {"XDG_CONFIG_HOME": "/c", "XDG_DATA_HOME": "/d", "XDG_STATE_HOME": "/s",
           "XDG_RUNTIME_DIR": "/r"}
    assert paths.default_config_path(env) == Path("/c/agentconsole/config.yaml")
    assert paths.user_themes_dir(env) == Path("/c/agentconsole/themes")
    assert paths.history_db_path(env) == Path("/d/agentconsole/history.sqlite3")
    assert paths.recordings_dir(env) == Path("/d/agentconsole/recordings")
    assert paths.log_file_path(env) == Path("/s/agentconsole/console.log")
    assert paths.control_socket_path(env) == Path("/r/agentconsole/control.sock")


def test_config_variable_comes_first_in_the_search() -> None:
    env = {"AGENTCONSOLE_CONFIG": "/etc/agent.yaml", "XDG_CONFIG_HOME": "/c"}
    assert [p for _, p in paths.config_search(env)] == [
        Path("/etc/agent.yaml"), Path("/c/agentconsole/config.yaml")]
    assert paths.default_config_path(env) == Path("/etc/agent.yaml")


def test_relative_xdg_values_are_ignored() -> None:
    env = {"XDG_DATA_HOME": "relative/dir", "HOME": os.environ.get("HOME", "/root")}
    assert paths.history_db_path(env) == Path("~/.local/share/agentconsole/history.sqlite3"
                                              ).expanduser()


def test_without_a_runtime_dir_the_socket_is_in_a_per_user_temp_dir() -> None:
    sock = paths.control_socket_path({"TMPDIR": "/var/tmp"})
    assert sock == Path(f"/var/tmp/agentconsole-{os.getuid()}/control.sock")


def test_private_dir_is_0700_even_when_it_existed_open(tmp_path: Path) -> None:
    target = tmp_path / "run" / "agentconsole"
    target.mkdir(parents=True, mode=0o755)
    os.chmod(target, 0o755)
    assert paths.private_dir(target) == target
    assert target.stat().st_mode & 0o777 == 0o700
    fresh = paths.private_dir(tmp_path / "fresh")
    assert fresh.stat().st_mode & 0o777 == 0o700


def test_private_dir_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    with pytest.raises(FileExistsError):
        paths.private_dir(tmp_path / "taken")
