"""``DialogRefreshed``: an accepted re-INVITE or UPDATE from the peer goes up with its
headers (the connected identity of RFC 4916 rides in them), and the 200 OK of an answer
can carry extra headers."""

from __future__ import annotations

from agentconsole.sip.events import CallIncoming, DialogRefreshed, ReinviteReceived

from .uahelpers import PEER, SDP_A, SDP_B, call_ua, inbound_call, peer_request

PAI = ("P-Asserted-Identity", '"Carol Transfer" <sip:+15550100@pbx.example>')


def test_a_session_refresh_update_goes_up_with_its_headers() -> None:
    call = inbound_call()
    call.request("UPDATE", 5.0, extra=[PAI])  # no SDP: the core answers it itself
    refreshed = call.events(DialogRefreshed)
    assert len(refreshed) == 1 and refreshed[0].leg is call.leg
    assert refreshed[0].request.method == "UPDATE"
    assert refreshed[0].request.headers.get("P-Asserted-Identity") == PAI[1]


def test_a_reinvite_goes_up_once_answered_not_before() -> None:
    call = inbound_call()
    call.request("INVITE", 5.0, body=SDP_B.replace(b"s=-", b"s=changed"), extra=[PAI])
    assert call.events(ReinviteReceived) and not call.events(DialogRefreshed)
    call.ua.answer_reinvite(call.leg, SDP_A, 5.1)
    call.wire.flush()
    assert [e.request.method for e in call.events(DialogRefreshed)] == ["INVITE"]


def test_a_refused_offer_is_no_refresh() -> None:
    call = inbound_call()
    call.request("UPDATE", 5.0, body=SDP_B.replace(b"s=-", b"s=changed"))
    call.ua.answer_reinvite(call.leg, None, 5.1, 488)
    call.wire.flush()
    assert call.events(DialogRefreshed) == []


def test_answer_with_extra_headers() -> None:
    ua, wire = call_ua()
    ua.receive_data(peer_request("INVITE", call_id="x@h", body=SDP_B), PEER, 1.0)
    wire.flush()
    leg = [e for e in wire.events if isinstance(e, CallIncoming)][0].leg
    ua.answer(leg, SDP_A, 1.5, extra_headers=[("X-Agent", "1001")])
    wire.flush()
    ok = [r for r in wire.responses() if r.status == 200][-1]
    assert ok.headers.get("X-Agent") == "1001" and ok.body == SDP_A
