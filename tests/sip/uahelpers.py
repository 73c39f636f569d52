"""A small fake registrar and helpers for driving a sans-IO UserAgent in tests."""

from __future__ import annotations

import random
from dataclasses import dataclass

from agentconsole.sip.events import CallIncoming, UAEvent
from agentconsole.sip.invite import CallLeg, CallState
from agentconsole.sip.message import Request, Response, make_response
from agentconsole.sip.parser import parse_message
from agentconsole.sip.timers import TimerConfig
from agentconsole.sip.ua import UAConfig, UserAgent
from agentconsole.sip.uri import SipUri, parse_uri

REGISTRAR = ("127.0.0.1", 5060)
PEER = ("127.0.0.1", 5999)


def make_ua(transport: str = "udp", *, password: str | None = "pass1001",
            accept_invites: bool = False, expires: int = 600, register: bool = True,
            session_expires: int = 1800, min_se: int = 90, seed: int = 7,
            **extra: float) -> UserAgent:
    aor = parse_uri("sip:1001@127.0.0.1")
    registrar = parse_uri("sip:127.0.0.1")
    assert isinstance(aor, SipUri) and isinstance(registrar, SipUri)
    config = UAConfig(aor=aor, registrar=registrar, transport=transport, password=password,
                      expires=expires, timers=TimerConfig(), accept_invites=accept_invites,
                      instance_id="urn:uuid:00000000-0000-4000-8000-000000000001",
                      register=register, session_expires=session_expires, min_se=min_se,
                      **extra)  # type: ignore[arg-type]
    return UserAgent(config, rng=random.Random(seed))


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
          to_tag: str | None = "srv1", body: bytes = b"") -> bytes:
    response = make_response(request, status, to_tag=to_tag)
    for name, value in headers or []:
        response.headers.add(name, value)
    if body:
        response.headers.add("Content-Type", "application/sdp")
        response.body = body
    return response.to_bytes()


def challenge(nonce: str = "n1", stale: bool = False, realm: str = "127.0.0.1") -> tuple[str, str]:
    value = f'Digest realm="{realm}", nonce="{nonce}", qop="auth", algorithm=MD5'
    if stale:
        value += ", stale=true"
    return ("WWW-Authenticate", value)


# ----- calls ------------------------------------------------------------------------------------
SDP_A = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
SDP_B = b"v=0\r\no=- 2 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
PEER_CONTACT = "<sip:1002@127.0.0.1:5999>"


def call_ua(**kwargs: object) -> tuple[UserAgent, Wire]:
    """A UA with calls enabled, its flow up at 127.0.0.1:5070, no REGISTER traffic."""
    kwargs.setdefault("accept_invites", True)
    kwargs.setdefault("register", False)
    ua = make_ua(**kwargs)  # type: ignore[arg-type]
    ua.transport_up("127.0.0.1", 5070, 0.0)
    wire = Wire(ua)
    wire.flush()
    return ua, wire


def last_request(wire: Wire, method: str) -> Request:
    found = wire.requests(method)
    assert found, f"no {method} was sent"
    return found[-1]


def responses_to(wire: Wire, method: str) -> list[Response]:
    return [r for r in wire.responses() if r.cseq.method == method]


def peer_reply(request: Request, status: int, *, body: bytes = b"", to_tag: str | None = "srv1",
               contact: str | None = PEER_CONTACT,
               headers: list[tuple[str, str]] | None = None) -> bytes:
    """The peer's response; 1xx-with-tag and 2xx carry a Contact."""
    extra = list(headers or [])
    if contact and 100 < status < 300:
        extra.append(("Contact", contact))
    return reply(request, status, headers=extra, to_tag=to_tag if status > 100 else None,
                 body=body)


def peer_request(method: str, *, call_id: str = "call-1@127.0.0.1", cseq: int = 1,
                 branch: str = "z9hG4bKpeer1", from_tag: str = "peer",
                 to_tag: str | None = None, body: bytes = b"",
                 uri: str = "sip:1001@127.0.0.1:5070", contact: str | None = PEER_CONTACT,
                 extra: list[tuple[str, str]] | None = None,
                 cseq_method: str | None = None) -> bytes:
    """A request from the peer at PEER, as the UA would receive it."""
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:1002@127.0.0.1>;tag={from_tag}",
        "To: <sip:1001@127.0.0.1>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
    ]
    if contact:
        lines.append(f"Contact: {contact}")
    for name, value in extra or []:
        lines.append(f"{name}: {value}")
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Call:
    ua: UserAgent
    wire: Wire
    leg: CallLeg
    call_id: str
    local_tag: str  # ours
    remote_tag: str  # the peer's
    peer_cseq: int = 1

    def events(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.wire.events if isinstance(e, kind)]

    def request(self, method: str, now: float, *, body: bytes = b"", branch: str = "",
                cseq: int | None = None, contact: str | None = None,
                extra: list[tuple[str, str]] | None = None) -> None:
        """The peer sends ``method`` inside the dialog."""
        if cseq is None:
            self.peer_cseq += 1
            cseq = self.peer_cseq
        self.ua.receive_data(peer_request(
            method, call_id=self.call_id, cseq=cseq, from_tag=self.remote_tag,
            to_tag=self.local_tag, body=body, branch=branch or f"z9hG4bKp{method}{cseq}",
            contact=contact if contact is not None else "<sip:1002@127.0.0.1:5999>",
            extra=extra), PEER, now)
        self.wire.flush()

    def reply_last(self, method: str, status: int, now: float, *, body: bytes = b"",
                   headers: list[tuple[str, str]] | None = None,
                   contact: str | None = "<sip:1002@127.0.0.1:5999>") -> Request:
        request = last_request(self.wire, method)
        self.ua.receive_data(peer_reply(request, status, body=body, to_tag=None,
                                        headers=headers, contact=contact), PEER, now)
        self.wire.flush()
        return request


def outbound_call(*, ok_headers: list[tuple[str, str]] | None = None,
                  **kwargs: object) -> Call:
    """We called the peer; the 200 arrived at t=2 and was ACKed."""
    ua, wire = call_ua(**kwargs)
    leg = ua.invite("1002", SDP_A, 1.0)
    wire.flush()
    invite = last_request(wire, "INVITE")
    ua.receive_data(peer_reply(invite, 200, body=SDP_B, headers=ok_headers), PEER, 2.0)
    wire.flush()
    assert leg.state is CallState.CONFIRMED
    return Call(ua, wire, leg, invite.call_id, invite.from_.tag or "", "srv1", 0)


def inbound_call(*, extra: list[tuple[str, str]] | None = None, **kwargs: object) -> Call:
    """The peer called us; we answered at t=1.5 and the ACK came at t=2."""
    ua, wire = call_ua(**kwargs)
    call_id = "in-call@127.0.0.1"
    ua.receive_data(peer_request("INVITE", call_id=call_id, body=SDP_B, extra=extra),
                    PEER, 1.0)
    wire.flush()
    leg = [e for e in wire.events if isinstance(e, CallIncoming)][0].leg
    ua.answer(leg, SDP_A, 1.5)
    assert leg.dialog is not None
    call = Call(ua, wire, leg, call_id, leg.dialog.local_tag, "peer", 1)
    call.request("ACK", 2.0, cseq=1, branch="z9hG4bKack1")
    assert leg.state is CallState.CONFIRMED
    return call
