"""Unit tests of the console's pure parts: keymap, agent menu, view text, themes, dialling."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentconsole.config import AgentConfig
from agentconsole.errors import ConfigError
from agentconsole.softphone.status import CallStatus, TimerType
from agentconsole.ui.actions import ACTION_IDS, ACTIONS, build_bindings, resolve_keymap
from agentconsole.ui.screens.dialogs import menu_choices
from agentconsole.ui.themes import DEFAULT_THEME, load_themes, shipped_dir
from agentconsole.ui.view import badges, call_state, fmt_duration, sparkline, timers_text
from agentconsole.ui.widgets.dial_bar import resolve, suggest

CONTRACT = [
    "call.answer", "call.reject", "call.hangup", "call.hold", "call.mute", "call.transfer",
    "call.consult", "call.complete_transfer", "call.cancel_transfer", "call.swap",
    "call.record", "call.pause_record", "call.next", "call.prev", "call.line", "dial", "redial",
    "agent.state", "agent.auto_answer", "wrapup", "history", "devices", "trace", "help",
    "palette", "quit", "detach",
]


def test_binding_ids_are_exactly_the_design_contract() -> None:
    """DESIGN §5's ids (a contract) plus ``call.line`` (line-number selection, one binding
    per line key), ``agent.auto_answer`` (the auto-answer mode, issue 14) and ``detach``
    (leave the console running, issue 15)."""
    assert list(ACTION_IDS) == CONTRACT
    ids = [b.id for b in build_bindings(resolve_keymap())]
    assert list(dict.fromkeys(ids)) == CONTRACT
    assert ids.count("call.line") == 9


def test_default_keymap_has_no_conflict_and_no_destructive_escape() -> None:
    keymap = resolve_keymap()
    keys = [k for ks in keymap.values() for k in ks]
    assert len(keys) == len(set(keys)) and "escape" not in keys


def test_keymap_normalises_characters_and_shift_letters() -> None:
    keymap = resolve_keymap({"help": "?", "call.consult": "shift+c",
                             "call.complete_transfer": "ctrl+Enter, K"})
    assert keymap["help"] == ("question_mark",)
    assert keymap["call.consult"] == ("C",)
    assert keymap["call.complete_transfer"] == ("ctrl+enter", "K")


def test_swapping_two_keys_is_not_a_conflict() -> None:
    keymap = resolve_keymap({"call.answer": "r", "call.reject": "a"})
    assert keymap["call.answer"] == ("r",) and keymap["call.reject"] == ("a",)


def test_conflict_error_names_both_actions_and_collects_all_problems() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_keymap({"call.mute": "a", "quit": "escape", "call.hold": ""}, "agent.yaml")
    text = str(info.value)
    assert "call.answer" in text and "ui.keymap.call.mute" in text
    assert "ui.keymap.quit" in text and "ui.keymap.call.hold" in text
    assert len(info.value.problems) == 3


def test_every_action_has_help_and_a_method_name() -> None:
    for spec in ACTIONS:
        assert spec.help and spec.method.isidentifier()


def test_menu_lists_each_away_reason() -> None:
    labels = [row[0] for row in menu_choices(AgentConfig(states=("Break", "Lunch")))]
    assert labels == ["Available", "Away: Break", "Away: Lunch", "After-call work",
                      "Do not disturb", "Offline"]


def test_durations() -> None:
    assert fmt_duration(0) == "00:00" and fmt_duration(65.9) == "01:05"
    assert fmt_duration(3600 + 61) == "1:01:01"


def status(**kw: object) -> CallStatus:
    base: dict[str, object] = {"call_id": "c", "number": "1", "communication_type": "inbound"}
    return CallStatus(**{**base, **kw})  # type: ignore[arg-type]


def test_states_and_badges_read_as_words() -> None:
    assert call_state(status(is_ring=True, call_status="connecting")) == "RINGING"
    assert call_state(status(call_status="calling")) == "CALLING"
    assert call_state(status(call_status="talking", is_hold=True)) == "HELD"
    assert call_state(status(call_status="talking", is_transfer=True)) == "CONSULT"
    assert call_state(status(call_status="talking")) == "TALKING"
    assert badges(status(is_mute=True, is_hold=True, record_status="pause")) == \
        ["MUTED", "HELD", "REC-PAUSED"]
    assert timers_text("HELD", TimerType(call_duration=70, hold_duration=5)) == \
        "Talk 01:10  Hold 00:05"


def test_sparkline_uses_a_fixed_mos_scale() -> None:
    assert sparkline([1.0, 4.5]) == "▁█"
    assert sparkline([]) == ""
    assert len(sparkline([3.0] * 20)) == 8


def test_completion_and_resolution_from_directory_and_recent() -> None:
    entries = [("Alice Support", "1002"), ("Bob Sales", "1003")]
    assert suggest("ali", entries, []) == "Alice Support"
    assert suggest("100", entries, ["1009"]) == "1009"
    assert suggest("zzz", entries, []) is None
    assert resolve("alice support", entries) == "1002"
    assert resolve("+49 30 1", entries) == "+49 30 1"


def test_shipped_themes_load(tmp_path: Path) -> None:
    themes = load_themes([shipped_dir()])
    assert {DEFAULT_THEME, "agentconsole-light", "agentconsole-high-contrast"} <= set(themes)
    assert themes["agentconsole-light"].dark is False


def test_a_broken_user_theme_is_skipped_and_a_user_theme_can_replace(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('name = "bad"\nprimary = "not-a-colour"\n')
    (tmp_path / "typo.toml").write_text('name = "typo"\nprimray = "#fff"\n')
    (tmp_path / "mine.toml").write_text(f'name = "{DEFAULT_THEME}"\nprimary = "#FF0000"\n')
    themes = load_themes([shipped_dir(), tmp_path])
    assert "bad" not in themes and "typo" not in themes
    assert themes[DEFAULT_THEME].primary == "#FF0000"


def test_transfer_progress_reads_as_words() -> None:
    from agentconsole.ui.view import transfer_text

    assert transfer_text({"call_id": "c", "state": "ringing", "status": 180}) == \
        "the target is ringing (180)"
    assert transfer_text({"state": "succeeded", "status": 200}) == "transferred (200)"
    assert transfer_text({"state": "failed", "status": 486}) == "transfer failed (486)"
    assert "call_id" not in transfer_text({"call_id": "c", "state": "trying", "status": 202})
