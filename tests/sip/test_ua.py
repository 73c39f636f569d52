"""What the sans-IO UA answers by itself, and that nothing a peer sends raises."""

from __future__ import annotations

import random

import pytest

from agentconsole.sip.events import IncomingRequest, MessageDropped
from agentconsole.sip.message import Response

from .uahelpers import PEER, Wire, make_ua


def request(method: str, *, uri: str = "sip:1001@127.0.0.1:5070", cseq_method: str | None = None,
            extra: str = "", to_tag: str | None = None, body: str = "",
            branch: str = "z9hG4bKpeer1") -> bytes:
    to = "<sip:1001@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    text = (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:peer@127.0.0.1>;tag=peer\r\n"
        f"To: {to}\r\n"
        "Call-ID: call-1@127.0.0.1\r\n"
        f"CSeq: 1 {cseq_method or method}\r\n"
        f"{extra}"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    return text.encode()


def answer_to(data: bytes, *, accept_invites: bool = False) -> Response | None:
    ua = make_ua(accept_invites=accept_invites)
    ua.transport_up("127.0.0.1", 5070, 0.0)
    wire = Wire(ua)
    wire.flush()
    ua.receive_data(data, PEER, 1.0)
    sent = wire.flush()
    responses = [m for m, dest in sent if isinstance(m, Response)]
    if responses:
        assert [dest for m, dest in sent if isinstance(m, Response)][0] == PEER
    return responses[-1] if responses else None


def test_options_gets_200_with_capabilities() -> None:
    response = answer_to(request("OPTIONS"))
    assert response is not None and response.status == 200
    assert "INVITE" in (response.headers.get("Allow") or "")
    assert response.headers.get("Accept") == "application/sdp"
    assert "replaces" in (response.headers.get("Supported") or "")
    assert response.to.tag  # a final response to a request without a to-tag gets one
    assert response.call_id == "call-1@127.0.0.1"


@pytest.mark.parametrize("method", ["BYE", "NOTIFY", "REFER", "INFO", "UPDATE"])
def test_out_of_dialog_requests_get_481(method: str) -> None:
    response = answer_to(request(method, to_tag="nodialog"))
    assert response is not None and response.status == 481


def test_bye_without_to_tag_gets_481() -> None:
    response = answer_to(request("BYE"))
    assert response is not None and response.status == 481


def test_cancel_for_unknown_transaction_gets_481() -> None:
    response = answer_to(request("CANCEL"))
    assert response is not None and response.status == 481


def test_unknown_method_gets_501() -> None:
    response = answer_to(request("FROBNICATE"))
    assert response is not None and response.status == 501


def test_register_to_a_ua_gets_405() -> None:
    response = answer_to(request("REGISTER"))
    assert response is not None and response.status == 405
    assert response.headers.get("Allow")


def test_unknown_require_gets_420_with_unsupported() -> None:
    response = answer_to(request("OPTIONS", extra="Require: nothingweknow\r\n"))
    assert response is not None and response.status == 420
    assert response.headers.get("Unsupported") == "nothingweknow"


def test_unknown_scheme_gets_416() -> None:
    response = answer_to(request("OPTIONS", uri="nobodyknowsthisscheme:totallyopaquecontent"))
    assert response is not None and response.status == 416


def test_cseq_method_mismatch_gets_400() -> None:
    response = answer_to(request("OPTIONS", cseq_method="INVITE"))
    assert response is not None and response.status == 400


def test_invite_without_calls_gets_480_and_with_calls_goes_up() -> None:
    sdp = "v=0\r\n"
    data = request("INVITE", extra="Content-Type: application/sdp\r\n", body=sdp)
    response = answer_to(data)
    assert response is not None and response.status == 480
    ua = make_ua(accept_invites=True)
    ua.transport_up("127.0.0.1", 5070, 0.0)
    wire = Wire(ua)
    wire.flush()
    ua.receive_data(data, PEER, 1.0)
    wire.flush()
    assert any(isinstance(e, IncomingRequest) for e in wire.events)


def test_invite_with_unknown_body_gets_415() -> None:
    data = request("INVITE", extra="Content-Type: application/unknownformat\r\n", body="xx")
    response = answer_to(data, accept_invites=True)
    assert response is not None and response.status == 415
    assert response.headers.get("Accept") == "application/sdp"


def test_retransmitted_request_gets_the_same_answer_again() -> None:
    ua = make_ua()
    ua.transport_up("127.0.0.1", 5070, 0.0)
    wire = Wire(ua)
    wire.flush()
    ua.receive_data(request("OPTIONS"), PEER, 1.0)
    first = [m for m, _ in wire.flush() if isinstance(m, Response)]
    ua.receive_data(request("OPTIONS"), PEER, 1.2)
    second = [m for m, _ in wire.flush() if isinstance(m, Response)]
    assert len(first) == len(second) == 1
    assert first[0].to.tag == second[0].to.tag


def test_unanswerable_garbage_is_dropped() -> None:
    ua = make_ua()
    ua.transport_up("127.0.0.1", 5070, 0.0)
    wire = Wire(ua)
    wire.flush()
    ua.receive_data(b"\x00\xffnot sip at all\r\n\r\n", PEER, 1.0)
    assert [m for m, _ in wire.flush() if isinstance(m, Response)] == []
    assert any(isinstance(e, MessageDropped) for e in wire.events)


def test_stray_response_is_dropped() -> None:
    ua = make_ua()
    ua.transport_up("127.0.0.1", 5070, 0.0)
    wire = Wire(ua)
    wire.flush()
    data = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKnope\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
            b"Content-Length: 0\r\n\r\n")
    ua.receive_data(data, PEER, 1.0)
    assert wire.flush() == []
    assert any(isinstance(e, MessageDropped) for e in wire.events)


def test_flood_of_mutated_datagrams_never_raises_and_ua_keeps_answering() -> None:
    rng = random.Random(1234)
    ua = make_ua()
    ua.transport_up("127.0.0.1", 5070, 0.0)
    wire = Wire(ua)
    wire.flush()
    seeds = [request("OPTIONS"), request("BYE", to_tag="x"), request("INVITE"),
             request("FROBNICATE"), request("OPTIONS", extra="Require: foo\r\n")]
    now = 1.0
    for i in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data))
            op = rng.random()
            if op < 0.5:
                data[pos] ^= 1 << rng.randrange(8)
            elif op < 0.75:
                del data[pos]
            else:
                data.insert(pos, rng.randrange(256))
        now += 0.001
        ua.receive_data(bytes(data), PEER, now)  # must never raise
        ua.data_to_send()
        ua.events()
        if i % 500 == 0:
            ua.handle_timer(now)
    ua.receive_data(request("OPTIONS", branch="z9hG4bKlive"), PEER, now + 1)
    responses = [m for m, _ in wire.flush() if isinstance(m, Response)]
    assert responses and responses[-1].status == 200
