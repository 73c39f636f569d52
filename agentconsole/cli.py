"""Command line: ``agentconsole [--config PATH] [-v] [COMMAND ...]``.

Subcommands live in :data:`SUBCOMMANDS` (name -> :class:`Subcommand`), so adding one is a
handler function plus one entry. Handlers return the process exit status; they write to
the ``out``/``err`` streams they are given so tests can capture them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from . import __version__, cli_completion, cli_help, cli_locate, cli_register
from .config import Config, ConfigError, load_config

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_UNAVAILABLE = 2


@dataclass(frozen=True)
class Subcommand:
    help: str
    run: Callable[[argparse.Namespace, TextIO, TextIO], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


def config_path(args: argparse.Namespace) -> Path:
    """The config file a command should use: its own PATH, --config, then the default."""
    explicit = getattr(args, "path", None) or args.config
    return Path(explicit) if explicit else Config.default_path()


def _summary(config: Config) -> str:
    acc = config.account
    if acc.password_env:
        secret = f"password from ${acc.password_env}"
    else:
        secret = "password set" if acc.password is not None else "no password"
    via = f" via {acc.outbound_proxy}" if acc.outbound_proxy else ""
    entries = len(config.directory)
    return (
        f"OK: {acc.aor} over {acc.transport}, registrar {acc.registrar_uri}{via}, {secret}, "
        f"{entries} directory entr{'y' if entries == 1 else 'ies'}"
    )


def _check_config(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    path = config_path(args)
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem.format(str(path)), file=out)
        count = len(exc.problems)
        print(f"{count} problem{'s' if count != 1 else ''} found", file=err)
        return EXIT_PROBLEMS
    for warning in config.warnings:
        print(warning.format(str(path), label="warning"), file=out)
    print(f"{path}: {_summary(config)}", file=out)
    return EXIT_OK


def _demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The console on the embedded demo switch (``--headless``: the switch alone); in a
    terminal held like the console (see :func:`_detachable_demo`)."""
    if not args.headless:
        held = _detachable_demo(args, err)
        if held is not None:
            return held
    from .demo.command import run

    return run(args, out, err)


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    from .demo.command import add_arguments

    add_arguments(parser)


def load_or_report(args: argparse.Namespace, err: TextIO) -> Config | None:
    """The command's config, or None after printing every problem as FILE:LINE: key: msg."""
    path = config_path(args)
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem.format(str(path)), file=err)
        return None


def _console(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The agent console (Textual) on the loaded config; Textual loads only here.

    In a terminal it runs inside a holder so it outlives the terminal (see
    :func:`_detachable_console`); the holder's own child is this same path with
    ``--no-detach``."""
    config = load_or_report(args, err)
    if config is None:
        return EXIT_PROBLEMS
    detached = _detachable_console(args, err)
    if detached is not None:
        return detached
    from .ui_main import run_console

    return run_console(config, err)


# ----- detachable console: agentconsole.remote (start through a holder, attach) -----------
def _detachable_console(args: argparse.Namespace, err: TextIO) -> int | None:
    """Start or join the console for this config through a holder; None: run directly."""
    from .remote.command import config_target, detachable, start_console

    if not detachable(args):
        return None
    return start_console(config_target(config_path(args), args.verbose), err)


def _detachable_demo(args: argparse.Namespace, err: TextIO) -> int | None:
    """The demo (switch, parties and console) through a holder; None: run it directly."""
    from .demo.command import arguments_again
    from .remote.command import demo_target, detachable, start_console

    if not detachable(args):
        return None
    return start_console(demo_target(arguments_again(args), args.verbose), err)


def _attach(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``agentconsole attach [--list]``: back to a running console."""
    from .remote.command import attach_command

    explicit = Path(args.config) if args.config else None
    return attach_command(args, explicit, Config.default_path(), out, err)


def _attach_arguments(parser: argparse.ArgumentParser) -> None:
    from .remote.command import add_attach_arguments

    add_attach_arguments(parser)


def _add_remote_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-detach", action="store_true",
                        help="run the console in this terminal only: it ends with the "
                             "terminal (default in a terminal: it keeps running, "
                             "`agentconsole attach` brings it back)")
# ----- end of the detachable console block ---------------------------------------------------


def _check_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="config file (default: --config, $AGENTCONSOLE_CONFIG, XDG)")


# ----- the integration layer (agentconsole.control): loaded only when used -----------------
def _ctl(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .control.commands import run_ctl

    return run_ctl(args, out, err)


def _ctl_arguments(parser: argparse.ArgumentParser) -> None:
    from .control.commands import add_ctl_arguments

    add_ctl_arguments(parser)


def _dial(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .control.commands import run_dial

    return run_dial(args, out, err)


def _dial_arguments(parser: argparse.ArgumentParser) -> None:
    from .control.commands import add_dial_arguments

    add_dial_arguments(parser)


def _serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .control.commands import run_serve

    return run_serve(args, out, err)


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    from .control.commands import add_serve_arguments

    add_serve_arguments(parser)


SUBCOMMANDS: dict[str, Subcommand] = {
    "check-config": Subcommand("validate a config file and list every problem",
                               _check_config, _check_config_arguments),
    "demo": Subcommand("run the console against the embedded demo switch", _demo,
                       _demo_arguments),
    "register": Subcommand("register the account, print what happens, un-register",
                           cli_register.run, cli_register.add_arguments),
    "locate": Subcommand("print where the config, themes, history, recordings, log and "
                         "control socket are", cli_locate.run, cli_locate.add_arguments),
    "completion": Subcommand("print the shell completion script (bash, zsh or fish)",
                             cli_completion.run, cli_completion.add_arguments),
    "serve": Subcommand("run the phone without the console, with its control socket",
                        _serve, _serve_arguments),
    "ctl": Subcommand("talk to the running agentconsole: status, events, call METHOD",
                      _ctl, _ctl_arguments),
    "dial": Subcommand("dial a number (or sip:/tel:/callto: URI) on the running "
                       "agentconsole", _dial, _dial_arguments),
    "attach": Subcommand("bring back the console left running (after a dropped SSH "
                         "session or the detach key)", _attach, _attach_arguments),
}

#: What runs without a subcommand.
DEFAULT_COMMAND: Callable[[argparse.Namespace, TextIO, TextIO], int] = _console


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentconsole", description="A terminal softphone for call-centre agents.",
        epilog=cli_help.epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"agentconsole {__version__}")
    parser.add_argument("--config", metavar="PATH", help="config file to use")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v info, -vv debug)")
    _add_remote_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in SUBCOMMANDS.items():
        child = sub.add_parser(name, help=command.help, description=command.help)
        # `agentconsole register --config X` works as well as `agentconsole --config X register`
        child.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                           help="config file to use")
        if command.add_arguments is not None:
            command.add_arguments(child)
    return parser


def _setup_logging(verbose: int, err: TextIO) -> None:
    """Log to stderr; an embedding program's (or pytest's) handlers are left alone."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(err)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(level)
    elif verbose:
        root.setLevel(level)


def main(argv: list[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Entry point of the ``agentconsole`` script; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose, err)
    if args.command is None:
        return DEFAULT_COMMAND(args, out, err)
    return SUBCOMMANDS[args.command].run(args, out, err)
