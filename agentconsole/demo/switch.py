"""The embedded demo switch: a registrar and proxy on our own SIP core, on loopback.

A demo and a test fixture, **not a PBX**: no media relay, no queues, no forking, no
persistence, passwords in memory. It exists so that ``agentconsole demo`` works on a
fresh machine and so the test suite can run real calls — registration with digest,
calls both ways, REFER/NOTIFY transfers, INVITE with Replaces — between real
:class:`~agentconsole.softphone.phone.Phone` objects over real sockets.

:class:`DemoSwitch` glues :class:`~.proxy.ProxyCore` (routing, sans-IO) and
:class:`~.registrar.DigestVerifier`/:class:`~.registrar.LocationTable` to the
listeners of :mod:`.server`. Media never passes through it: the parties' aiortc peer
connections talk to each other directly (ICE on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from .data import ACCOUNTS, REALM, Account
from .proxy import ProxyCore
from .registrar import DigestVerifier, LocationTable
from .server import SwitchServer

logger = logging.getLogger(__name__)


class DemoSwitch:
    """Registrar + proxy listening on ``host:port`` over UDP and TCP (and WS if asked).

    ``port=0`` picks a free port (UDP and TCP share it). ``algorithms`` are the digest
    algorithms challenged with, strongest first.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 accounts: Iterable[Account] = ACCOUNTS, realm: str = REALM,
                 ws_port: int | None = None,
                 algorithms: tuple[str, ...] = ("SHA-256", "MD5")) -> None:
        self.host = host
        self._want_port = port
        self._want_ws = ws_port
        self.accounts = {a.user: a for a in accounts}
        self.realm = realm
        self.verifier = DigestVerifier(realm, {u: a.password for u, a in self.accounts.items()},
                                       algorithms=algorithms)
        self.location = LocationTable()
        self.core: ProxyCore | None = None
        self._server: SwitchServer | None = None
        self.port = 0

    def __repr__(self) -> str:
        return f"DemoSwitch({self.host}:{self.port}, users={len(self.accounts)})"

    # ----- lifecycle ------------------------------------------------------------------------
    async def start(self) -> DemoSwitch:
        loop = asyncio.get_running_loop()
        core = ProxyCore(self.host, self._want_port, set(self.accounts), self.verifier,
                         self.location)
        server = SwitchServer(core, loop.time)
        self.port = await server.start(self.host, self._want_port, ws_port=self._want_ws)
        core.port = self.port
        self.core, self._server = core, server
        logger.info("demo switch listening on %s:%d (udp, tcp%s)", self.host, self.port,
                    f", ws {server.ws_port}" if server.ws_port else "")
        return self

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()

    async def __aenter__(self) -> DemoSwitch:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ----- facts ----------------------------------------------------------------------------
    @property
    def ws_port(self) -> int | None:
        return self._server.ws_port if self._server is not None else None

    @property
    def domain(self) -> str:
        """``host:port``: the domain part of every AOR on this switch."""
        return f"{self.host}:{self.port}"

    def aor(self, user: str) -> str:
        return f"sip:{user}@{self.domain}"

    def is_registered(self, user: str) -> bool:
        return self.location.lookup(user, asyncio.get_running_loop().time()) is not None

    async def wait_registered(self, users: Iterable[str], timeout: float = 10.0) -> bool:
        """Poll the location table until every user in ``users`` has a binding."""
        wanted = list(users)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if all(self.is_registered(u) for u in wanted):
                return True
            await asyncio.sleep(0.05)
        return False

    def describe(self) -> list[str]:
        """Human-readable lines: where to register and with which credentials."""
        lines = [f"demo switch on {self.host} port {self.port}: udp, tcp"
                 + (f"; ws://{self.host}:{self.ws_port}/ (subprotocol sip)"
                    if self.ws_port else ""),
                 f"realm {self.realm!r}; register as sip:USER@{self.domain}",
                 "users (user / password / role):"]
        for account in self.accounts.values():
            lines.append(f"  {account.user:<6} {account.password:<12} {account.role:<10} "
                         f"{account.display_name}")
        return lines


__all__ = ["DemoSwitch"]
