"""Hook templates: ``{name}`` replaced by a call's field, ``{{`` and ``}}`` for braces.

A hook's argv elements and URL are templates over :data:`HOOK_VARIABLES`. Deliberately
not ``str.format``: a format string can reach attributes (``{x.__class__}``) and index
into values, and a typo would surface only when the hook fires. Here a template is a
flat list of names, checked when the config loads (:func:`template_error` names the
unknown variable), and rendering is plain substitution with an optional encoder (URLs
percent-encode each value, RFC 3986 §2.1; argv elements take values as they are, since
no shell ever reads them).

A root module beside the config, since the config checks templates when it loads and the
control layer (:mod:`agentconsole.control.hooks`) renders them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

#: Every variable a hook template may use. Values are strings; a field that does not
#: apply to the event (``cause`` on ``incoming``) is the empty string.
HOOK_VARIABLES: tuple[str, ...] = (
    "event", "call_id", "number", "name", "company", "queue", "did", "direction",
    "cause", "code", "duration", "answered", "wrapup_code", "notes", "state", "reason",
    "time",
)

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")


def template_names(text: str) -> list[str]:
    """The variable names ``text`` uses, in order; raises ValueError on a stray brace."""
    names: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if match.group(1) is None:
            raise ValueError(f"unmatched {token!r} at {match.start()} (write {token * 2} "
                             "for a literal brace)")
        names.append(match.group(1))
    return names


def template_error(text: str) -> str | None:
    """Why ``text`` is not a valid hook template, or None (a config check)."""
    try:
        names = template_names(text)
    except ValueError as exc:
        return str(exc)
    unknown = [n for n in names if n not in HOOK_VARIABLES]
    if unknown:
        return (f"unknown variable {{{unknown[0]}}} (known: "
                f"{', '.join(HOOK_VARIABLES)})")
    return None


def render(text: str, values: Mapping[str, str],
           encode: Callable[[str], str] | None = None) -> str:
    """``text`` with each ``{name}`` replaced by ``encode(values[name])`` (missing: "")."""

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name is None:
            return token
        value = str(values.get(name, ""))
        return encode(value) if encode is not None else value

    return _TOKEN.sub(substitute, text)


__all__ = ["HOOK_VARIABLES", "render", "template_error", "template_names"]
