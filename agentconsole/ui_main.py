"""Start the console from the command line: build the app, keep logs off the screen, run.

Kept apart from :mod:`agentconsole.cli` so ``agentconsole --help`` and the other
subcommands never import Textual. It is also where the console meets the integration
layer (:mod:`agentconsole.control`: the control socket, hooks, auto-answer) and the
detach layer (:mod:`agentconsole.remote`: the side channel to the holder the console may
run in): the console may import neither, so this entry module builds them on one phone
and hands them to the app as an :class:`~agentconsole.ui.integration.IntegrationAPI` and
a :class:`~agentconsole.ui.remote_view.RemoteLinkAPI`. Started through a holder, all of
this runs in the held process (the phone's), so the control socket opens once, there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import logging.handlers
import os
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from . import paths
from .config import Config
from .errors import ConfigError

if TYPE_CHECKING:
    from .control.integration import Integration
    from .history import CallHistory
    from .ui.app import AgentConsoleApp

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_UNAVAILABLE = 2
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


def console_app(config: Config, *, history: CallHistory | None = None,
                env: MutableMapping[str, str] | None = None
                ) -> tuple[AgentConsoleApp, Integration]:
    """The console app and the integration layer (control socket, hooks, auto-answer)
    of one new phone; raises ConfigError for a bad ``ui.keymap``.

    Run by a holder (:mod:`agentconsole.remote`: ``agentconsole`` in a terminal) the
    console finds the side channel in ``env`` and can be detached and attached again,
    the ``remote.on_detach`` policy watching the phone; otherwise it is the same console
    without the detach key."""
    from .control.integration import Integration
    from .remote.link import from_environment
    from .softphone.phone import Phone
    from .ui.app import AgentConsoleApp

    env = os.environ if env is None else env
    phone = Phone(config)
    integration = Integration(phone, config)
    link = from_environment(phone, config.remote.on_detach, env)
    app = AgentConsoleApp(config, phone=phone, history=history, integration=integration,
                          remote=link, over_ssh=bool(env.get("SSH_CONNECTION")))
    return app, integration


def run_app(app: AgentConsoleApp, integration: Integration, err: TextIO) -> int:
    """Open the control socket, run the console until the agent quits, close the socket.

    A second instance on the same control socket stops here, before the console takes
    the terminal, with the reason on ``err``."""
    from .control.server import ControlServerError

    async def run() -> int | None:
        await integration.start()
        try:
            return await app.run_async()
        finally:
            await integration.stop()

    try:
        code = asyncio.run(run())
    except ControlServerError as exc:
        print(f"agentconsole: {exc}", file=err)
        return EXIT_UNAVAILABLE
    return int(code or EXIT_OK)


def with_free_control_socket(config: Config, err: TextIO) -> Config:
    """``config`` for the demo's console: on the default control socket, so
    ``agentconsole ctl`` and ``examples/crm.js`` reach it as they would the agent's own
    console; when an agentconsole already holds that socket (the agent's console is open
    while they try the demo), on ``demo-control.sock`` beside it instead of refusing to
    start, said on ``err``."""
    from .control.server import ControlServerError, InstanceLock

    default = config.control.socket_path
    lock = InstanceLock(default)
    try:
        paths.private_dir(default.parent)
        lock.acquire()
    except (ControlServerError, OSError):
        moved = default.with_name("demo-control.sock")
        print(f"another agentconsole holds {default}; the demo's control socket is {moved}",
              file=err)
        control = dataclasses.replace(config.control, socket=str(moved))
        return dataclasses.replace(config, control=control)
    lock.release()
    return config


def run_console(config: Config, err: TextIO) -> int:
    """Run the console until the agent quits; returns the exit status."""
    try:
        app, integration = console_app(config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem.format(config.source), file=err)
        return EXIT_PROBLEMS
    for warning in config.warnings:
        print(warning.format(config.source, label="warning"), file=err)
    with logs_to_file(log_path()):
        return run_app(app, integration, err)
