"""Message and header reprs: useful for debugging, and never a way for a secret to reach a log."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentconsole.sip.auth import DigestAuthenticator
from agentconsole.sip.message import (
    Headers,
    Request,
    Response,
    is_credential_header,
    make_response,
)

PASSWORD = "Pw-77c1-unique"
RESPONSE = "5ccc069c403ebaf9f0171e9517f40e41"
CNONCE = "0a4f113b55aa"
URI_PASSWORD = "UriPw-3141"
TOKEN = "tok-9e9e9e-bearer"

DIGEST = (
    f'Digest username="1001", realm="pbx", nonce="n1", uri="sip:pbx.example.com", '
    f'response="{RESPONSE}", algorithm=MD5, cnonce="{CNONCE}", qop=auth, nc=00000001'
)
SECRETS = (PASSWORD, RESPONSE, CNONCE, URI_PASSWORD, TOKEN)


def invite() -> Request:
    return Request(
        "INVITE",
        f"sip:bob:{URI_PASSWORD}@example.com;transport=tcp",
        [
            ("Via", "SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK77"),
            ("From", "<sip:1001@pbx.example.com>;tag=f1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "call-42@10.0.0.1"),
            ("CSeq", "2 INVITE"),
            ("Contact", f"<sip:1001:{URI_PASSWORD}@10.0.0.1:5060>"),
            ("Authorization", DIGEST),
            ("Proxy-Authorization", DIGEST.replace("pbx", "proxy")),
            ("X-Account-Password", PASSWORD),
            ("X-Api-Token", TOKEN),
            ("X-Shared-Secret", PASSWORD),
            ("Content-Type", "application/sdp"),
        ],
        body=f"v=0\r\na=x-password:{PASSWORD}\r\n".encode(),
    )


def assert_clean(text: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert leaked == [], f"{leaked} in {text!r}"


def test_request_repr_is_compact_and_clean() -> None:
    request = invite()
    text = repr(request)
    assert text == "<Request INVITE sip:bob:******@example.com;transport=tcp " \
        "call-id=call-42@10.0.0.1 cseq=2 INVITE>"
    assert str(request) == text and f"{request}" == text
    assert "Via" not in text and "z9hG4bK77" not in text and "sdp" not in text


def test_response_repr_is_compact_and_clean() -> None:
    response = make_response(invite(), 200, to_tag="t9")
    response.headers.add("Authentication-Info", f'rspauth="{RESPONSE}", cnonce="{CNONCE}"')
    assert repr(response) == "<Response 200 OK call-id=call-42@10.0.0.1 cseq=2 INVITE>"
    assert_clean(str(response))
    assert repr(Response(100)) == "<Response 100>"
    assert repr(Request("OPTIONS", "sip:h")) == "<Request OPTIONS sip:h>"


def test_headers_repr_masks_credentials_but_keeps_the_rest() -> None:
    headers = invite().headers
    text = repr(headers)
    assert_clean(text)
    assert str(headers) == text
    assert "('Authorization', '******')" in text
    assert "('Proxy-Authorization', '******')" in text
    assert "('X-Api-Token', '******')" in text
    # ordinary headers still help debugging; a URI password inside one is masked
    assert "z9hG4bK77" in text and "call-42@10.0.0.1" in text
    assert "<sip:1001:******@10.0.0.1:5060>" in text


def test_masking_is_only_in_the_repr() -> None:
    request = invite()
    repr(request)
    repr(request.headers)
    assert request.headers.get("Authorization") == DIGEST
    assert RESPONSE.encode() in request.to_bytes()
    assert request == invite()  # equality still compares every field


def test_logged_message_and_containers_stay_clean(caplog: pytest.LogCaptureFixture) -> None:
    request = invite()
    response = Response(401, "Unauthorized", request.headers.copy())
    log = logging.getLogger("agentconsole.test")

    @dataclasses.dataclass(frozen=True)
    class Event:  # events embed messages; their generated repr calls ours
        request: Request
        response: Response

    with caplog.at_level(logging.DEBUG, logger="agentconsole"):
        log.debug(f"sending {request!r}")
        log.debug("got %r for %s", response, request)
        log.debug("event %r, headers %s", Event(request, response), request.headers)
        log.debug("several: %r", [request, response, {"h": request.headers}])
    assert len(caplog.records) == 4
    for record in caplog.records:
        assert_clean(record.getMessage())
    assert "<Request INVITE" in caplog.records[0].getMessage()


def test_credentials_the_authenticator_adds_never_show() -> None:
    auth = DigestAuthenticator("1001", PASSWORD, cnonce_factory=lambda: CNONCE)
    register = Request("REGISTER", "sip:pbx.example.com", [
        ("Via", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1"), ("From", "<sip:1001@pbx>;tag=a"),
        ("To", "<sip:1001@pbx>"), ("Call-ID", "r1"), ("CSeq", "1 REGISTER"),
    ])
    challenge = make_response(register, 401)
    challenge.headers.add("WWW-Authenticate", 'Digest realm="pbx", nonce="n1", qop="auth"')
    retry = auth.handle_challenge(register, challenge)
    assert retry is not None
    value = retry.headers.get("Authorization") or ""
    response_value = value.split('response="')[1].split('"')[0]
    assert len(response_value) == 32
    for text in (repr(retry), str(retry), repr(retry.headers), repr([retry])):
        assert response_value not in text and CNONCE not in text and PASSWORD not in text


def test_control_characters_are_escaped_and_long_values_cut() -> None:
    request = Request("MESSAGE", "sip:a@b", [("Call-ID", "x\r\nInjected: 1"),
                                               ("CSeq", "1 " + "M" * 500)])
    text = repr(request)
    assert "\r" not in text and "\n" not in text and "\\r\\n" in text
    assert len(text) < 250 and text.endswith("...>")


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("Authorization", True), ("proxy-authorization", True), ("Authentication-Info", True),
        ("X-Password", True), ("x-passwd", True), ("X-Client-Secret", True),
        ("X-Auth-Token", True), ("X-Credentials", True),
        ("Via", False), ("WWW-Authenticate", False), ("Call-ID", False), ("i", False),
    ],
)
def test_is_credential_header(name: str, secret: bool) -> None:
    assert is_credential_header(name) is secret


# hex, 16+ long: cannot occur by chance in the fixed text of a repr (names, reason phrase)
_SECRET_TEXT = st.text(alphabet="0123456789abcdef", min_size=16, max_size=40)


@given(
    name=st.sampled_from(["Authorization", "Proxy-Authorization", "X-Password", "X-Token",
                          "x-my-secret", "P-Credential"]),
    value=_SECRET_TEXT,
)
def test_any_credential_header_value_is_hidden(name: str, value: str) -> None:
    headers = Headers([("Call-ID", "c"), ("CSeq", "1 BYE"), (name, value)])
    request = Request("BYE", "sip:a@b", headers)
    response = Response(407, "Proxy Authentication Required", headers.copy())
    for text in (repr(headers), repr(request), str(response), repr((request, response))):
        assert value not in text
