"""A small fake registrar and helpers for driving a sans-IO UserAgent in tests."""

from __future__ import annotations

import random

from agentconsole.sip.events import UAEvent
from agentconsole.sip.message import Request, Response, make_response
from agentconsole.sip.parser import parse_message
from agentconsole.sip.timers import TimerConfig
from agentconsole.sip.ua import UAConfig, UserAgent
from agentconsole.sip.uri import SipUri, parse_uri

REGISTRAR = ("127.0.0.1", 5060)
PEER = ("127.0.0.1", 5999)


def make_ua(transport: str = "udp", *, password: str | None = "pass1001",
            accept_invites: bool = False, expires: int = 600) -> UserAgent:
    aor = parse_uri("sip:1001@127.0.0.1")
    registrar = parse_uri("sip:127.0.0.1")
    assert isinstance(aor, SipUri) and isinstance(registrar, SipUri)
    config = UAConfig(aor=aor, registrar=registrar, transport=transport, password=password,
                      expires=expires, timers=TimerConfig(), accept_invites=accept_invites,
                      instance_id="urn:uuid:00000000-0000-4000-8000-000000000001")
    return UserAgent(config, rng=random.Random(7))


class Wire:
    """Collects what the UA sends and the events it reports, parsed."""

    def __init__(self, ua: UserAgent) -> None:
        self.ua = ua
        self.sent: list[tuple[Request | Response, tuple[str, int] | None]] = []
        self.events: list[UAEvent] = []

    def flush(self) -> list[tuple[Request | Response, tuple[str, int] | None]]:
        new = [(parse_message(o.data), o.dest) for o in self.ua.data_to_send()]
        self.sent.extend(new)
        self.events.extend(self.ua.events())
        return new

    def requests(self, method: str) -> list[Request]:
        return [m for m, _ in self.sent if isinstance(m, Request) and m.method == method]

    def responses(self) -> list[Response]:
        return [m for m, _ in self.sent if isinstance(m, Response)]

    def run_until(self, end: float, now: float) -> float:
        """Fire every UA timer up to ``end`` (fake clock); return the new now."""
        while True:
            deadline = self.ua.next_deadline()
            if deadline is None or deadline > end:
                return end
            now = max(now, deadline)
            self.ua.handle_timer(now)
            self.flush()


def reply(request: Request, status: int, *, headers: list[tuple[str, str]] | None = None,
          to_tag: str | None = "srv1") -> bytes:
    response = make_response(request, status, to_tag=to_tag)
    for name, value in headers or []:
        response.headers.add(name, value)
    return response.to_bytes()


def challenge(nonce: str = "n1", stale: bool = False, realm: str = "127.0.0.1") -> tuple[str, str]:
    value = f'Digest realm="{realm}", nonce="{nonce}", qop="auth", algorithm=MD5'
    if stale:
        value += ", stale=true"
    return ("WWW-Authenticate", value)
