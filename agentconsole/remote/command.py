"""``agentconsole`` through a holder, and ``agentconsole attach [--list]``.

Starting the console in a terminal: if a console already runs for the same config file,
attach to it; otherwise start a holder (:mod:`.holder`, in a session of its own, so a
hang-up of this terminal never reaches it), wait for its "ready" line, and attach. The
holder runs ``agentconsole --config PATH --no-detach`` on its pty — the ordinary
console. Two starts racing for one config are sorted out by the holder's lock: the
loser answers "busy" and its launcher attaches to the winner. ``agentconsole demo`` is
held the same way (one demo at a time), so the demo shows detach and attach too.

Everything here is light (no Textual, no aiortc): it runs before the console and in a
client that only relays bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from .. import paths
from .client import AttachError, Outcome, attach, terminal_size
from .registry import Instance, instances, query, remove_if_stale, running

EXIT_PROBLEMS = 1
EXIT_UNAVAILABLE = 2
#: How long a new holder may take to say it is listening.
READY_TIMEOUT_S = 15.0
#: Set to 1 to always run the console directly (as ``--no-detach``).
NO_DETACH_ENV = "AGENTCONSOLE_NO_DETACH"
#: How ``attach --list`` names the demo (its "config").
DEMO_LABEL = "demo"


def detachable(args: argparse.Namespace, stdin: TextIO | None = None,
               stdout: TextIO | None = None) -> bool:
    """Run through a holder? Not with ``--no-detach``, ``$AGENTCONSOLE_NO_DETACH=1``,
    or when stdin/stdout is not a terminal (a pipe, a test): then the console runs
    directly, the same console without the detach key."""
    if getattr(args, "no_detach", False) or os.environ.get(NO_DETACH_ENV) == "1":
        return False
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    try:
        return stdin.isatty() and stdout.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass(frozen=True)
class Target:
    """A console to run in a holder, or join: its attach socket, how ``attach --list``
    names it, and the command the holder runs on its pty (the ordinary console, with
    ``--no-detach``)."""

    socket: Path
    label: str
    argv: list[str]


def _agentconsole(verbose: int) -> list[str]:
    """This interpreter running this package, as verbose as the command that started it."""
    return [sys.executable, "-m", "agentconsole", *(["-" + "v" * verbose] if verbose else [])]


def config_target(config: Path, verbose: int) -> Target:
    """The console of one config file (one per file: a second start joins it)."""
    config = config.expanduser().resolve()
    return Target(paths.console_socket_path(config), str(config),
                  [*_agentconsole(verbose), "--config", str(config), "--no-detach"])


def demo_target(demo_arguments: list[str], verbose: int) -> Target:
    """``agentconsole demo`` (switch, parties and console in one process), held like a
    console so it can be detached and attached as one: one demo at a time."""
    return Target(paths.demo_socket_path(), DEMO_LABEL,
                  [*_agentconsole(verbose), "--no-detach", "demo", *demo_arguments])


def start_holder(target: Target) -> tuple[subprocess.Popen[bytes], str]:
    """Start a holder for ``target``; (process, "ready" | "busy" | "error ...")."""
    rows, cols = terminal_size(sys.stdout.fileno())
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentconsole.remote.holder", "--socket", str(target.socket),
             "--label", target.label, "--rows", str(rows), "--cols", str(cols),
             "--ready-fd", str(write_end), "--", *target.argv],
            pass_fds=(write_end,), start_new_session=True, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        os.close(write_end)
    try:
        return proc, _read_ready(read_end, proc)
    finally:
        os.close(read_end)


def _read_ready(fd: int, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + READY_TIMEOUT_S
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return "error: the holder did not start in time"
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 256)
        if not chunk:
            code = proc.poll()
            return f"error: the holder exited ({code})"
        data += chunk
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")


def start_console(target: Target, err: TextIO) -> int:
    """``agentconsole`` (or ``agentconsole demo``) in a terminal: attach to the target's
    console, starting it first when none runs. Returns the exit status (the console's,
    or 0 after a detach)."""
    found = query(target.socket)
    proc: subprocess.Popen[bytes] | None = None
    if found is None:
        remove_if_stale(target.socket)
        proc, word = start_holder(target)
        if word.startswith("error"):
            print(f"agentconsole: cannot start the console holder: {word[6:].strip()}",
                  file=err)
            return EXIT_PROBLEMS
        if word == "busy":  # another start won the race: join it
            _reap(proc)
            proc = None
    else:
        what = "the demo" if target.label == DEMO_LABEL else f"a console for {target.label}"
        print(f"agentconsole: {what} is already running (since {_since(found)}): attaching",
              file=err)
    status = _attach_and_report(target.socket, err)
    if proc is not None and status.ended:
        _reap(proc)
    return status.status


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Collect the holder if it has ended (no zombie); a live one is left to run."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=2.0)


def _attach_and_report(sock: Path, err: TextIO) -> Outcome:
    try:
        outcome = attach(sock)
    except AttachError as exc:
        print(f"agentconsole: {exc}", file=err)
        return Outcome(EXIT_UNAVAILABLE, "error")
    if outcome.note:
        print(outcome.note, file=err)
    return outcome


def _since(instance: Instance) -> str:
    return datetime.fromtimestamp(instance.since).strftime("%Y-%m-%d %H:%M:%S")


def list_instances(out: TextIO) -> int:
    """``attach --list``: config, pid, since, attached or not — one line each."""
    found = instances()
    if not found:
        print("no console is running", file=out)
        return 0
    print(f"{'CONFIG':<48} {'PID':>7}  {'SINCE':<19}  ATTACHED", file=out)
    for inst in found:
        attached = f"yes ({inst.tty})" if inst.attached and inst.tty else \
            "yes" if inst.attached else "no"
        print(f"{inst.config:<48} {inst.pid:>7}  {_since(inst):<19}  {attached}", file=out)
    return 0


def choose(explicit: Path | None, default: Path) -> tuple[Instance | None, str]:
    """The console to attach to: the one for ``explicit`` (strict), else the one for
    the default config, else the only one running. (instance, why-not)."""
    if explicit is not None:
        config = explicit.expanduser().resolve()
        found = running(config)
        return found, "" if found else f"no console is running for {config}"
    found = running(default.expanduser().resolve())
    if found is not None:
        return found, ""
    everything = instances()
    if len(everything) == 1:
        return everything[0], ""
    if not everything:
        return None, "no console is running (start one with `agentconsole`)"
    configs = ", ".join(i.config for i in everything)
    return None, f"several consoles are running ({configs}): choose one with --config"


def attach_command(args: argparse.Namespace, explicit: Path | None, default: Path,
                   out: TextIO, err: TextIO) -> int:
    """``agentconsole attach [--list]``."""
    if getattr(args, "list", False):
        return list_instances(out)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("agentconsole attach: needs a terminal (run it with ssh -t)", file=err)
        return EXIT_UNAVAILABLE
    found, why = choose(explicit, default)
    if found is None:
        print(f"agentconsole attach: {why}", file=err)
        return EXIT_UNAVAILABLE
    return _attach_and_report(found.socket, err).status


def add_attach_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list", action="store_true",
                        help="list running consoles (config, pid, since, attached)")
