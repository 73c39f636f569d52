"""Config loading: defaults, every problem with its key path and line, secrets kept secret."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentconsole.config import (
    AccountConfig,
    Config,
    ConfigError,
    DirectoryEntry,
    Secret,
    load_config,
    parse_config,
)
from agentconsole.errors import ConfigProblem

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Pw-9f8e7d-unique"
ENV = {"AGENTCONSOLE_PASSWORD": PASSWORD}

MINIMAL = """\
account:
  aor: "sip:1001@pbx.example.com"
  password_env: AGENTCONSOLE_PASSWORD
"""


def problems(text: str, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env=ENV if env is None else env)
    return info.value.problems


def where(text: str, env: dict[str, str] | None = None) -> dict[str, int | None]:
    return {p.path: p.line for p in problems(text, env)}


# ----- the example file --------------------------------------------------------------------


def _fields(cls: type, prefix: str = "") -> list[str]:
    out: list[str] = []
    for f in dataclasses.fields(cls):
        if "conv" not in f.metadata:
            continue
        out.append(f.name)
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        nested = f.type if isinstance(f.type, type) else None
        if dataclasses.is_dataclass(default):
            out.extend(_fields(type(default)))
        elif nested is not None and dataclasses.is_dataclass(nested):
            out.extend(_fields(nested))
    return out


def test_example_config_loads_and_documents_every_key() -> None:
    path = ROOT / "config.example.yaml"
    config = load_config(path, env=ENV)
    assert config.account.aor == "sip:1001@pbx.example.com"
    assert config.account.password is not None
    assert config.account.password.reveal() == PASSWORD
    text = path.read_text()
    names = set(_fields(Config)) | set(_fields(AccountConfig)) | set(_fields(DirectoryEntry))
    assert len(names) > 60
    missing = [n for n in sorted(names) if not re.search(rf"^\s*-?\s*{n}:", text, re.M)]
    assert missing == []
    # every key line carries a comment (directory entries aside)
    for line in text.splitlines():
        if re.match(r"^\s+[a-z_0-9]+:\s*\S", line) and "name:" not in line and \
                "number:" not in line:
            assert "#" in line, line


# ----- defaults and types --------------------------------------------------------------------


def test_minimal_config_gets_every_default() -> None:
    config = parse_config(MINIMAL, env=ENV)
    acc = config.account
    assert acc.transport == "udp" and acc.expires == 600 and acc.register is True
    assert acc.tls.verify is True and acc.tls.ca_file is None
    assert acc.registrar_uri.host == "pbx.example.com"
    assert str(acc.registrar_uri) == "sip:pbx.example.com"
    assert acc.effective_auth_user == "1001"
    assert config.sip.t1_ms == 500 and config.sip.t2_ms == 4000 and config.sip.t4_ms == 5000
    assert config.sip.keepalive_s == 30 and config.sip.register_retry_s == 30
    assert config.sip.max_message_size == 65536
    assert config.sip.session_expires == 1800 and config.sip.min_se == 90
    assert config.media.codecs == ("opus", "G722", "PCMU", "PCMA")
    assert config.media.ice_servers == () and config.media.dtmf_mode == "auto"
    assert config.audio.backend == "auto" and config.audio.tone_hz == 440
    assert config.calls.max_calls == 2 and config.calls.reject_code == 486
    assert config.calls.dial_rate_limit_s == 1.0 and config.calls.no_answer_s == 300
    assert config.ui.theme == "agentconsole-dark" and config.ui.notify.bell is True
    assert config.agent.states == ("Break", "Lunch", "Meeting", "Training")
    assert config.agent.dnd_code == 486 and config.agent.away_code == 480
    assert config.recording.mode == "local"
    assert not config.recording.directory.startswith("~")
    assert config.directory == () and config.warnings == ()


def test_full_values_are_converted() -> None:
    config = parse_config(MINIMAL + """\
  transport: WSS
  ws_url: "wss://pbx.example.com:8089/ws"
  auth_user: 0042
  display_name: 1001
media:
  codecs: [pcmu, OPUS]
  host_addresses: ["127.0.0.1", "::1"]
  ice_servers: ["stun:stun.example.com:3478"]
audio: {input: 3, output: "USB Headset"}
recording:
  mode: feature_code
  directory: ~/rec
  feature_codes: {start: "*1", stop: "*2"}
ui:
  keymap: {call.answer: a, call.hangup: ctrl+e}
agent:
  wrapup: {codes: [Sale, No sale], required: true, timeout_s: 60}
directory:
  - {name: Bob, number: 1002}
  - {name: Alice, number: 0123, company: ACME}
""", env=ENV)
    assert config.account.transport == "wss"
    assert config.account.auth_user == "0042"  # not the YAML 1.1 octal 34
    assert config.account.effective_auth_user == "0042"
    assert config.account.display_name == "1001"
    assert config.media.codecs == ("PCMU", "opus")
    assert config.audio.input == 3 and config.audio.output == "USB Headset"
    assert config.recording.directory == str(Path("~/rec").expanduser())
    assert config.recording.feature_codes.start == "*1"
    assert config.ui.keymap == {"call.answer": "a", "call.hangup": "ctrl+e"}
    assert config.agent.wrapup.codes == ("Sale", "No sale")
    assert config.directory == (DirectoryEntry("Bob", "1002"),
                                DirectoryEntry("Alice", "0123", "ACME"))


def test_anchors_and_merge_keys_work_like_safe_load() -> None:
    text = MINIMAL + (
        "calls: {<<: {max_calls: 4, no_answer_s: 9}, max_calls: 5}\n"
        "agent: {states: &reasons [Break, Lunch], wrapup: {codes: *reasons}}\n"
    )
    config = parse_config(text, env=ENV)
    assert config.calls.max_calls == 5 and config.calls.no_answer_s == 9
    assert config.agent.wrapup.codes == ("Break", "Lunch")


# ----- problems: key path, line, all of them ----------------------------------------------------


def test_every_problem_is_reported_with_path_and_line() -> None:
    text = """\
account:
  aor: "sip:1001@pbx.example.com"
  password_env: AGENTCONSOLE_PASSWORD
  transport: carrier-pigeon
  expires: 5
  tls: {verify: maybe}
sip:
  t1_ms: fast
media:
  codecs: [opus, GSM]
calls: {reject_code: 404}
directory:
  - {name: Bob, number: "1002"}
  - {name: Carol}
  - {name: Dave, number: "1004", fax: "1"}
"""
    got = where(text)
    assert got == {
        "account.transport": 4,
        "account.expires": 5,
        "account.tls.verify": 6,
        "sip.t1_ms": 8,
        "media.codecs[1]": 10,
        "calls.reject_code": 11,
        "directory[1].number": 14,
        "directory[2].fax": 15,
    }


def test_problems_are_sorted_by_line_and_formatted_like_a_compiler() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("ui: {theme: 3.5x}\naccount: {aor: 'sip:a@b', password: x, nope: 1}\n"
                      "sip: {local_port: 70000}\n", "agent.yaml", env={})
    err = info.value
    lines = [p.line or 0 for p in err.problems]
    assert lines == sorted(lines) and 0 not in lines
    text = str(err)
    assert "agent.yaml:2: account.nope: unknown key" in text
    assert "agent.yaml:3: sip.local_port: must be between 0 and 65535 (got 70000)" in text
    assert err.source == "agent.yaml" and err.title == "Configuration error"


def test_unknown_keys_everywhere_with_a_suggestion() -> None:
    probs = problems(MINIMAL + "  transprot: udp\nsip: {t1: 1}\nui: {notify: {beep: true}}\n"
                     "extra: 1\n")
    paths = {p.path: p.message for p in probs}
    assert paths["account.transprot"] == "unknown key (did you mean 'transport'?)"
    assert "sip.t1" in paths and "ui.notify.beep" in paths
    assert paths["extra"].startswith("unknown key")


def test_duplicate_keys_are_errors() -> None:
    got = where("account:\n  aor: 'sip:a@b'\n  password: x\n  aor: 'sip:c@d'\n")
    assert got == {"account.aor": 4}


def test_yaml_syntax_error_has_a_line() -> None:
    probs = problems(MINIMAL + "sip:\n  t1_ms: [1, 2\n")
    assert len(probs) == 1 and probs[0].path == "" and probs[0].line is not None
    assert probs[0].line >= 5


def test_yaml_error_on_a_password_line_does_not_echo_it() -> None:
    text = "account:\n  aor: 'sip:a@b'\n  password: *" + PASSWORD + "\n"
    probs = problems(text)
    assert probs[0].line == 3
    assert PASSWORD not in str(ConfigError(probs))
    assert "details hidden" in probs[0].message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {"account": None}),
        ("- a\n- b\n", {"": 1}),
        ("account: 5\n", {"account": 1}),
        ("account: {}\n", {"account.aor": 1, "account": 1}),
        ("account: {aor: 'tel:+1555'}\n", {"account.aor": 1, "account": 1}),
    ],
)
def test_structural_problems(text: str, expected: dict[str, int | None]) -> None:
    assert where(text, env={}) == expected


def test_non_sip_and_userless_aor() -> None:
    got = where("account: {aor: 'sip:pbx.example.com', password: x}\n")
    assert got == {"account.aor": 1}
    assert "user part" in problems("account: {aor: 'sip:pbx', password: x}\n")[0].message


def test_aor_with_password_is_refused_without_echoing_it() -> None:
    probs = problems(f"account: {{aor: 'sip:1001:{PASSWORD}@pbx', password: x}}\n")
    assert probs[0].path == "account.aor" and PASSWORD not in str(ConfigError(probs))


def test_ws_transport_needs_a_matching_ws_url() -> None:
    assert where(MINIMAL + "  transport: wss\n") == {"account.ws_url": 1}
    probs = problems(MINIMAL + "  transport: wss\n  ws_url: 'ws://pbx/ws'\n")
    assert [(p.path, p.line) for p in probs] == [("account.ws_url", 5)]
    config = parse_config(MINIMAL + "  ws_url: 'ws://pbx/ws'\n", env=ENV)
    assert [w.path for w in config.warnings] == ["account.ws_url"]


def test_cross_field_checks() -> None:
    got = where(MINIMAL + "sip: {t1_ms: 1000, t2_ms: 500, reconnect_min_s: 10, "
                "reconnect_max_s: 5}\naudio: {backend: file}\nrecording: {mode: feature_code}\n"
                "agent: {wrapup: {required: true}}\n")
    assert set(got) == {"sip.t2_ms", "sip.reconnect_max_s", "audio.file_in",
                        "recording.feature_codes.start", "agent.wrapup.required"}


def test_session_timer_keys() -> None:
    config = parse_config(MINIMAL + "sip:\n  session_expires: 600\n  min_se: 120\n", env=ENV)
    assert config.sip.session_expires == 600 and config.sip.min_se == 120
    # RFC 4028 floor of 90 s on both, one day at most
    got = problems(MINIMAL + "sip:\n  session_expires: 89\n  min_se: 86401\n")
    assert [(p.path, p.line) for p in got] == [("sip.session_expires", 5), ("sip.min_se", 6)]
    assert "between 90 and 86400 (got 89)" in got[0].message
    assert where(MINIMAL + "sip: {session_expires: 90, min_se: yes}\n") == {"sip.min_se": 4}
    # asking for less than the Min-SE we would accept is contradictory
    got = problems(MINIMAL + "sip: {session_expires: 300, min_se: 600}\n")
    assert [p.path for p in got] == ["sip.session_expires"]
    assert "min_se" in got[0].message
    assert parse_config(MINIMAL + "sip: {session_expires: 600, min_se: 600}\n", env=ENV)


def test_validation_machinery_still_reachable_through_config_module() -> None:
    # The split into agentconsole._validate must not change what callers import.
    import agentconsole.config as config_module

    public = ["AccountConfig", "AgentConfig", "AudioConfig", "CallsConfig", "Config",
              "ConfigError", "ConfigProblem", "DirectoryEntry", "FeatureCodes", "MediaConfig",
              "NotifyConfig", "RecordingConfig", "Secret", "SipConfig", "TlsConfig", "UiConfig",
              "WrapupConfig", "load_config", "parse_config",
              "PulseConfig", "RemoteConfig"]  # issue 15: audio.pulse, remote
    assert sorted(config_module.__all__) == sorted(public)
    assert [n for n in public if not hasattr(config_module, n)] == []
    assert config_module.SipConfig().session_expires == 1800


def test_bad_list_items() -> None:
    got = where(MINIMAL + "media:\n  host_addresses: [127.0.0.1, pbx.local]\n"
                "  ice_servers: ['http://x']\n  codecs: []\n")
    assert got == {"media.host_addresses[1]": 5, "media.ice_servers[0]": 6, "media.codecs": 7}


def test_feature_code_with_bare_star_is_a_yaml_error_and_letters_are_refused() -> None:
    assert problems(MINIMAL + "recording: {feature_codes: {start: *1}}\n")[0].path == ""
    assert where(MINIMAL + "recording: {feature_codes: {start: 'rec'}}\n") == {
        "recording.feature_codes.start": 4}


def test_tls_ca_file_must_exist_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(MINIMAL + "  tls: {ca_file: ca.pem}\n")
    assert load_config(cfg, env=ENV).account.tls.ca_file == str(tmp_path / "ca.pem")
    cfg.write_text(MINIMAL + "  tls: {ca_file: missing.pem}\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env=ENV)
    assert info.value.problems[0].path == "account.tls.ca_file"
    assert info.value.problems[0].line == 4


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"account: \xff\xfe\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(bad)


def test_recursive_alias_is_a_problem_not_a_crash() -> None:
    probs = problems(MINIMAL + "agent: {states: &s [a, *s]}\n")
    assert any(p.path.startswith("agent.states") for p in probs)


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(ConfigError, match="too large"):
        parse_config("\n".join(lines) + "\n", env={})


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="account:aor sip@{}[]-#&*!|>'\"\n\t 0123yes~,.=", max_size=120))
def test_garbage_only_ever_raises_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_config(text, env={})


# ----- secrets -------------------------------------------------------------------------------


def test_password_env_is_resolved_and_a_missing_variable_is_named() -> None:
    config = parse_config(MINIMAL, env=ENV)
    assert config.account.password_env == "AGENTCONSOLE_PASSWORD"
    assert isinstance(config.account.password, Secret)
    probs = problems(MINIMAL, env={})
    assert [(p.path, p.line) for p in probs] == [("account.password_env", 3)]
    assert "AGENTCONSOLE_PASSWORD" in probs[0].message and "not set" in probs[0].message
    assert "empty" in problems(MINIMAL, env={"AGENTCONSOLE_PASSWORD": ""})[0].message


def test_password_rules() -> None:
    both = "account: {aor: 'sip:a@b', password: x, password_env: Y}\n"
    assert where(both) == {"account.password": 1}
    neither = "account: {aor: 'sip:a@b'}\n"
    assert where(neither) == {"account": 1}
    assert parse_config("account: {aor: 'sip:a@b', register: false}\n").account.password is None
    # YAML would make these a number and a boolean; a password stays what was typed
    assert parse_config("account: {aor: 'sip:a@b', password: 0123}\n").account.password == \
        Secret("0123")
    assert parse_config("account: {aor: 'sip:a@b', password: yes}\n").account.password == \
        Secret("yes")


def test_password_never_leaks() -> None:
    text = f"account: {{aor: 'sip:a@b', password: '{PASSWORD}', nope: 1}}\nsip: {{t1_ms: x}}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value)
    config = parse_config(f"account: {{aor: 'sip:a@b', password: '{PASSWORD}'}}\n")
    assert PASSWORD not in repr(config) and PASSWORD not in str(config)
    assert PASSWORD not in repr(config.account) and "******" in repr(config.account)
    env_config = parse_config(MINIMAL, env=ENV)
    assert PASSWORD not in repr(env_config)


def test_world_readable_file_with_a_password_warns(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"account: {{aor: 'sip:a@b', password: '{PASSWORD}'}}\n")
    os.chmod(cfg, 0o644)
    warnings = load_config(cfg).warnings
    assert [(w.path, w.line) for w in warnings] == [("account.password", 1)]
    assert PASSWORD not in str(warnings)
    os.chmod(cfg, 0o600)
    assert load_config(cfg).warnings == ()
    cfg.write_text(MINIMAL)
    os.chmod(cfg, 0o644)
    assert load_config(cfg, env=ENV).warnings == ()  # password_env: nothing to protect


# ----- built in code -------------------------------------------------------------------------


def test_config_built_in_code() -> None:
    config = Config(account=AccountConfig(aor="sip:agent%201@pbx.example.com:5080",
                                          password=Secret(PASSWORD), transport="tcp",
                                          outbound_proxy="sip:proxy.example.com;lr"))
    assert isinstance(config.account.password, Secret)
    assert config.account.password.reveal() == PASSWORD
    assert PASSWORD not in repr(config)
    assert config.account.effective_auth_user == "agent 1"
    assert str(config.account.registrar_uri) == "sip:pbx.example.com:5080"
    proxy = config.account.outbound_proxy_uri
    assert proxy is not None and proxy.params == {"lr": None}
    assert config.sip.t1_ms == 500 and config.calls.max_calls == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.account.transport = "udp"  # type: ignore[misc]


def test_a_plain_str_password_is_wrapped() -> None:
    account = AccountConfig(aor="sip:a@b", password=PASSWORD)  # type: ignore[arg-type]
    assert isinstance(account.password, Secret) and PASSWORD not in repr(account)


def test_bad_uri_in_code_raises_config_error_on_use() -> None:
    account = AccountConfig(aor="tel:+15551234")
    with pytest.raises(ConfigError) as info:
        _ = account.aor_uri
    assert info.value.problems[0].path == "account.aor"


def test_from_mapping_validates_plain_data() -> None:
    config = Config.from_mapping({"account": {"aor": "sip:a@b", "password": "p"},
                                  "calls": {"max_calls": 3}})
    assert config.calls.max_calls == 3
    with pytest.raises(ConfigError) as info:
        Config.from_mapping({"account": {"aor": "sip:a@b", "password": "p"},
                             "calls": {"max_calls": 0}})
    assert info.value.problems == [
        ConfigProblem("calls.max_calls", None, "must be between 1 and 100 (got 0)")]


def test_default_path(tmp_path: Path) -> None:
    explicit = {"AGENTCONSOLE_CONFIG": str(tmp_path / "x.yaml"), "XDG_CONFIG_HOME": "/xdg"}
    assert Config.default_path(explicit) == tmp_path / "x.yaml"
    assert Config.default_path({"XDG_CONFIG_HOME": "/xdg"}) == \
        Path("/xdg/agentconsole/config.yaml")
    assert Config.default_path({}) == Path("~/.config/agentconsole/config.yaml").expanduser()


def test_load_config_uses_the_default_path(tmp_path: Path) -> None:
    cfg = tmp_path / "agentconsole" / "config.yaml"
    cfg.parent.mkdir()
    cfg.write_text(MINIMAL)
    env = dict(ENV, XDG_CONFIG_HOME=str(tmp_path))
    assert load_config(env=env).source == str(cfg)
