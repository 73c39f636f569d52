"""The switch's sans-IO parts with a fake clock: digest challenges and checks, the location
table, and the stateless proxy's routing decisions (no sockets, no sleeps)."""

from __future__ import annotations

import pytest

from agentconsole.demo.proxy import BRANCH_PREFIX, ProxyCore, Send
from agentconsole.demo.registrar import DigestVerifier, Flow, LocationTable
from agentconsole.sip.auth import DigestAuthenticator
from agentconsole.sip.message import Request, Response, make_response
from agentconsole.sip.parser import parse_message

HOST, PORT = "127.0.0.1", 5080
ALICE = Flow("udp", ("127.0.0.1", 40001))
BOB = Flow("tcp", ("127.0.0.1", 40002))
STRANGER = Flow("udp", ("127.0.0.1", 40009))


def request(method: str, uri: str, *, user: str = "1001", flow: Flow = ALICE,
            to: str | None = None, branch: str = "z9hG4bKabc", cseq: int = 1,
            extra: list[tuple[str, str]] | None = None) -> Request:
    host, port = flow.address
    headers = [("Via", f"SIP/2.0/{flow.transport.upper()} {host}:{port};branch={branch};rport"),
               ("Max-Forwards", "70"), ("From", f"<sip:{user}@{HOST}:{PORT}>;tag=f1"),
               ("To", to or f"<{uri}>"), ("Call-ID", "call-1"), ("CSeq", f"{cseq} {method}"),
               ("Contact", f"<sip:{user}@{host}:{port}>")]
    return Request(method, uri, headers + (extra or []))


def core() -> ProxyCore:
    verifier = DigestVerifier("demo", {"1001": "pw1001", "2001": "pw2001", "1002": "x"},
                              nonce_ttl=60.0)
    return ProxyCore(HOST, PORT, {"1001", "2001", "1002"}, verifier, LocationTable())


def feed(proxy: ProxyCore, message: Request | Response, flow: Flow, now: float) -> list[Send]:
    return proxy.receive(message.to_bytes(), flow, now)


def register(proxy: ProxyCore, user: str, password: str, flow: Flow, now: float = 0.0,
             algorithm: str = "SHA-256") -> Response:
    auth = DigestAuthenticator(user, password)
    reg = request("REGISTER", f"sip:{HOST}:{PORT}", user=user, flow=flow,
                  to=f"<sip:{user}@{HOST}:{PORT}>")
    [sent] = feed(proxy, reg, flow, now)
    challenge = sent.message
    assert isinstance(challenge, Response) and challenge.status == 401
    algorithms = [v.split("algorithm=")[1].split(",")[0]
                  for v in challenge.headers.get_all("WWW-Authenticate")]
    assert algorithms == ["SHA-256", "MD5"]  # strongest first, RFC 8760 §2.4
    if algorithm == "MD5":
        challenge.headers.remove("WWW-Authenticate")
        challenge.headers.add("WWW-Authenticate", f'Digest realm="demo", nonce="'
                              f'{proxy.verifier.new_nonce(now)}", algorithm=MD5, qop="auth"')
    retry = auth.handle_challenge(reg, challenge)
    assert retry is not None
    retry.headers.set("CSeq", "2 REGISTER")
    [answer] = feed(proxy, retry, flow, now)
    assert isinstance(answer.message, Response) and answer.flow == flow
    return answer.message


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_register_with_digest(algorithm: str) -> None:
    proxy = core()
    ok = register(proxy, "1001", "pw1001", ALICE, algorithm=algorithm)
    assert ok.status == 200 and "expires=" in (ok.headers.get("Contact") or "")
    binding = proxy.location.lookup("1001", 1.0)
    assert binding is not None and binding.flow == ALICE


def test_wrong_password_and_other_users_credentials_are_refused() -> None:
    proxy = core()
    assert register(proxy, "1001", "wrong", ALICE).status == 401
    auth = DigestAuthenticator("2001", "pw2001")  # valid for 2001, used for 1001's AOR
    reg = request("REGISTER", f"sip:{HOST}:{PORT}", to=f"<sip:1001@{HOST}:{PORT}>")
    [challenge] = feed(proxy, reg, ALICE, 0.0)
    retry = auth.handle_challenge(reg, challenge.message)  # type: ignore[arg-type]
    assert retry is not None
    [answer] = feed(proxy, retry, ALICE, 0.0)
    assert isinstance(answer.message, Response) and answer.message.status == 403


def test_stale_nonce_and_replayed_nonce_count() -> None:
    verifier = DigestVerifier("demo", {"1001": "pw"}, nonce_ttl=60.0)
    auth = DigestAuthenticator("1001", "pw")
    reg = request("REGISTER", f"sip:{HOST}")
    challenge = Response(401, "Unauthorized", [("WWW-Authenticate", verifier.challenges(0.0)[0]),
                                               ("CSeq", "1 REGISTER")])
    signed = auth.handle_challenge(reg, challenge)
    assert signed is not None
    assert verifier.verify(signed, "Authorization", 10.0) == ("1001", False)
    assert verifier.verify(signed, "Authorization", 11.0) == (None, False)  # same nc again
    again = auth.authorize(reg)  # nc 2 on the same nonce
    assert verifier.verify(again, "Authorization", 70.0) == (None, True)  # stale=true


def test_location_expiry_star_and_interval_too_brief() -> None:
    table = LocationTable(min_expires=30)
    reg = request("REGISTER", f"sip:{HOST}", extra=[("Expires", "60")])
    assert table.register(reg, "1001", ALICE, 0.0).status == 200
    assert table.lookup("1001", 59.0) is not None
    assert table.lookup("1001", 61.0) is None
    brief = request("REGISTER", f"sip:{HOST}", extra=[("Expires", "5")])
    too_brief = table.register(brief, "1001", ALICE, 0.0)
    assert too_brief.status == 423 and too_brief.headers.get("Min-Expires") == "30"
    table.register(reg, "1001", ALICE, 100.0)
    star = request("REGISTER", f"sip:{HOST}", extra=[("Expires", "0")])
    star.headers.set("Contact", "*")
    assert table.register(star, "1001", ALICE, 101.0).status == 200
    assert table.lookup("1001", 101.0) is None


def test_invite_is_routed_to_the_binding_with_via_and_record_route() -> None:
    proxy = core()
    register(proxy, "1001", "pw1001", ALICE)
    register(proxy, "2001", "pw2001", BOB)
    invite = request("INVITE", f"sip:2001@{HOST}:{PORT}")
    [out] = feed(proxy, invite, ALICE, 1.0)
    fwd = out.message
    assert isinstance(fwd, Request) and out.flow == BOB
    assert fwd.uri == "sip:2001@127.0.0.1:40002"  # the registered Contact
    assert fwd.top_via.transport == "TCP" and (fwd.top_via.branch or "").startswith(
        BRANCH_PREFIX)
    assert fwd.vias[1].received == "127.0.0.1" and fwd.vias[1].rport == 40001
    assert fwd.headers.get("Max-Forwards") == "69"
    # UDP in, TCP out: two Record-Route entries, the callee's side on top (RFC 5658)
    assert fwd.headers.get_all("Record-Route") == [
        f"<sip:{HOST}:{PORT};transport=tcp;lr>", f"<sip:{HOST}:{PORT};lr>"]
    # the CANCEL leaves with the INVITE's branch (RFC 3261 §16.11)
    [cancel] = feed(proxy, request("CANCEL", f"sip:2001@{HOST}:{PORT}"), ALICE, 1.5)
    assert isinstance(cancel.message, Request)
    assert cancel.message.top_via.branch == fwd.top_via.branch
    assert "Record-Route" not in cancel.message.headers
    # the callee's response goes back to the caller's flow without our Via
    ringing = parse_message(make_response(fwd, 180, to_tag="t2").to_bytes())
    [back] = feed(proxy, ringing, BOB, 2.0)
    assert back.flow == ALICE and isinstance(back.message, Response)
    assert len(back.message.vias) == 1 and back.message.status == 180


def test_404_480_and_the_ack_of_a_local_answer() -> None:
    proxy = core()
    register(proxy, "1001", "pw1001", ALICE)
    [unknown] = feed(proxy, request("INVITE", f"sip:4242@{HOST}:{PORT}"), ALICE, 1.0)
    assert isinstance(unknown.message, Response) and unknown.message.status == 404
    [offline] = feed(proxy, request("INVITE", f"sip:1002@{HOST}:{PORT}", branch="z9hG4bKb2"),
                     ALICE, 1.0)
    assert isinstance(offline.message, Response) and offline.message.status == 480
    ack = request("ACK", f"sip:1002@{HOST}:{PORT}", branch="z9hG4bKb2")
    assert feed(proxy, ack, ALICE, 1.1) == []  # absorbed, not routed


def test_unregistered_source_is_challenged_407_then_routed() -> None:
    proxy = core()
    register(proxy, "2001", "pw2001", BOB)
    invite = request("INVITE", f"sip:2001@{HOST}:{PORT}", flow=STRANGER)
    [out] = feed(proxy, invite, STRANGER, 1.0)
    assert isinstance(out.message, Response) and out.message.status == 407
    auth = DigestAuthenticator("1001", "pw1001")
    retry = auth.handle_challenge(invite, out.message)
    assert retry is not None
    retry.headers.set("Via", "SIP/2.0/UDP 127.0.0.1:40009;branch=z9hG4bKnew;rport")
    retry.headers.set("CSeq", "2 INVITE")
    [routed] = feed(proxy, retry, STRANGER, 1.2)
    assert routed.flow == BOB and isinstance(routed.message, Request)
    assert "Proxy-Authorization" not in routed.message.headers  # consumed here


def test_in_dialog_request_drops_our_route_and_goes_to_the_contact() -> None:
    proxy = core()
    register(proxy, "2001", "pw2001", BOB)
    bye = request("BYE", "sip:2001@127.0.0.1:40002", to="<sip:2001@x>;tag=t2",
                  extra=[("Route", f"<sip:{HOST}:{PORT};lr>, <sip:{HOST}:{PORT};"
                                   "transport=tcp;lr>")])
    [out] = feed(proxy, bye, ALICE, 1.0)
    assert out.flow == BOB and isinstance(out.message, Request)
    assert "Route" not in out.message.headers


def test_response_without_our_via_and_garbage_are_dropped() -> None:
    proxy = core()
    stray = Response(200, "OK", [("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx"),
                                 ("Via", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKy"),
                                 ("From", "<sip:a@b>;tag=1"), ("To", "<sip:c@d>;tag=2"),
                                 ("Call-ID", "c"), ("CSeq", "1 INVITE")])
    assert feed(proxy, stray, ALICE, 0.0) == []
    assert proxy.receive(b"\x00garbage\r\n\r\n", ALICE, 0.0) == []
    assert proxy.receive(b"\r\n\r\n", ALICE, 0.0) == []
