"""Client-transaction test helpers: requests to send, a fake-clock runner."""

from __future__ import annotations

from typing import Generic, TypeVar

from agentconsole.sip.message import Request, Response, make_response
from agentconsole.sip.timers import TimerConfig
from agentconsole.sip.transaction import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    Effect,
    PassToTU,
    SendMessage,
)

BRANCH = "z9hG4bKcli1"


def make_request(
    method: str = "INVITE",
    *,
    branch: str = BRANCH,
    transport: str = "UDP",
    sent_by: str = "127.0.0.1:5070",
    cseq: int = 1,
    cseq_method: str | None = None,
    routes: tuple[str, ...] = (),
    call_id: str = "call-1@example.com",
    from_tag: str = "a1",
    uri: str = "sip:bob@example.com",
) -> Request:
    via = f"SIP/2.0/{transport} {sent_by}"
    if branch:
        via += f";branch={branch}"
    headers = [("Via", via), ("Max-Forwards", "70")]
    headers += [("Route", r) for r in routes]
    headers += [
        ("From", f"Alice <sip:alice@example.com>;tag={from_tag}"),
        ("To", "Bob <sip:bob@example.com>"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {cseq_method or method}"),
        ("Contact", "<sip:alice@127.0.0.1:5070>"),
    ]
    return Request(method, uri, headers)


def reply(request: Request, status: int, to_tag: str | None = "b1") -> Response:
    return make_response(request, status, to_tag=to_tag)


def sends(effects: list[Effect]) -> list[Request | Response]:
    return [e.message for e in effects if isinstance(e, SendMessage)]


def passed(effects: list[Effect]) -> list[Request | Response]:
    return [e.message for e in effects if isinstance(e, PassToTU)]


TX = TypeVar("TX", bound=ClientTransaction)


class Runner(Generic[TX]):
    """Drive one transaction on a fake clock, recording (time, effect) pairs."""

    def __init__(self, tx: TX) -> None:
        self.tx = tx
        self.log: list[tuple[float, Effect]] = []

    def start(self, now: float = 0.0) -> list[Effect]:
        effects = self.tx.start(now)
        self.log += [(now, e) for e in effects]
        return effects

    def run_until(self, end: float) -> None:
        while True:
            deadline = self.tx.next_deadline()
            if deadline is None or deadline > end:
                return
            self.log += [(deadline, e) for e in self.tx.on_timer(deadline)]

    def send_times(self) -> list[float]:
        return [t for t, e in self.log if isinstance(e, SendMessage)]

    def times_of(self, kind: type) -> list[float]:
        return [t for t, e in self.log if isinstance(e, kind)]


def ict(
    reliable: bool = False, timers: TimerConfig | None = None, **kw: object
) -> Runner[ClientInviteTransaction]:
    req = make_request("INVITE", **kw)  # type: ignore[arg-type]
    return Runner(ClientInviteTransaction(req, reliable=reliable, timers=timers or TimerConfig()))


def nict(
    reliable: bool = False, timers: TimerConfig | None = None, **kw: object
) -> Runner[ClientNonInviteTransaction]:
    req = make_request("OPTIONS", **kw)  # type: ignore[arg-type]
    tx = ClientNonInviteTransaction(req, reliable=reliable, timers=timers or TimerConfig())
    return Runner(tx)
