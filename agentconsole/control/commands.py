"""``agentconsole ctl``, ``agentconsole dial`` and ``agentconsole serve``.

* ``ctl status`` prints the ``status`` snapshot; ``ctl events [NAME ...]`` streams events
  as JSON lines until interrupted; ``ctl call METHOD [key=value | key:=JSON ...]`` runs
  any method (``key=value`` passes a string, ``key:=`` a JSON value: ``code:=603``,
  ``enabled:=true``).
* ``dial NUMBER|sip:URI|tel:URI|callto:...`` hands the number to the running
  instance and prints the new call's id: what a browser runs for a click on a phone
  link (the shipped ``.desktop`` file registers it for sip, tel and callto).
* ``serve`` runs the phone alone with its control socket, hooks and auto-answer (no
  console) until SIGTERM or SIGINT, then hangs up, un-REGISTERs and leaves. It keeps
  the same call history as the console (wrap-ups filed over the socket included).

Exit status: 0 done, 1 the phone or the config refused (the message says why), 2 no
agentconsole is running (or, for ``serve``, another one already is).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import yaml

from .. import paths
from ..cli_signals import interrupt_on_signals, stop_on_signals

if TYPE_CHECKING:
    from ..config import Config
    from ..history import CallHistory
    from ..softphone.phone import Phone
    from .client import ControlClient
    from .integration import Integration

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNAVAILABLE = 2
STOP_TIMEOUT_S = 5.0


# ----- arguments ---------------------------------------------------------------------------
def _socket_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--socket", metavar="PATH",
                        help="control socket (default: control.socket of the config, else "
                             "$XDG_RUNTIME_DIR/agentconsole/control.sock)")


def add_ctl_arguments(parser: argparse.ArgumentParser) -> None:
    _socket_argument(parser)
    sub = parser.add_subparsers(dest="ctl_command", metavar="ACTION", required=True)
    sub.add_parser("status", help="print the phone's state: registration, agent, calls")
    events = sub.add_parser("events", help="print events as JSON lines until interrupted")
    events.add_argument("names", nargs="*", metavar="EVENT", help="only these events")
    call = sub.add_parser("call", help="run a method: call METHOD [key=value|key:=JSON ...]")
    call.add_argument("method")
    call.add_argument("params", nargs="*", metavar="KEY=VALUE")


def add_dial_arguments(parser: argparse.ArgumentParser) -> None:
    _socket_argument(parser)
    parser.add_argument("target", metavar="NUMBER",
                        help="a number, a user, or a sip:, tel: or callto: URI")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    _socket_argument(parser)


# ----- where the socket is ---------------------------------------------------------------
def socket_path(args: argparse.Namespace, err: TextIO) -> Path:
    """``--socket``, else the config's ``control.socket``, else the default path.

    Only that key is read (``yaml.safe_load``), so ``dial`` works from a browser's
    environment, where the account's password variable is not set.
    """
    if getattr(args, "socket", None):
        return Path(args.socket).expanduser()
    explicit = getattr(args, "config", None)
    config = Path(explicit) if explicit else paths.default_config_path()
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if explicit:
            print(f"{config}: not found; using the default control socket", file=err)
        return paths.control_socket_path()
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        print(f"{config}: unreadable ({type(exc).__name__}); using the default control "
              "socket", file=err)
        return paths.control_socket_path()
    control = data.get("control") if isinstance(data, dict) else None
    value = control.get("socket") if isinstance(control, dict) else None
    if isinstance(value, str) and value.strip():
        path = Path(value).expanduser()
        return path if path.is_absolute() else config.parent.resolve() / path
    return paths.control_socket_path()


def parse_params(items: list[str]) -> dict[str, Any]:
    """``key=value`` (a string) and ``key:=JSON`` pairs as a params object."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition(":=")
        if sep and "=" not in key:
            try:
                params[key] = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"{item!r}: the value after := must be JSON ({exc})") \
                    from None
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{item!r}: write key=value (a string) or key:=JSON")
        params[key] = value
    return params


# ----- ctl and dial --------------------------------------------------------------------------
def run_ctl(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .client import ControlClient, ControlUnavailable, RemoteError

    path = socket_path(args, err)
    try:
        params = parse_params(args.params) if args.ctl_command == "call" else {}
    except ValueError as exc:
        print(f"agentconsole ctl: {exc}", file=err)
        return EXIT_FAILED
    try:
        with ControlClient(path) as client:
            if args.ctl_command == "events":
                return _stream(client, args.names, out, err)
            method = "status" if args.ctl_command == "status" else args.method
            result = client.call(method, params)
    except ControlUnavailable as exc:
        print(f"agentconsole ctl: {exc}", file=err)
        return EXIT_UNAVAILABLE
    except RemoteError as exc:
        print(f"agentconsole ctl: {exc}", file=err)
        return EXIT_FAILED
    with contextlib.suppress(BrokenPipeError):  # `ctl status | head`
        print(json.dumps(result, indent=2, ensure_ascii=False), file=out)
    return EXIT_OK


def _stream(client: ControlClient, names: list[str], out: TextIO, err: TextIO) -> int:
    interrupt_on_signals()
    subscribed = client.subscribe(names or None)
    what = ", ".join(subscribed) if names else "every event"
    print(f"agentconsole ctl: listening for {what} (Ctrl-C stops)", file=err, flush=True)
    try:
        for event in client.events():
            print(json.dumps(event, ensure_ascii=False, separators=(",", ":")), file=out,
                  flush=True)
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:  # `ctl events | head` closed its end
        return EXIT_OK
    return EXIT_OK


def run_dial(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .client import ControlClient, ControlUnavailable, RemoteError
    from .targets import TargetError, dial_target

    try:
        number = dial_target(args.target)
    except TargetError as exc:
        print(f"agentconsole dial: {exc}", file=err)
        return EXIT_FAILED
    path = socket_path(args, err)
    try:
        with ControlClient(path) as client:
            result = client.call("dial", {"number": number})
    except ControlUnavailable as exc:
        print(f"agentconsole dial: cannot dial {number}: {exc}", file=err)
        return EXIT_UNAVAILABLE
    except RemoteError as exc:
        print(f"agentconsole dial: {number}: {exc.message} ({exc.code})", file=err)
        return EXIT_FAILED
    print(result.get("call_id", ""), file=out)
    return EXIT_OK


# ----- serve ---------------------------------------------------------------------------------
def run_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..cli import load_or_report

    config = load_or_report(args, err)
    if config is None:
        return EXIT_FAILED
    for warning in config.warnings:
        print(warning.format(config.source, label="warning"), file=err)
    socket = Path(args.socket).expanduser() if args.socket else None
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_serve(config, socket, out, err))
    return EXIT_OK


async def _serve(config: Config, socket: Path | None, out: TextIO, err: TextIO) -> int:
    from ..errors import AgentConsoleError
    from ..softphone.phone import Phone
    from .integration import ControlServerError, Integration

    stop = stop_on_signals()
    phone = Phone(config)
    integration = Integration(phone, config, files_wrapups=True, socket_path=socket)
    try:
        await integration.start()
    except ControlServerError as exc:
        print(f"agentconsole serve: {exc}", file=err)
        return EXIT_UNAVAILABLE
    history = _open_history(phone, err)
    try:
        try:
            await phone.start()
        except AgentConsoleError as exc:
            print(f"agentconsole serve: {exc.message}", file=err)
            return EXIT_FAILED
        print(_started_line(config, phone, integration), file=out, flush=True)
        await stop.wait()
    finally:
        try:
            await asyncio.wait_for(phone.stop(), STOP_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - leaving matters more than a clean BYE
            print(f"agentconsole serve: stopping the phone: {exc}", file=err)
        await integration.stop()
        if history is not None:
            history.close()
    print("agentconsole serve: stopped", file=out, flush=True)
    return EXIT_OK


def _open_history(phone: Phone, err: TextIO) -> CallHistory | None:
    """The call history, as the console keeps it (calls, refusals, wrap-ups filed over
    the socket); a history that cannot be opened is reported, and the phone serves on."""
    from ..history import CallHistory, HistoryError

    try:
        history = CallHistory()
    except HistoryError as exc:
        print(f"agentconsole serve: no call history: {exc}", file=err)
        return None
    if history.interrupted:
        print(f"agentconsole serve: {history.interrupted} call(s) were cut off when the phone "
              "last stopped; they are in the history as interrupted", file=err)
    history.attach(phone, wrapups=True)
    return history


def _started_line(config: Config, phone: Phone, integration: Integration) -> str:
    state = "registered" if phone.is_registered else "not registered yet (retrying)"
    if not config.account.register:
        state = "ready (no REGISTER)"
    where = f"control socket {integration.socket_path}" if integration.server is not None \
        else "control socket off (control.enabled: false)"
    if integration.websocket is not None:
        where += f", ws://{config.control.websocket.host}:{integration.websocket.port}"
    return f"agentconsole serve: {config.account.aor} {state}; {where}; Ctrl-C stops"


__all__ = ["add_ctl_arguments", "add_dial_arguments", "add_serve_arguments", "parse_params",
           "run_ctl", "run_dial", "run_serve", "socket_path"]
