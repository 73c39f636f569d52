"""Theme files: TOML documents in the bundled ``themes/`` folder and the user's config dir.

A theme file holds the fields of a Textual :class:`~textual.theme.Theme` (``name``,
``primary``, ``background`` ...) and an optional ``[variables]`` table. Widgets use
theme variables only (``$success``, ``$warning`` ...), so a file is all a new look needs.
User files (``$XDG_CONFIG_HOME/agentconsole/themes/*.toml``) load after the shipped ones
and may replace them by name. A broken file is skipped with a logged warning: a typo in
a colour must not keep an agent from taking calls.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from textual.color import ColorParseError
from textual.theme import Theme

from .. import paths

logger = logging.getLogger(__name__)

DEFAULT_THEME = "agentconsole-dark"
_FIELDS = {f.name for f in fields(Theme)} - {"variables"}


def shipped_dir() -> Path:
    """The bundled themes: top-level ``themes/`` in a checkout, package data in a wheel."""
    return paths.bundled_themes_dir()


def user_dir(env: Mapping[str, str] | None = None) -> Path:
    return paths.user_themes_dir(env)


def parse_theme(data: Mapping[str, object], source: str) -> Theme:
    """A Theme from a decoded TOML table; ValueError names the bad key."""
    unknown = set(data) - _FIELDS - {"variables"}
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
    if not isinstance(data.get("name"), str) or not isinstance(data.get("primary"), str):
        raise ValueError(f"{source}: 'name' and 'primary' are required strings")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError(f"{source}: [variables] must be a table")
    kwargs: dict[str, Any] = {k: v for k, v in data.items() if k != "variables"}
    theme = Theme(**kwargs, variables={str(k): str(v) for k, v in variables.items()})
    theme.to_color_system()  # raises on a colour Textual cannot parse
    return theme


def load_theme_file(path: Path) -> Theme:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return parse_theme(data, str(path))


def load_themes(directories: Iterable[Path] | None = None) -> dict[str, Theme]:
    """Every readable theme in ``directories`` (default: shipped, then user), by name."""
    dirs = list(directories) if directories is not None else [shipped_dir(), user_dir()]
    themes: dict[str, Theme] = {}
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except (OSError, ValueError, TypeError, ColorParseError,
                    tomllib.TOMLDecodeError) as exc:
                logger.warning("theme %s skipped: %s", path, exc)
                continue
            themes[theme.name] = theme
    return themes
