"""Where agentconsole keeps its files: every default path in one place.

The XDG base directories decide (``XDG_CONFIG_HOME``, ``XDG_DATA_HOME``,
``XDG_STATE_HOME``, ``XDG_RUNTIME_DIR``), with the spec's fallbacks under ``~``. Every
function takes an optional ``env`` mapping so tests (and ``agentconsole locate``) can ask
"where would it be with this environment" without touching ``os.environ``.

Nothing here creates a file; :func:`private_dir` is the one helper that makes a
directory, 0700, for things only this user may reach (the control socket).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

APP = "agentconsole"
#: Environment variable naming the config file (after ``--config``).
CONFIG_ENV = "AGENTCONSOLE_CONFIG"


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _base(env: Mapping[str, str] | None, var: str, fallback: str) -> Path:
    value = _env(env).get(var)
    # The XDG spec: a relative path in these variables is invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path(fallback).expanduser()


def config_home(env: Mapping[str, str] | None = None) -> Path:
    return _base(env, "XDG_CONFIG_HOME", "~/.config") / APP


def data_home(env: Mapping[str, str] | None = None) -> Path:
    return _base(env, "XDG_DATA_HOME", "~/.local/share") / APP


def state_home(env: Mapping[str, str] | None = None) -> Path:
    return _base(env, "XDG_STATE_HOME", "~/.local/state") / APP


def config_search(env: Mapping[str, str] | None = None) -> list[tuple[str, Path]]:
    """The places a config file is looked for, in order, after ``--config PATH``."""
    places: list[tuple[str, Path]] = []
    explicit = _env(env).get(CONFIG_ENV)
    if explicit:
        places.append((f"${CONFIG_ENV}", Path(explicit).expanduser()))
    places.append(("XDG default", config_home(env) / "config.yaml"))
    return places


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$AGENTCONSOLE_CONFIG``, else ``$XDG_CONFIG_HOME/agentconsole/config.yaml``."""
    return config_search(env)[0][1]


def user_themes_dir(env: Mapping[str, str] | None = None) -> Path:
    return config_home(env) / "themes"


def bundled_themes_dir() -> Path:
    """The themes that ship with agentconsole.

    An installed wheel carries them as ``agentconsole/themes/`` (package data); a source
    checkout keeps them in the repository's top-level ``themes/``, beside
    ``pyproject.toml`` (the editable install used for development reads them there).
    """
    package = Path(__file__).resolve().parent
    installed = package / "themes"
    checkout = package.parent / "themes"
    if not installed.is_dir() and (package.parent / "pyproject.toml").is_file():
        return checkout
    return installed


def history_db_path(env: Mapping[str, str] | None = None) -> Path:
    return data_home(env) / "history.sqlite3"


def recordings_dir(env: Mapping[str, str] | None = None) -> Path:
    """The default of ``recording.directory``."""
    return data_home(env) / "recordings"


def log_file_path(env: Mapping[str, str] | None = None) -> Path:
    return state_home(env) / "console.log"


def runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_RUNTIME_DIR/agentconsole``; without that variable a per-user directory
    under the system temp dir (``/tmp/agentconsole-<uid>``), which :func:`private_dir`
    creates 0700 and refuses when another user owns it."""
    value = _env(env).get("XDG_RUNTIME_DIR")
    if value and os.path.isabs(value):
        return Path(value) / APP
    tmp = _env(env).get("TMPDIR") or "/tmp"
    return Path(tmp) / f"{APP}-{os.getuid()}"


def control_socket_path(env: Mapping[str, str] | None = None) -> Path:
    """The default of ``control.socket``: ``<runtime dir>/control.sock``."""
    return runtime_dir(env) / "control.sock"


# ----- detachable consoles (agentconsole.remote) -------------------------------------------
#: Prefix of a running console's files in the runtime dir (``console-<key>.sock`` ...).
CONSOLE_PREFIX = "console-"


def console_key(config: Path) -> str:
    """A short stable name for the console of ``config`` (its absolute path, hashed):
    one running console per config file."""
    resolved = str(Path(config).expanduser().resolve())
    return hashlib.sha256(resolved.encode()).hexdigest()[:16]


def console_socket_path(config: Path, env: Mapping[str, str] | None = None) -> Path:
    """The attach socket of the console running ``config``: ``<runtime dir>/console-<key>.sock``
    (a ``.lock`` beside it is held while the console runs)."""
    return runtime_dir(env) / f"{CONSOLE_PREFIX}{console_key(config)}.sock"


def demo_socket_path(env: Mapping[str, str] | None = None) -> Path:
    """The attach socket of ``agentconsole demo`` (one demo at a time)."""
    return runtime_dir(env) / f"{CONSOLE_PREFIX}demo.sock"


def holder_log_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the process holding a detachable console logs (it has no terminal)."""
    return state_home(env) / "holder.log"


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700, or check an existing one is ours
    and not reachable by others; raises PermissionError with a readable message."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid():
        raise PermissionError(f"{path} belongs to another user")
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path
