"""``agentconsole locate``: where agentconsole reads and writes its files, right now.

Every place comes from :mod:`agentconsole.paths` (the XDG directories and the
environment); the recordings directory and the control socket from the config when one
loads, since ``recording.directory`` and ``control.socket`` move them; the console socket
(``agentconsole attach``) from the config file's path. ``--json`` prints
the same for scripts: an object of ``{"path": ..., "exists": ..., "source": ...}``
entries.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from . import paths
from .config import Config, ConfigError, load_config


@dataclass(frozen=True)
class Place:
    label: str
    path: Path
    source: str

    @property
    def exists(self) -> bool:
        return self.path.exists()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON object for scripts")


def _config_place(explicit: str | None, env: Mapping[str, str] | None) -> Place:
    if explicit:
        return Place("config file", Path(explicit), "--config")
    source, path = paths.config_search(env)[0]
    return Place("config file", path, source)


def _load(place: Place) -> tuple[Config | None, str]:
    """The config, or None and why not (a missing file is not a problem here)."""
    if not place.path.is_file():
        return None, "default (no config file)"
    try:
        return load_config(place.path), ""
    except ConfigError as exc:
        count = len(exc.problems)
        return None, (f"default (the config has {count} problem{'s' if count != 1 else ''}: "
                      "agentconsole check-config)")


def _recordings(config: Config | None, why_default: str,
                env: Mapping[str, str] | None) -> Place:
    if config is not None:
        return Place("recordings", Path(config.recording.directory).expanduser(),
                     "recording.directory")
    return Place("recordings", paths.recordings_dir(env), why_default)


def _control_socket(config: Config | None, env: Mapping[str, str] | None) -> Place:
    """``control.socket`` of the config when it loads and sets one, else the default
    (what the console and ``agentconsole serve`` listen on, ``ctl`` and ``dial`` use)."""
    if config is not None and config.control.socket:
        return Place("control socket", config.control.socket_path, "control.socket")
    return Place("control socket", paths.control_socket_path(env), "default")


def places(explicit_config: str | None = None,
           env: Mapping[str, str] | None = None) -> dict[str, Place]:
    """Every file and folder agentconsole uses, by a stable key (the JSON's)."""
    config_place = _config_place(explicit_config, env)
    config, why_default = _load(config_place)
    return {
        "config": config_place,
        "themes_bundled": Place("themes (bundled)", paths.bundled_themes_dir(), "agentconsole"),
        "themes_user": Place("themes (yours)", paths.user_themes_dir(env), "XDG_CONFIG_HOME"),
        "history": Place("call history", paths.history_db_path(env), "XDG_DATA_HOME"),
        "recordings": _recordings(config, why_default, env),
        "log": Place("log file", paths.log_file_path(env), "XDG_STATE_HOME"),
        "control_socket": _control_socket(config, env),
        # The console of this config held for `agentconsole attach` (agentconsole.remote).
        "console_socket": Place("console socket", paths.console_socket_path(
            config_place.path, env), "config path, XDG_RUNTIME_DIR"),
        "holder_log": Place("holder log", paths.holder_log_path(env), "XDG_STATE_HOME"),
    }


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    found = places(args.config)
    if args.json:
        data = {key: {**asdict(place), "path": str(place.path), "exists": place.exists}
                for key, place in found.items()}
        print(json.dumps(data, indent=2), file=out)
        return 0
    width = max(len(place.label) for place in found.values()) + 2
    for place in found.values():
        state = "" if place.exists else "  (not there yet)"
        print(f"{place.label:<{width}}{place.path}{state}  [{place.source}]", file=out)
    return 0
