"""Trace redaction: credentials never survive, everything else does, nothing raises."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agentconsole.sip.redact import redact_message_bytes, redact_text

RESPONSE = "6629fae49393a05397450978507c4ef1"
CNONCE = "0a4f113b"


def message(*headers: str, body: bytes = b"") -> bytes:
    head = "\r\n".join(
        [
            "REGISTER sip:pbx.example.com SIP/2.0",
            "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
            "Call-ID: abc",
            "CSeq: 2 REGISTER",
            *headers,
            f"Content-Length: {len(body)}",
        ]
    )
    return head.encode() + b"\r\n\r\n" + body


DIGEST = (
    f'Digest username="1001", realm="pbx", nonce="n1", uri="sip:pbx.example.com", '
    f'response="{RESPONSE}", algorithm=MD5, cnonce="{CNONCE}", qop=auth, nc=00000001, '
    f'opaque="op"'
)


def test_authorization_response_is_masked_and_the_rest_kept() -> None:
    out = redact_message_bytes(message(f"Authorization: {DIGEST}")).decode()
    assert RESPONSE not in out and CNONCE not in out
    line = next(x for x in out.split("\r\n") if x.startswith("Authorization:"))
    assert line.startswith("Authorization: Digest ")
    for kept in ('username="1001"', 'realm="pbx"', 'nonce="n1"', 'uri="sip:pbx.example.com"',
                 "algorithm=MD5", "qop=auth", "nc=00000001"):
        assert kept in line
    assert 'response="******"' in line and 'cnonce="******"' in line
    # untouched lines stay byte-identical
    assert "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n" in out
    assert out.endswith("Content-Length: 0\r\n\r\n")


def test_proxy_authorization_case_insensitive_and_odd_spacing() -> None:
    raw = message(f"proxy-AUTHORIZATION   :{DIGEST}")
    out = redact_message_bytes(raw).decode()
    assert RESPONSE not in out and 'response="******"' in out


def test_folded_authorization_header() -> None:
    raw = message(
        'Authorization: Digest username="1001", realm="pbx",',
        '  nonce="n1", uri="sip:pbx", response=',
        f'\t"{RESPONSE}", cnonce="{CNONCE}"',
        "Max-Forwards: 70",
    )
    out = redact_message_bytes(raw).decode()
    assert RESPONSE not in out and CNONCE not in out
    assert "Max-Forwards: 70\r\n" in out
    assert 'username="1001"' in out


def test_unknown_params_and_unterminated_quotes_are_hidden() -> None:
    raw = message(f'Authorization: Digest username="u", x-key="{RESPONSE}", response="{RESPONSE}')
    out = redact_message_bytes(raw).decode()
    assert RESPONSE not in out


def test_basic_and_bearer_keep_only_the_scheme() -> None:
    out = redact_message_bytes(message(
        "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "Proxy-Authorization: Bearer eyJhbGciOi.payload.sig",
    )).decode()
    assert "QWxhZGRpbjpvcGVuIHNlc2FtZQ==" not in out and "eyJhbGciOi" not in out
    assert "Authorization: Basic ******" in out and "Proxy-Authorization: Bearer ******" in out


def test_authentication_info_rspauth_masked() -> None:
    out = redact_message_bytes(message(
        f'Authentication-Info: qop=auth, rspauth="{RESPONSE}", cnonce="{CNONCE}", nc=00000001'
    )).decode()
    assert RESPONSE not in out and CNONCE not in out and "nc=00000001" in out


def test_password_and_secret_headers_removed_whole() -> None:
    out = redact_message_bytes(message(
        "X-Password: hunter2", "P-Shared-Secret: s3cr3t", "x-api-token: tok123",
    )).decode()
    for secret in ("hunter2", "s3cr3t", "tok123"):
        assert secret not in out
    assert "X-Password: ******" in out


def test_password_in_a_sip_uri_is_masked() -> None:
    out = redact_message_bytes(message("From: <sip:1001:hunter2@pbx>;tag=1")).decode()
    assert "hunter2" not in out and "sip:1001:******@pbx" in out
    # a port is not a password
    kept = message("Contact: <sip:1001@10.0.0.1:5060>")
    assert redact_message_bytes(kept) == kept


def test_sdes_key_masked_with_same_length() -> None:
    key = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
    body = f"v=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20|1:4\r\n".encode()
    raw = message("Content-Type: application/sdp", body=body)
    out = redact_message_bytes(raw)
    assert key.encode() not in out
    assert len(out) == len(raw)  # Content-Length still right


def test_fragment_without_header_name_still_masks_response() -> None:
    out = redact_message_bytes(f'  response="{RESPONSE}", cnonce="{CNONCE}"\r\n'.encode())
    assert RESPONSE.encode() not in out and CNONCE.encode() not in out


def test_two_messages_in_one_buffer() -> None:
    raw = message(f"Authorization: {DIGEST}") + message(f"Proxy-Authorization: {DIGEST}")
    assert RESPONSE.encode() not in redact_message_bytes(raw)


def test_a_message_without_secrets_is_unchanged() -> None:
    raw = message("WWW-Authenticate: Digest realm=\"pbx\", nonce=\"n\"", "To: <sip:a@b>",
                  body=b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n")
    assert redact_message_bytes(raw) == raw


def test_bare_lf_line_endings_and_binary_bytes() -> None:
    raw = f"INVITE sip:a SIP/2.0\nAuthorization: {DIGEST}\n\n".encode() + bytes(range(256))
    out = redact_message_bytes(raw)
    assert RESPONSE.encode() not in out
    assert out.endswith(bytes(range(256)))


def test_redact_text() -> None:
    assert RESPONSE not in redact_text(f"Authorization: {DIGEST}")


@given(st.binary(max_size=300))
def test_never_raises_and_returns_bytes(data: bytes) -> None:
    assert isinstance(redact_message_bytes(data), bytes)


@given(st.text(alphabet="Authorization:Digest response=\"\\, \t\r\nabc", max_size=120))
def test_never_leaks_a_planted_response(noise: str) -> None:
    data = (noise + f"\r\nAuthorization: {DIGEST}\r\n" + noise).encode()
    out = redact_message_bytes(data)
    assert RESPONSE.encode() not in out
