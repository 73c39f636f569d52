"""Odd but well-formed peer messages and app calls, in every call state: nothing raises,
no internal error is swallowed, and each leg ends with at most one terminal event."""

from __future__ import annotations

import random

import pytest

from agentconsole.sip.events import CallEnded, CallFailed, CallIncoming, MessageDropped
from agentconsole.sip.invite import CallLeg
from agentconsole.sip.message import Request
from agentconsole.sip.ua import UserAgent

from .uahelpers import (
    PEER,
    SDP_A,
    SDP_B,
    Wire,
    call_ua,
    inbound_call,
    outbound_call,
    peer_reply,
    peer_request,
)

STATUSES = [100, 180, 183, 200, 202, 302, 401, 407, 408, 422, 481, 486, 487, 491, 500, 603]
METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "UPDATE", "INFO", "REFER", "NOTIFY", "OPTIONS",
           "PRACK", "MESSAGE", "FOO"]
ODD_HEADERS = [
    ("Session-Expires", "0"), ("Session-Expires", "abc;refresher=x"), ("Min-SE", "-5"),
    ("Session-Expires", "99999999999"), ("Record-Route", "<sip:rr.example.com>"),
    ("Allow", "UPDATE"), ("Require", "timer"), ("Retry-After", "x"),
    ("Proxy-Authenticate", 'Digest realm="127.0.0.1", nonce="n"'),
    ("WWW-Authenticate", "Basic realm=x"), ("Min-SE", "120"),
]
CONTACTS = ["<sip:1002@127.0.0.1:5999>", "<sips:x@[::1]:5061;transport=tls>",
            "<tel:+123>", "*", "<sip:a@b;lr>"]


def tags_of(leg: CallLeg) -> tuple[str, str]:
    if leg.dialog is not None:
        return leg.dialog.local_tag, leg.dialog.remote_tag
    return leg.invite.from_.tag or "", "srv1"


def random_step(rng: random.Random, ua: UserAgent, wire: Wire, legs: list[CallLeg],
                now: float, gentle: bool = False) -> None:
    """One random peer message, app call or timer; ``gentle`` avoids ending the call."""
    leg = rng.choice(legs)
    roll = rng.random()
    sent = [m for m, _ in wire.sent if isinstance(m, Request) and m.call_id == leg.call_id]
    headers = rng.sample(ODD_HEADERS, rng.randint(0, 3))
    body = rng.choice([b"", SDP_B, b"\x00\xffnot sdp"])
    if roll < 0.35 and sent:
        request = rng.choice(sent)
        statuses = [s for s in STATUSES if not gentle or s not in (408, 481)]
        if request.method != "ACK":
            ua.receive_data(peer_reply(request, rng.choice(statuses), body=body,
                                       to_tag=rng.choice(["srv1", "other", None]),
                                       contact=rng.choice(CONTACTS), headers=headers),
                            PEER, now)
    elif roll < 0.7:
        local, remote = tags_of(leg)
        method = rng.choice([m for m in METHODS if not gentle or m not in ("BYE", "CANCEL")])
        ua.receive_data(peer_request(
            method, call_id=leg.call_id, cseq=rng.randint(0, 12),
            branch=f"z9hG4bKf{rng.randint(0, 5)}", from_tag=rng.choice([remote, "peer", "x"]),
            to_tag=rng.choice([local, None, "zzz"]), body=body,
            contact=rng.choice(CONTACTS), extra=headers), PEER, now)
    elif roll < 0.9:
        actions = ["reinvite", "answer", "ring", "answer_reinvite", "info",
                   "answer_reinvite_fail"]
        action = rng.choice(actions if gentle else [*actions, "hangup", "reject", "cancel"])
        if action == "hangup":
            ua.hangup(leg, now)
        elif action == "reinvite":
            ua.reinvite(leg, SDP_A, now)
        elif action == "answer":
            ua.answer(leg, SDP_A, now)
        elif action == "ring":
            ua.ring(leg, now, rng.choice([180, 183, 99]))
        elif action == "reject":
            ua.reject(leg, rng.choice([486, 603, 200, 42]), now)
        elif action == "cancel":
            ua.cancel(leg, now)
        elif action == "answer_reinvite":
            ua.answer_reinvite(leg, SDP_A, now)
        elif action == "answer_reinvite_fail":
            ua.answer_reinvite(leg, None, now, 488)
        else:
            ua.send_info(leg, "application/dtmf-relay", b"Signal=1", now)
    else:
        deadline = ua.next_deadline()
        if deadline is not None:
            ua.handle_timer(max(now, deadline))
    wire.flush()


@pytest.mark.parametrize("seed", range(40))
def test_random_traffic_never_breaks_a_call(seed: int) -> None:
    rng = random.Random(seed)
    ua, wire = call_ua(seed=seed, transport=rng.choice(["udp", "tcp"]))
    legs = [ua.invite("1002", SDP_A, 0.5)]
    ua.receive_data(peer_request("INVITE", call_id=f"in-{seed}", body=SDP_B), PEER, 0.6)
    wire.flush()
    legs += [e.leg for e in wire.events if isinstance(e, CallIncoming)]
    now = 1.0
    for _ in range(150):
        now += rng.choice([0.01, 0.2, 1.0, 5.0])
        random_step(rng, ua, wire, legs, now)
    wire.run_until(now + 3600, now)
    internal = [e for e in wire.events if isinstance(e, MessageDropped)
                and "internal error" in e.reason]
    assert internal == []
    for leg in legs:
        terminal = [e for e in wire.events if isinstance(e, CallFailed | CallEnded)
                    and e.leg is leg]
        assert len(terminal) <= 1


@pytest.mark.parametrize("seed", range(30))
def test_random_traffic_on_established_calls(seed: int) -> None:
    rng = random.Random(seed)
    headers = [("Session-Expires", "120;refresher=uas"), ("Allow", "UPDATE")]
    call = outbound_call(ok_headers=headers, seed=seed) if seed % 2 else inbound_call(seed=seed)
    now = 3.0
    for _ in range(200):
        now += rng.choice([0.01, 0.2, 1.0, 5.0])
        random_step(rng, call.ua, call.wire, [call.leg], now, gentle=True)
    call.ua.hangup(call.leg, now)
    call.wire.run_until(now + 3600, now)
    internal = [e for e in call.wire.events if isinstance(e, MessageDropped)
                and "internal error" in e.reason]
    assert internal == []
    terminal = [e for e in call.wire.events if isinstance(e, CallFailed | CallEnded)]
    assert len(terminal) == 1
