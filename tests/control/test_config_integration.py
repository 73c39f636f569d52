"""The ``control:``, ``hooks:`` and ``auto_answer:`` config sections: defaults, every problem
named with its key and line, unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentconsole import ConfigError, parse_config, paths

MINIMAL = 'account:\n  aor: "sip:1001@pbx.example.com"\n  register: false\n'


def problems(text: str) -> dict[str, tuple[int | None, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(MINIMAL + text, env={})
    return {p.path: (p.line, p.message) for p in info.value.problems}


def test_defaults_listen_on_the_private_socket_and_nothing_else() -> None:
    config = parse_config(MINIMAL, env={})
    assert config.control.enabled is True and config.control.socket is None
    assert config.control.socket_path == paths.control_socket_path()
    ws = config.control.websocket
    assert ws.enabled is False and ws.host == "127.0.0.1" and ws.token is None
    assert config.hooks == ()
    auto = config.auto_answer
    assert auto.agent_mode is False and auto.requests_from == () and auto.beep is True


def test_a_relative_socket_is_beside_the_config(tmp_path: Path) -> None:
    config = parse_config(MINIMAL + "control: {socket: run/ctl.sock}\n", env={},
                          base_dir=tmp_path)
    assert config.control.socket_path == tmp_path / "run" / "ctl.sock"


def test_hook_problems_name_the_key_and_the_line() -> None:
    got = problems("""\
hooks:
  - event: incoming
    run: [crm, "{numbr}"]
  - event: hangup
    url: "http://crm/{number}"
  - event: ended
    run: [crm]
    url: "http://crm/"
  - event: ended
  - event: ended
    url: "ftp://crm/{number}"
    timeout_s: 0
  - event: wrapup
    run: [crm]
    method: POST
  - event: confirmed
    url: "http://crm/"
    headers: {X-Id: "{call_id"}
    colour: red
""")
    assert got["hooks[0].run[1]"][0] == 6 and "unknown variable {numbr}" in \
        got["hooks[0].run[1]"][1]
    assert got["hooks[1].event"][0] == 7 and "incoming, confirmed, ended" in \
        got["hooks[1].event"][1]
    assert got["hooks[2]"][1] == "give either run (a program and its arguments) or url"
    assert got["hooks[3]"][0] == 12
    assert "http:// or https://" in got["hooks[4].url"][1]
    assert got["hooks[4].timeout_s"][0] == 15
    assert "url hooks only" in got["hooks[5].method"][1]
    assert "unmatched" in got["hooks[6].headers.X-Id"][1]
    assert got["hooks[6].colour"] == (22, "unknown key")


def test_unknown_and_bad_keys_in_control_and_auto_answer() -> None:
    got = problems("""\
control:
  enable: false
  websocket: {enabled: true, token: "t", origins: ["https://crm.example.com/app"]}
auto_answer:
  delay_s: -1
  requests_from: "pbx"
""")
    assert got["control.enable"] == (5, "unknown key (did you mean 'enabled'?)")
    assert "an origin such as" in got["control.websocket.origins[0]"][1]
    assert got["auto_answer.delay_s"][0] == 8
    assert got["auto_answer.requests_from"] == (9, "must be a list")
