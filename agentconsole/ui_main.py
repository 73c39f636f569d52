"""Start the console from the command line: build the app, keep logs off the screen, run.

Kept apart from :mod:`agentconsole.cli` so ``agentconsole --help`` and the other
subcommands never import Textual.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from . import paths
from .config import Config
from .errors import ConfigError

EXIT_OK = 0
EXIT_PROBLEMS = 1
LOG_MAX_BYTES = 5 * 2**20
LOG_BACKUPS = 3


def log_path(env: dict[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/agentconsole/console.log`` (default ``~/.local/state/...``)."""
    return paths.log_file_path(env)


@contextmanager
def logs_to_file(path: Path) -> Iterator[None]:
    """Move terminal log handlers to ``path`` while the full-screen UI owns the terminal."""
    root = logging.getLogger()
    moved = [h for h in root.handlers if isinstance(h, logging.StreamHandler)
             and not isinstance(h, logging.FileHandler)
             and getattr(getattr(h, "stream", None), "isatty", lambda: False)()]
    file_handler: logging.Handler | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Rotated, so months of shifts never fill the disk: 5 MB, then console.log.1 .. .3.
        file_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    except OSError:
        file_handler = None
    if file_handler is not None:
        fmt = moved[0].formatter if moved else None
        file_handler.setFormatter(fmt or logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(file_handler)
    for handler in moved:
        root.removeHandler(handler)
    try:
        yield
    finally:
        for handler in moved:
            root.addHandler(handler)
        if file_handler is not None:
            root.removeHandler(file_handler)
            file_handler.close()


def run_console(config: Config, err: TextIO) -> int:
    """Run the console until the agent quits; returns the exit status.

    Run by a holder (agentconsole.remote) it finds the side channel in its environment
    and can be detached and attached again; otherwise it is the same console."""
    from .remote.link import from_environment
    from .ui.app import AgentConsoleApp

    link = from_environment(config.remote.on_detach)
    try:
        app = AgentConsoleApp(config, remote=link,
                              over_ssh=bool(os.environ.get("SSH_CONNECTION")))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem.format(config.source), file=err)
        return EXIT_PROBLEMS
    for warning in config.warnings:
        print(warning.format(config.source, label="warning"), file=err)
    with logs_to_file(log_path()):
        code = app.run()
    return int(code or EXIT_OK)
