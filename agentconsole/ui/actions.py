"""The console's actions: stable binding ids, their default keys, and the keymap resolver.

The ids are a contract (DESIGN §5): scripts, docs and users' ``ui.keymap`` refer to them,
so they never change spelling. Keys are data: :func:`resolve_keymap` overlays the user's
``ui.keymap`` on the defaults and refuses, with a :class:`~agentconsole.errors.ConfigError`
naming the keys, a map where two actions share a key, an unknown id, or plain ``escape``
on a destructive action (Textual reads escape as "back", and over SSH it arrives only
after a delay because it is also the prefix of every escape sequence).

Selecting a call (issue 5, item 2: "arrows, Tab, line numbers"): ``call.next`` /
``call.prev`` take the arrows, ``j`` / ``k`` and Tab / shift+Tab (Tab falls back to
Textual's focus cycling while fewer than two calls are up); ``call.line`` jumps to a line
by number. Its keys are positional: the first selects line 1, the second line 2, and so
on, ``alt+1`` ... ``alt+9`` by default (plain digits are DTMF). Remapping it to
``"f6, f7"`` gives two line keys; they are checked for conflicts like any other key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import _character_to_key, format_key

from ..errors import ConfigError, ConfigProblem


@dataclass(frozen=True)
class ActionSpec:
    """One remappable action: id, default keys (comma separated), footer text, help."""

    id: str
    keys: str
    label: str
    help: str
    show: bool = True
    destructive: bool = False

    @property
    def method(self) -> str:
        """The Textual action name (``call.answer`` -> ``call_answer``)."""
        return self.id.replace(".", "_")


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("call.answer", "a", "Answer", "Answer selected/oldest ringing call"),
    ActionSpec("call.reject", "r", "Reject", "Reject the selected ringing call",
               destructive=True),
    ActionSpec("call.hangup", "h", "Hang up", "Hang up (press twice when talking)",
               destructive=True),
    ActionSpec("call.hold", "space", "Hold", "Hold / resume the selected call"),
    ActionSpec("call.mute", "m", "Mute", "Mute / unmute the selected call"),
    ActionSpec("call.transfer", "t", "Transfer", "Blind-transfer the selected call"),
    ActionSpec("call.consult", "T", "Consult", "Call someone before transferring"),
    ActionSpec("call.complete_transfer", "c", "Complete", "Complete the attended transfer"),
    ActionSpec("call.cancel_transfer", "X", "Cancel xfer", "Cancel it, back to the caller",
               destructive=True),
    ActionSpec("call.swap", "s", "Swap", "Swap caller / consulted party"),
    ActionSpec("call.record", "R", "Record", "Start / stop recording"),
    ActionSpec("call.pause_record", "P", "Pause rec", "Pause / resume the recording"),
    ActionSpec("call.next", "down,j,tab", "Next", "Select the next call", show=False),
    ActionSpec("call.prev", "up,k,shift+tab", "Prev", "Select the previous call", show=False),
    ActionSpec("call.line", ",".join(f"alt+{n}" for n in range(1, 10)), "Line",
               "Select the call on line N", show=False),
    ActionSpec("dial", "d", "Dial", "Dial a number or directory name"),
    ActionSpec("redial", "D", "Redial", "Dial the last number again", show=False),
    ActionSpec("agent.state", "f2", "State", "Available/Away/ACW/DND/Offline"),
    ActionSpec("agent.auto_answer", "f6", "Auto-answer",
               "Auto-answer queue calls after a delay: on / off", show=False),
    ActionSpec("wrapup", "w", "Wrap-up", "Open the next waiting wrap-up", show=False),
    ActionSpec("history", "f3", "History", "Call history", show=False),
    ActionSpec("devices", "f4", "Devices", "Audio devices", show=False),
    ActionSpec("trace", "f5", "Trace", "Live SIP trace", show=False),
    ActionSpec("help", "question_mark", "Help", "This key map"),
    ActionSpec("palette", "slash", "Commands", "Command palette (every action)",
               show=False),
    ActionSpec("quit", "ctrl+q", "Quit", "Quit (asks when calls are up)", destructive=True),
    ActionSpec("detach", "ctrl+backslash", "Detach",
               "Free the terminal, keep the phone running",
               show=False),
)

ACTION_IDS: tuple[str, ...] = tuple(a.id for a in ACTIONS)
BY_ID: dict[str, ActionSpec] = {a.id: a for a in ACTIONS}


def _normalize(key: str) -> str:
    key = key.strip()
    if not key:
        return key
    if len(key) == 1:
        return _character_to_key(key)
    mods, sep, last = key.rpartition("+")
    if mods.lower() == "shift" and len(last) == 1 and last.isalpha():
        return last.upper()  # terminals send shift+t as "T"
    if sep and len(last) == 1:
        return f"{mods.lower()}+{_character_to_key(last)}"
    return key.lower() if not sep else f"{mods.lower()}+{last.lower()}"


def split_keys(keys: str) -> tuple[str, ...]:
    """``"down, j"`` -> ``("down", "j")``; single characters become Textual key names."""
    return tuple(k for k in (_normalize(part) for part in keys.split(",")) if k)


def resolve_keymap(overrides: Mapping[str, str] | None = None,
                   source: str | None = None) -> dict[str, tuple[str, ...]]:
    """Binding id -> keys, the defaults overlaid with ``overrides`` (``ui.keymap``).

    Raises :class:`ConfigError` listing every unknown id, empty key list, key shared
    by two actions, and destructive action bound to plain ``escape``.
    """
    overrides = dict(overrides or {})
    problems: list[ConfigProblem] = []
    resolved: dict[str, tuple[str, ...]] = {}
    for action_id in overrides:
        if action_id not in BY_ID:
            problems.append(ConfigProblem(f"ui.keymap.{action_id}", None,
                                          "unknown action id (see `?` in the console for "
                                          "the list)"))
    for spec in ACTIONS:
        keys: tuple[str, ...] = split_keys(overrides.get(spec.id, spec.keys))
        if not keys:
            problems.append(ConfigProblem(f"ui.keymap.{spec.id}", None, "no key given"))
        if spec.destructive and "escape" in keys:
            problems.append(ConfigProblem(
                f"ui.keymap.{spec.id}", None,
                "plain escape cannot end a call or quit (it is 'back' and arrives late "
                "over SSH); choose another key"))
        resolved[spec.id] = keys
    owner: dict[str, str] = {}
    for action_id, bound in resolved.items():
        for key in bound:
            if key in owner:
                problems.append(ConfigProblem(
                    f"ui.keymap.{action_id}", None,
                    f"key {format_key(key)!r} is also bound to {owner[key]}"))
            else:
                owner[key] = action_id
    if problems:
        raise ConfigError(problems, source)
    return resolved


#: The action whose keys are positional: its Nth key runs ``call_line(N)``.
LINE_ACTION = "call.line"


def build_bindings(keymap: Mapping[str, tuple[str, ...]]) -> list[Binding]:
    """Textual bindings for the main screen, one per action id (keys from ``keymap``);
    ``call.line`` gets one per key, each carrying its line number."""
    bindings: list[Binding] = []
    for spec in ACTIONS:
        if spec.id == LINE_ACTION:
            bindings.extend(Binding(key, f"{spec.method}({line})", f"{spec.label} {line}",
                                    show=spec.show, id=spec.id, tooltip=spec.help)
                            for line, key in enumerate(keymap[spec.id], start=1))
            continue
        bindings.append(Binding(",".join(keymap[spec.id]), spec.method, spec.label,
                                show=spec.show, id=spec.id, tooltip=spec.help))
    return bindings


def describe_keys(keys: tuple[str, ...]) -> str:
    """How a key list reads on screen: ``("down", "j")`` -> ``"↓ / j"``; a run of
    modified digits reads as a range, ``alt+1`` ... ``alt+9`` -> ``"alt+1…9"``."""
    mods = {k.rpartition("+")[0] for k in keys}
    tails = "".join(k.rpartition("+")[2] for k in keys)
    if len(keys) > 2 and len(mods) == 1 and "" not in mods and tails.isdigit() \
            and len(tails) == len(keys) and tails in "123456789":
        return f"{format_key(keys[0])}…{tails[-1]}"
    return " / ".join(format_key(k) for k in keys)
