"""``agentconsole register``: register the configured account and report what happens.

A headless check that the account, the transport and the credentials work, before
the console is involved: it prints each phone event, optionally the SIP trace (with
credentials redacted), stays registered for ``--hold`` seconds and un-REGISTERs.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TextIO

from .errors import AgentConsoleError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hold", type=float, default=0.0, metavar="SECONDS",
                        help="stay registered this long before un-registering (default 0)")
    parser.add_argument("--trace", action="store_true", help="print every SIP message")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .cli import load_or_report  # late: cli imports this module

    config = load_or_report(args, err)
    if config is None:
        return 1
    return asyncio.run(_register(config, args.hold, args.trace, out, err))


async def _register(config: object, hold: float, trace: bool, out: TextIO, err: TextIO) -> int:
    from .softphone.phone import Phone, RegistrationFailure
    from .transport.driver import TraceEntry

    def show_trace(entry: TraceEntry) -> None:
        arrow = "<<" if entry.direction == "in" else ">>"
        text = entry.data.decode("utf-8", "replace")
        print(f"{arrow} {entry.transport} {entry.remote or ''}\n{text}", file=out)

    phone = Phone(config, trace=show_trace if trace else None)  # type: ignore[arg-type]
    phone.on("connected", lambda: print("connected", file=out))
    phone.on("disconnected", lambda reason: print(f"disconnected: {reason}", file=out))
    phone.on("registered", lambda expires: print(f"registered (expires {expires} s)", file=out))

    def failed(failure: RegistrationFailure) -> None:
        print(f"registration failed: {failure.code} {failure.cause}", file=out)

    phone.on("registration_failed", failed)
    try:
        await phone.start()
    except AgentConsoleError as exc:
        print(f"error: {exc}", file=err)
        await phone.stop()
        return 1
    ok = phone.is_registered
    if ok and hold > 0:
        await asyncio.sleep(hold)
    await phone.stop()
    print("unregistered" if ok else "not registered", file=out)
    return 0 if ok else 1
