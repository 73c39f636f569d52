"""Config sections beside the account: remote agents and the pulse backend, and the
reliability bounds of ``sip:`` (each key checked with its line)."""

from __future__ import annotations

import pytest

from agentconsole.config import ConfigError, parse_config

from .test_config import ENV, MINIMAL, problems, where


def test_remote_and_pulse_keys() -> None:
    """remote.on_detach (away | keep) and audio.pulse (server, latency, rate), checked."""
    base = 'account:\n  aor: "sip:1001@pbx.example.com"\n  register: false\n'
    config = parse_config(base, env={})
    assert config.remote.on_detach == "away"
    assert (config.audio.pulse.server, config.audio.pulse.latency_ms,
            config.audio.pulse.rate) == (None, 40, 48000)
    config = parse_config(base + "remote:\n  on_detach: keep\naudio:\n  backend: pulse\n"
                          "  pulse: {server: 'tcp:localhost:4713', rate: 16000}\n", env={})
    assert config.remote.on_detach == "keep" and config.audio.backend == "pulse"
    assert config.audio.pulse.server == "tcp:localhost:4713"
    assert config.audio.pulse.rate == 16000
    with pytest.raises(ConfigError) as caught:
        parse_config(base + "remote:\n  on_detach: sometimes\naudio:\n  pulse:\n"
                     "    rate: 44100\n    latency: 40\n", env={})
    text = str(caught.value)
    assert "remote.on_detach" in text and ":5:" in text
    assert "audio.pulse.rate" in text and "audio.pulse.latency" in text


def test_reliability_bounds_default_and_validate() -> None:
    config = parse_config(MINIMAL, env=ENV)
    sip = config.sip
    assert (sip.reconnect_probe_s, sip.reconnect_probe_window_s) == (4.0, 60.0)
    assert (sip.udp_register_refresh_s, sip.register_answer_timeout_s) == (30.0, 8.0)
    tuned = parse_config(MINIMAL + "sip:\n  udp_register_refresh_s: 0\n"
                         "  register_answer_timeout_s: 0\n  reconnect_probe_window_s: 0\n",
                         env=ENV)
    assert tuned.sip.udp_register_refresh_s == 0 and tuned.sip.reconnect_probe_window_s == 0
    got = where(MINIMAL + "sip:\n  udp_register_refresh_s: 2\n  reconnect_probe_s: 0\n"
                "  register_answer_timeout_s: -1\n")
    assert set(got) == {"sip.udp_register_refresh_s", "sip.reconnect_probe_s",
                        "sip.register_answer_timeout_s"}
    messages = {p.path: p.message for p in problems(MINIMAL + "sip: {udp_register_refresh_s: 2}\n")}
    assert messages == {"sip.udp_register_refresh_s": "must be 0 (off) or at least 5"}
