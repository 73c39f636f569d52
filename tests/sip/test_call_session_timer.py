"""RFC 4028 session timers on calls, on the fake clock."""

from __future__ import annotations

from agentconsole.sip.events import CallEnded, ReinviteResult
from agentconsole.sip.invite import CallState

from .uahelpers import SDP_A, inbound_call, last_request, outbound_call

ALLOW_UPDATE = ("Allow", "INVITE, ACK, BYE, CANCEL, UPDATE")


def test_uac_refreshes_with_update_at_half_interval() -> None:
    call = outbound_call(ok_headers=[("Session-Expires", "120;refresher=uac"), ALLOW_UPDATE])
    assert call.leg.session_timer is not None and call.leg.session_timer.we_refresh
    assert call.ua.calls.deadline_of(call.leg, "refresh") == 2.0 + 60.0
    call.wire.run_until(61.9, 2.0)
    assert call.wire.requests("UPDATE") == []
    call.wire.run_until(62.0, 61.9)
    update = last_request(call.wire, "UPDATE")
    assert update.body == b"" and update.headers.get("Session-Expires") == "120;refresher=uac"
    assert update.contacts  # a target refresh carries our Contact
    call.reply_last("UPDATE", 200, 62.1, headers=[("Session-Expires", "120;refresher=uac")])
    assert call.ua.calls.deadline_of(call.leg, "refresh") == 62.1 + 60.0
    assert call.events(ReinviteResult) == []  # refreshes are silent


def test_uac_refreshes_with_reinvite_when_update_not_allowed() -> None:
    call = outbound_call(ok_headers=[("Session-Expires", "120")])  # refresher absent: us
    call.wire.run_until(62.0, 2.0)
    reinvite = last_request(call.wire, "INVITE")
    assert reinvite.cseq.number == 2 and reinvite.body == SDP_A
    call.reply_last("INVITE", 200, 62.1, headers=[("Session-Expires", "120;refresher=uac")])
    assert last_request(call.wire, "ACK").cseq.number == 2
    assert call.events(ReinviteResult) == []
    assert call.leg.state is CallState.CONFIRMED


def test_refresh_answered_481_ends_the_call() -> None:
    call = outbound_call(ok_headers=[("Session-Expires", "120;refresher=uac"), ALLOW_UPDATE])
    call.wire.run_until(62.0, 2.0)
    call.reply_last("UPDATE", 481, 62.1, contact=None)
    ended = call.events(CallEnded)
    assert len(ended) == 1 and ended[0].cause == "Dialog Error"
    assert call.leg.state is CallState.TERMINATED


def test_no_refresh_from_peer_ends_with_expires() -> None:
    call = outbound_call(ok_headers=[("Session-Expires", "120;refresher=uas")])
    assert call.leg.session_timer is not None and not call.leg.session_timer.we_refresh
    expire = 2.0 + 120.0 - 32.0
    assert call.ua.calls.deadline_of(call.leg, "expire") == expire
    call.wire.run_until(expire - 0.1, 2.0)
    assert call.wire.requests("BYE") == []
    call.wire.run_until(expire, expire - 0.1)
    assert last_request(call.wire, "BYE").cseq.method == "BYE"
    ended = call.events(CallEnded)
    assert len(ended) == 1 and ended[0].cause == "Expires"


def test_peer_refresh_resets_the_expiry() -> None:
    call = outbound_call(ok_headers=[("Session-Expires", "120;refresher=uas")])
    call.wire.run_until(60.0, 2.0)
    call.request("UPDATE", 60.0, extra=[("Session-Expires", "120;refresher=uac"),
                                        ("Supported", "timer")])
    ok = [r for r in call.wire.responses() if r.cseq.method == "UPDATE"][-1]
    assert ok.status == 200 and ok.headers.get("Session-Expires") == "120;refresher=uac"
    assert call.ua.calls.deadline_of(call.leg, "expire") == 60.0 + 88.0
    call.wire.run_until(120.0, 60.0)
    assert call.wire.requests("BYE") == [] and call.events(CallEnded) == []


def test_uas_echoes_session_expires_and_waits_for_uac_refresh() -> None:
    call = inbound_call(extra=[("Supported", "timer"), ("Session-Expires", "600;refresher=uac")])
    ok = [r for r in call.wire.responses() if r.status == 200][0]
    assert ok.headers.get("Session-Expires") == "600;refresher=uac"
    assert ok.headers.get("Require") == "timer"
    assert call.ua.calls.deadline_of(call.leg, "expire") == 1.5 + 600 - 32


def test_uas_refreshes_for_a_uac_without_timer_support() -> None:
    call = inbound_call(extra=[("Session-Expires", "600")])  # inserted by a proxy
    ok = [r for r in call.wire.responses() if r.status == 200][0]
    assert ok.headers.get("Session-Expires") == "600;refresher=uas"
    assert ok.headers.get("Require") is None
    assert call.ua.calls.deadline_of(call.leg, "refresh") == 1.5 + 300


def test_no_timer_when_neither_side_asks() -> None:
    call = inbound_call()
    assert call.leg.session_timer is None
    ok = [r for r in call.wire.responses() if r.status == 200][0]
    assert ok.headers.get("Session-Expires") is None
