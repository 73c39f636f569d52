"""Run the demo: the switch, every simulated party and the customer calls, together.

A demo and a test fixture, not a PBX. :class:`DemoRunner` is the asyncio part (used
by ``agentconsole demo --headless`` and by tests); :class:`DemoThread` runs it on its
own event loop in a background thread, because the console (Textual) owns the main
thread's loop — the two sides only meet over loopback sockets, as a real PBX and a
softphone would. :func:`agent_config` is the console's config for agent 1001.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from dataclasses import dataclass
from typing import Any

from ..config import Config
from .audio import VoiceBackend, voice_clip
from .customers import CustomerCaller
from .data import (
    ACCOUNTS,
    AGENT,
    COLLEAGUES,
    CUSTOMER_LINES,
    DEFAULT_PORT,
    ECHO,
    PAUSE_CODE,
    READBACK,
    RECORD_CODE,
    TONES,
    Account,
    account,
)
from .parties import Colleague, EchoParty, Party, ReadbackParty, party_config
from .switch import DemoSwitch

logger = logging.getLogger(__name__)

#: Parties registered over TCP (the rest over UDP), so a demo call crosses transports.
TCP_PARTIES = frozenset({"2002"})


@dataclass(frozen=True)
class DemoOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # 0: any free port
    rate: float = 2.0  # customer calls a minute; 0: none
    seed: int | None = None
    ws_port: int | None = None
    #: Digest algorithms offered, most preferred first (RFC 8760). Peers that take the
    #: first challenge whatever it is (baresip 1.0.0 knows only MD5) need ("MD5",).
    algorithms: tuple[str, ...] = ("SHA-256", "MD5")
    first_after: float = 2.0  # seconds between the agent's registration and the first call
    customers: bool = True
    #: What the parties offer (``media.profile``): WebRTC as a browser gateway would, or
    #: ``rtp`` / ``srtp`` (plain media: what a soak of thousands of calls can afford).
    media_profile: str = "webrtc"


class DemoRunner:
    """The switch and its parties on the running event loop."""

    def __init__(self, options: DemoOptions | None = None) -> None:
        self.options = options or DemoOptions()
        self.rng = random.Random(self.options.seed)
        self.switch = DemoSwitch(self.options.host, self.options.port,
                                 ws_port=self.options.ws_port,
                                 algorithms=self.options.algorithms)
        self.parties: dict[str, Party] = {}
        self.caller: CustomerCaller | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> DemoRunner:
        await self.switch.start()
        await asyncio.to_thread(_warm_voices)
        self.parties = {a.user: self._make_party(a) for a in ACCOUNTS
                        if a.role in ("colleague", "echo", "readback", "line")}
        results = await asyncio.gather(*(p.start() for p in self.parties.values()),
                                       return_exceptions=True)
        for party, result in zip(self.parties.values(), results, strict=True):
            if isinstance(result, BaseException):
                logger.warning("demo party %s did not start: %s", party.user, result)
        lines = [self.parties[u] for u in CUSTOMER_LINES if u in self.parties]
        self.caller = CustomerCaller(lines, AGENT, self.switch.domain, rate=self.options.rate,
                                     rng=random.Random(self.rng.getrandbits(64)),
                                     first_after=self.options.first_after)
        if self.switch.core is not None:
            self.switch.core.resolve_number = self.caller.call_back_line
        if self.options.customers:
            self._watch = asyncio.get_running_loop().create_task(self._start_customers())
        return self

    async def _start_customers(self) -> None:
        """Customers start calling once the agent is registered (nobody to call before)."""
        while not self.switch.is_registered(AGENT):
            await asyncio.sleep(0.2)
        assert self.caller is not None
        self.caller.start()

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self.caller is not None:
            await self.caller.stop()
        await asyncio.gather(*(p.stop() for p in self.parties.values()),
                             return_exceptions=True)
        await self.switch.stop()

    def _make_party(self, acc: Account) -> Party:
        transport = "tcp" if acc.user in TCP_PARTIES else "udp"
        rng = random.Random(self.rng.getrandbits(64))
        host, port = self.switch.host, self.switch.port
        profile = self.options.media_profile
        if acc.role == "echo":
            return EchoParty(acc, party_config(host, port, acc, transport=transport,
                                               profile=profile), rng=rng)
        if acc.role == "readback":
            return ReadbackParty(acc, party_config(host, port, acc, transport=transport,
                                                   profile=profile), rng=rng)
        if acc.role == "line":
            index = CUSTOMER_LINES.index(acc.user)
            config = party_config(host, port, acc, transport=transport, profile=profile)
            return Party(acc, config, backend=VoiceBackend(index, low=index % 2 == 1), rng=rng)
        audio = {"backend": "tone", "tone_hz": TONES.get(acc.user, 440)}
        config = party_config(host, port, acc, transport=transport, audio=audio,
                              profile=profile)
        return Colleague(acc, config, rng=rng)


def _warm_voices() -> None:
    for index in range(len(CUSTOMER_LINES)):
        voice_clip(index, low=index % 2 == 1)


def agent_config(host: str, port: int, *, transport: str = "udp",
                 audio: dict[str, Any] | None = None) -> Config:
    """The console's config for agent 1001 on the demo switch."""
    agent = account(AGENT)
    assert agent is not None
    directory = [{"name": a.display_name, "number": a.user, "company": "Demo Corp"}
                 for a in ACCOUNTS if a.user in (*COLLEAGUES, ECHO, READBACK)]
    data: dict[str, Any] = {
        "account": {"aor": f"sip:{AGENT}@{host}:{port}", "password": agent.password,
                    "display_name": agent.display_name, "transport": transport},
        "sip": {"local_host": host},
        "media": {"host_addresses": [host], "profile": "webrtc"},
        "audio": audio or {"backend": "auto"},
        "recording": {"mode": "feature_code",
                      "feature_codes": {"start": RECORD_CODE, "stop": RECORD_CODE,
                                        "pause": PAUSE_CODE, "resume": PAUSE_CODE}},
        "agent": {"wrapup": {"codes": ["Resolved", "Follow-up", "Escalated", "Wrong number"]}},
        "directory": directory,
    }
    return Config.from_mapping(data, env={}, source="<agentconsole demo>")


class DemoThread:
    """:class:`DemoRunner` on its own event loop in a daemon thread."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.runner: DemoRunner | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="demo-switch", daemon=True)

    def start(self, timeout: float = 30.0) -> DemoRunner:
        """Start and wait until the switch listens and the parties registered."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the demo switch did not start in time")
        if self.error is not None or self.runner is None:
            raise RuntimeError(f"the demo switch did not start: {self.error}")
        return self.runner

    def stop(self, timeout: float = 10.0) -> None:
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopped.set)
        self._thread.join(timeout)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self.error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        runner = DemoRunner(self.options)
        try:
            await runner.start()
        except BaseException as exc:
            self.error = exc
            self._ready.set()
            await runner.stop()
            return
        self.runner = runner
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            await runner.stop()


__all__ = ["DEFAULT_PORT", "DemoOptions", "DemoRunner", "DemoThread", "agent_config"]
