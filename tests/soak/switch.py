"""The demo switch in a child process, placing customer calls when the soak asks.

The soak measures the console's process; the switch and its simulated parties (each a
real :class:`~agentconsole.Phone` with its own media) run here, in a process of their
own, so their sockets, threads, tasks and memory never mix with the console's figures.
The two meet over loopback SIP and RTP, as a console and a PBX do.

The parent talks to this process with one JSON object per line on its stdin and
stdout (``python -m tests.soak.switch``):

* at start this process prints ``{"host": ..., "port": ...}`` once the switch listens and
  every party has registered;
* ``{"op": "ring"}`` — a customer calls agent 1001 from the next idle line (waiting for
  one when all are busy); the answer names the call: ``{"call_id": ...}``;
* ``{"op": "hangup", "call_id": ...}`` — the customer hangs up that call (ringing or
  talking), answered ``{"ok": true}``;
* ``{"op": "hears", "call_id": ..., "digits": ...}`` — answered once the customer on
  that call heard those DTMF digits;
* ``{"op": "stats"}`` — this process's own figures and the switch's: RSS, tasks,
  customer calls placed, lines busy, the DTMF read-back number's read-backs;
* ``{"op": "quiet"}`` — answered once no line is busy and no party is in a call;
* ``{"op": "quit"}`` — stop everything and exit.

What differs from ``agentconsole demo``: no calls arrive by themselves (``rate`` 0, the
parent rings), the parties run the media profile the parent asks for (``--profile``,
plain RTP by default: a soak of thousands of calls cannot afford a WebRTC handshake per
call on a shared machine), the customer stays on the line until the agent or the parent
ends the call, and a colleague picks up a transferred customer at once, talks for
``--colleague-talk`` seconds, then hangs up (so transfers free their lines quickly).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from typing import Any

from agentconsole.demo.customers import CustomerCall, CustomerCaller
from agentconsole.demo.data import COLLEAGUES, READBACK
from agentconsole.demo.parties import ReadbackParty
from agentconsole.demo.runner import DemoOptions, DemoRunner
from tests.waiting import wait_until

logger = logging.getLogger(__name__)

#: A customer never gives up and never hangs up first on their own: the soak decides.
FOREVER = (3600.0, 3600.0)
#: How long a request may wait for the switch's side (the parent's own wait is shorter).
WAIT_S = 15.0
#: A colleague picks up a transferred customer quickly (the demo's take 1-3 s).
COLLEAGUE_ANSWERS_AFTER = (0.2, 0.4)


class SwitchService:
    """The running demo and the handlers of the parent's requests."""

    def __init__(self, runner: DemoRunner, colleague_talk: float) -> None:
        self.runner = runner
        caller = runner.caller
        assert caller is not None
        self.caller: CustomerCaller = caller
        caller.patience = caller.talk = FOREVER
        self.colleague_talk = colleague_talk
        self._timers: set[asyncio.TimerHandle] = set()
        #: Digits each customer heard, by call id, while the call is up.
        self.heard: dict[str, str] = {}
        for line in caller.lines:
            line.phone.on("new_session", self._customer_session)
        for user in COLLEAGUES:
            party = runner.parties.get(user)
            if party is not None:
                party.answer_after = COLLEAGUE_ANSWERS_AFTER
                party.phone.on("new_session", self._colleague_session)

    def _colleague_session(self, session: Any) -> None:
        """A colleague took a (transferred) call: they talk a while, then hang up."""
        loop = asyncio.get_running_loop()

        def answered(*_: Any) -> None:
            timer = loop.call_later(self.colleague_talk, session.hangup)
            self._timers.add(timer)
            session.once("ended", lambda *_: self._forget(timer))

        session.once("accepted", answered)

    def _customer_session(self, session: Any) -> None:
        call_id = session.call_id
        self.heard[call_id] = ""

        def digit(info: dict[str, Any]) -> None:
            self.heard[call_id] = self.heard.get(call_id, "") + str(info.get("digit", ""))

        session.on("dtmf_received", digit)
        for event in ("ended", "failed"):
            session.once(event, lambda *_: self.heard.pop(call_id, None))

    async def hears(self, call_id: str, digits: str) -> dict[str, Any]:
        """Answered once the customer on ``call_id`` heard ``digits`` (RFC 4733 or INFO)."""
        await wait_until(lambda: call_id not in self.heard
                         or self.heard[call_id].endswith(digits), WAIT_S, f"{digits!r} heard")
        if call_id not in self.heard:
            return {"error": f"call {call_id} ended before {digits!r} arrived"}
        return {"ok": True}

    def _forget(self, timer: asyncio.TimerHandle) -> None:
        timer.cancel()
        self._timers.discard(timer)

    async def ring(self) -> dict[str, Any]:
        caller = self.caller
        await wait_until(caller.idle_lines, WAIT_S, "an idle customer line")
        busy = set(caller.active)
        if not caller.call_now():
            return {"error": "no idle line"}
        (line,) = set(caller.active) - busy
        call: CustomerCall = caller.active[line]
        await wait_until(lambda: call.sessions, WAIT_S, "the customer's call")
        return {"call_id": call.sessions[0].call_id, "line": line,
                "customer": call.customer.name}

    def hangup(self, call_id: str) -> dict[str, Any]:
        for call in self.caller.active.values():
            for session in call.sessions:
                if session.call_id == call_id and not session.is_ended:
                    session.hangup()
                    return {"ok": True}
        return {"ok": False}

    async def quiet(self) -> dict[str, Any]:
        await wait_until(lambda: not self.caller.active and not any(
            p.phone.sessions for p in self.runner.parties.values()), WAIT_S, "quiet lines")
        return {"ok": True}

    def stats(self) -> dict[str, Any]:
        readback = self.runner.parties.get(READBACK)
        with open("/proc/self/statm", encoding="ascii") as statm:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        return {"rss_mb": round(rss, 1), "tasks": len(asyncio.all_tasks()),
                "placed": self.caller.placed, "busy_lines": len(self.caller.active),
                "party_sessions": sum(len(p.phone.sessions)
                                      for p in self.runner.parties.values()),
                "readbacks": readback.readbacks if isinstance(readback, ReadbackParty) else []}

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._handle(request)
        except AssertionError as exc:  # a wait ran out: the parent reports it
            return {"error": str(exc)}

    async def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "ring":
            return await self.ring()
        if op == "hangup":
            return self.hangup(str(request.get("call_id", "")))
        if op == "hears":
            return await self.hears(str(request.get("call_id", "")),
                                    str(request.get("digits", "")))
        if op == "quiet":
            return await self.quiet()
        if op == "stats":
            return self.stats()
        return {"error": f"unknown op {op!r}"}


async def serve(profile: str, seed: int, colleague_talk: float) -> None:
    runner = DemoRunner(DemoOptions(port=0, rate=0, customers=False, seed=seed,
                                    media_profile=profile))
    await runner.start()
    try:
        service = SwitchService(runner, colleague_talk)
        say({"host": runner.switch.host, "port": runner.switch.port})
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            request = json.loads(line)
            if request.get("op") == "quit":
                break
            say(await service.handle(request))
    finally:
        await runner.stop()


def say(answer: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="rtp", choices=("rtp", "srtp", "webrtc"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--colleague-talk", type=float, default=1.0)
    parser.add_argument("--log", default=None, help="write this process's log here")
    args = parser.parse_args()
    if args.log:
        logging.basicConfig(filename=args.log, level=logging.INFO,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve(args.profile, args.seed, args.colleague_talk))
    return 0


if __name__ == "__main__":
    sys.exit(main())
