"""Simulated customers: calls to the agent at a configurable rate, from the trunk lines.

A demo and a test fixture. :class:`CustomerCaller` picks an idle line (a registered
:class:`~.parties.Party`), a customer and a queue from :mod:`.data`, and calls the
agent with the headers a PBX would add: ``P-Asserted-Identity`` (RFC 3325: the name
and number the console shows), ``Contacts-Company``, ``X-Queue`` and a ``Diversion``
(RFC 5806) naming the number the customer dialled. The customer hangs up after a
random patience when nobody answers, and after a random talk time once answered —
counted across a transfer, since the customer is still on the phone.

The agent can call a customer back (from the history, or by number): the switch asks
:meth:`CustomerCaller.call_back_line` for an idle line, the line's party answers, and
the customer talks for a while and hangs up, as on a customer-initiated call.

Arrivals are a Poisson process (``rate`` calls a minute), the first one ``first_after``
seconds after the agent registered, so a fresh ``agentconsole demo`` rings within
seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AgentConsoleError
from .data import CUSTOMERS, QUEUES, Customer, Queue, customer_by_number

if TYPE_CHECKING:
    from ..softphone.session import Session
    from .parties import Party

logger = logging.getLogger(__name__)


@dataclass
class CustomerCall:
    """One customer on one line: the first call and any call a transfer made."""

    customer: Customer
    queue: Queue
    patience: float
    talk: float
    sessions: list[Session] = field(default_factory=list)
    answered: bool = False


class CustomerCaller:
    """Places customer calls to ``agent`` from ``lines`` at ``rate`` calls a minute."""

    def __init__(self, lines: list[Party], agent: str, domain: str, *, rate: float = 2.0,
                 rng: random.Random | None = None, first_after: float = 2.0,
                 patience: tuple[float, float] = (20.0, 60.0),
                 talk: tuple[float, float] = (30.0, 150.0)) -> None:
        self.lines = lines
        self.agent = agent
        self.domain = domain
        self.rate = rate
        self.rng = rng or random.Random()
        self.first_after = first_after
        self.patience = patience
        self.talk = talk
        self.active: dict[str, CustomerCall] = {}  # line user -> call
        self.placed = 0
        self._task: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        for line in lines:
            line.phone.on("new_session", lambda s, line=line: self._on_session(line, s))

    def start(self) -> None:
        if self._task is None and self.rate > 0:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._calls) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        self._task = None

    def idle_lines(self) -> list[Party]:
        return [p for p in self.lines if p.user not in self.active and not p.phone.sessions
                and p.phone.is_registered]

    async def _run(self) -> None:
        await asyncio.sleep(self.first_after)
        mean = 60.0 / self.rate
        while True:
            self.call_now()
            await asyncio.sleep(min(max(self.rng.expovariate(1.0 / mean), mean / 4), mean * 3))

    def call_now(self, customer: Customer | None = None) -> bool:
        """Start one customer call if a line is idle; False when every line is busy."""
        idle = self.idle_lines()
        if not idle:
            logger.info("demo: every customer line is busy; skipping a call")
            return False
        line = self.rng.choice(idle)
        busy = {c.customer for c in self.active.values()}
        free = [c for c in CUSTOMERS if c not in busy] or list(CUSTOMERS)
        call = CustomerCall(customer or self.rng.choice(free), self.rng.choice(QUEUES),
                            self.rng.uniform(*self.patience), self.rng.uniform(*self.talk))
        self.active[line.user] = call
        self._spawn(self._place(line, call))
        return True

    def call_back_line(self, number: str) -> str | None:
        """The line that takes a call to customer ``number``, or None (not a customer,
        or every line busy). The line is the customer's until the call is over."""
        customer = customer_by_number(number)
        idle = self.idle_lines()
        if customer is None or not idle:
            return None
        line = self.rng.choice(idle)
        call = CustomerCall(customer, self.rng.choice(QUEUES), self.rng.uniform(*self.patience),
                            self.rng.uniform(*self.talk))
        self.active[line.user] = call
        logger.info("demo: the agent calls %s back on line %s", customer.name, line.user)
        self._spawn(self._called_back(line, call))
        return line.user

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _called_back(self, line: Party, call: CustomerCall) -> None:
        """The line's party answers on its own; the customer talks, then hangs up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10.0  # the INVITE is on its way through the switch
        try:
            while not call.sessions and loop.time() < deadline:
                await asyncio.sleep(0.1)
            if call.sessions:
                await self._wait_answer(call.sessions[0], call)
                if call.answered:
                    await self._talk(call)
        finally:
            self._release(line, call)

    def headers(self, call: CustomerCall) -> list[tuple[str, str]]:
        c, q = call.customer, call.queue
        return [("P-Asserted-Identity", f'"{c.name}" <sip:{c.number}@{self.domain}>'),
                ("Contacts-Company", c.company), ("X-Queue", q.name),
                ("Diversion", f"<sip:{q.did}@{self.domain}>;reason=unconditional")]

    def _on_session(self, line: Party, session: Session) -> None:
        call = self.active.get(line.user)
        if call is not None:  # the first call, or the one a transfer placed
            call.sessions.append(session)

    async def _place(self, line: Party, call: CustomerCall) -> None:
        self.placed += 1
        logger.info("demo: %s (%s, %s queue) calls %s from line %s", call.customer.name,
                    call.customer.company, call.queue.name, self.agent, line.user)
        try:
            first = await line.phone.call(self.agent, extra_headers=self.headers(call))
            await self._wait_answer(first, call)
            if call.answered:
                await self._talk(call)
        except AgentConsoleError as exc:
            logger.info("demo: customer call from %s failed: %s", line.user, exc)
        finally:
            self._release(line, call)

    def _release(self, line: Party, call: CustomerCall) -> None:
        """The customer hangs up whatever is left, and the line is free again."""
        for session in call.sessions:
            if not session.is_ended:
                session.hangup()
        self.active.pop(line.user, None)

    async def _wait_answer(self, session: Session, call: CustomerCall) -> None:
        done = asyncio.get_running_loop().create_future()

        def settle(answered: bool) -> None:
            if not done.done():
                done.set_result(answered)

        session.once("accepted", lambda *_: settle(True))
        session.once("failed", lambda *_: settle(False))
        session.once("ended", lambda *_: settle(False))
        try:
            call.answered = await asyncio.wait_for(done, call.patience)
        except TimeoutError:
            logger.info("demo: %s gave up after %.0f s", call.customer.name, call.patience)

    async def _talk(self, call: CustomerCall) -> None:
        """Stay on the line for the talk time, or until every call of ours has ended."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + call.talk
        ended_since: float | None = None
        while loop.time() < deadline:
            if not all(s.is_ended for s in call.sessions):
                ended_since = None
            elif ended_since is None:
                ended_since = loop.time()
            elif loop.time() - ended_since > 2.0:  # not just between two legs of a transfer
                return
            await asyncio.sleep(0.25)
        logger.info("demo: %s hangs up after %.0f s", call.customer.name, call.talk)


__all__ = ["CustomerCall", "CustomerCaller"]
