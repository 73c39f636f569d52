"""``agentconsole demo``: the console on the embedded demo switch, or the switch alone.

* ``agentconsole demo`` starts the switch and its parties on a background thread, then
  the console registered as agent 1001; customers start calling a couple of seconds
  after it registers. Without a sound card the audio falls back to ``null`` and the
  console says so.
* ``agentconsole demo --headless`` runs the switch and the parties only, prints where
  to register and with which credentials, and runs until Ctrl-C or SIGTERM, so a
  second console, baresip or SIPp can be pointed at it.

A demo, not a PBX: see :mod:`agentconsole.demo.switch`.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import sys
from typing import TYPE_CHECKING, TextIO

from ..cli_signals import stop_on_signals
from .data import DEFAULT_PORT

if TYPE_CHECKING:  # the runner loads the phone stack: only when the demo really runs
    from ..history import CallHistory
    from .runner import DemoOptions, DemoThread

EXIT_OK = 0
EXIT_UNAVAILABLE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--headless", action="store_true",
                        help="run the switch and the simulated parties only (no console)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"UDP and TCP port of the switch (default {DEFAULT_PORT}; "
                             "0 picks a free one)")
    parser.add_argument("--ws-port", type=int, default=None, metavar="PORT",
                        help="also accept SIP over WebSocket on PORT (0: any free port)")
    parser.add_argument("--rate", type=float, default=2.0,
                        help="customer calls per minute (default 2; 0: no customers)")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed, for the same customers in the same order")
    parser.add_argument("--digest", choices=("sha256+md5", "md5"), default="sha256+md5",
                        help="digest challenges offered (md5 only for old peers such as "
                             "baresip 1.0.0, which fail on a SHA-256 challenge)")


def arguments_again(args: argparse.Namespace) -> list[str]:
    """The demo's options as a command line: the same demo, run again by the holder that
    keeps it alive when the terminal goes (``agentconsole.remote``)."""
    argv = ["--host", args.host, "--port", str(args.port), "--rate", repr(args.rate),
            "--digest", args.digest]
    if args.ws_port is not None:
        argv += ["--ws-port", str(args.ws_port)]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    return argv


def _options(args: argparse.Namespace, port: int | None = None) -> DemoOptions:
    from .runner import DemoOptions

    return DemoOptions(host=args.host, port=args.port if port is None else port,
                       rate=max(0.0, args.rate), seed=args.seed, ws_port=args.ws_port,
                       algorithms=("MD5",) if args.digest == "md5" else ("SHA-256", "MD5"))


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.headless:
        return run_headless(_options(args), out, err)
    return run_with_console(args, out, err)


def run_headless(options: DemoOptions, out: TextIO, err: TextIO) -> int:
    try:
        return asyncio.run(_headless(options, out))
    except OSError as exc:
        print(f"demo switch: cannot listen on {options.host}:{options.port}: "
              f"{exc.strerror or exc}", file=err)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        return EXIT_OK


async def _headless(options: DemoOptions, out: TextIO) -> int:
    from .runner import DemoRunner

    stop = stop_on_signals()
    runner = DemoRunner(options)
    try:
        await runner.start()
        for line in runner.switch.describe():
            print(line, file=out)
        print(f"customers call 1001 at {options.rate:g} a minute once it registers; "
              "Ctrl-C stops", file=out, flush=True)
        await stop.wait()
    finally:
        await runner.stop()
        print("demo switch stopped", file=out, flush=True)
    return EXIT_OK


def _start_thread(args: argparse.Namespace, err: TextIO) -> DemoThread:
    from .runner import DemoThread

    demo = DemoThread(_options(args))
    try:
        demo.start()
    except RuntimeError as exc:
        cause = demo.error
        if not (isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE and args.port):
            raise RuntimeError(str(exc)) from cause
        print(f"port {args.port} is busy; the demo switch uses a free port instead", file=err)
        demo = DemoThread(_options(args, port=0))
        demo.start()
    return demo


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty()) if callable(isatty) else False


def run_with_console(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not (_is_terminal(out) and _is_terminal(sys.stdin)):
        print("agentconsole demo: the console needs a terminal; use --headless to run the "
              "demo switch alone", file=err)
        return EXIT_UNAVAILABLE
    try:
        demo = _start_thread(args, err)
    except (RuntimeError, TimeoutError) as exc:
        print(f"demo: {exc}", file=err)
        return EXIT_UNAVAILABLE
    try:
        from ..ui_main import (
            console_app,
            log_path,
            logs_to_file,
            run_app,
            with_free_control_socket,
        )
        from .runner import agent_config

        assert demo.runner is not None
        switch = demo.runner.switch
        config = with_free_control_socket(agent_config(switch.host, switch.port), err)
        app, integration = console_app(config, history=_demo_history())
        with logs_to_file(log_path()):
            try:
                return run_app(app, integration, err)  # with its control socket
            finally:
                demo.stop()  # while logs still go to the file, not over the shell
    finally:
        demo.stop()  # idempotent; covers a failure before the console ran


def _demo_history() -> CallHistory | None:
    """The demo's calls go to their own history file, not the agent's real one."""
    from ..history import CallHistory, HistoryError, default_path

    try:
        return CallHistory(default_path().with_name("demo-history.sqlite3"))
    except HistoryError:
        return None


__all__ = ["add_arguments", "arguments_again", "run", "run_headless", "run_with_console"]
