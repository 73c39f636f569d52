"""Digest authentication: RFC vectors, challenge parsing, choice, loop and leak guards."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentconsole.sip.auth import (
    SUPPORTED_ALGORITHMS,
    DigestAuthenticator,
    Secret,
    compute_ha1,
    compute_response,
    is_supported,
    may_answer_again,
    parse_challenge,
    parse_challenges,
    parse_credentials,
)
from agentconsole.sip.errors import ParseError
from agentconsole.sip.message import Request, Response

PASSWORD = "Zq8-very-secret-pw"

# ----- RFC test vectors ---------------------------------------------------------------------


def test_rfc2617_section_3_5_vector() -> None:
    response = compute_response(
        algorithm="MD5",
        username="Mufasa",
        password="Circle Of Life",
        realm="testrealm@host.com",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop="auth",
        nc=1,
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


RFC7616: dict[str, object] = {
    "username": "Mufasa",
    "password": "Circle of Life",
    "realm": "http-auth@example.org",
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    "nc": 1,
    "qop": "auth",
}


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_section_3_9_1_vectors(algorithm: str, expected: str) -> None:
    assert compute_response(algorithm=algorithm, **RFC7616) == expected  # type: ignore[arg-type]


def test_secret_password_and_stored_ha1_give_the_same_response() -> None:
    args = dict(RFC7616)
    args["password"] = Secret("Circle of Life")
    expected = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    assert compute_response(algorithm="SHA-256", **args) == expected  # type: ignore[arg-type]
    ha1 = compute_ha1("SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life")
    del args["password"]
    assert compute_response(algorithm="SHA-256", ha1=ha1, **args) == expected  # type: ignore[arg-type]


def test_sha512_256_is_the_real_algorithm_not_truncated_sha512() -> None:
    assert "SHA-512-256" in SUPPORTED_ALGORITHMS
    ha1 = compute_ha1("SHA-512-256", "u", "r", "p")
    assert ha1 == hashlib.new("sha512_256", b"u:r:p").hexdigest()
    assert ha1 != hashlib.sha512(b"u:r:p").hexdigest()[:64]
    assert len(ha1) == 64


def test_sess_variant_binds_ha1_to_nonce_and_cnonce() -> None:
    base = hashlib.md5(b"u:r:p").hexdigest()
    assert compute_ha1("MD5-sess", "u", "r", "p", "n", "c") == hashlib.md5(
        f"{base}:n:c".encode()
    ).hexdigest()


def test_rfc2069_form_without_qop() -> None:
    ha1 = hashlib.md5(b"u:r:p").hexdigest()
    ha2 = hashlib.md5(b"REGISTER:sip:r").hexdigest()
    expected = hashlib.md5(f"{ha1}:n:{ha2}".encode()).hexdigest()
    got = compute_response(algorithm="MD5", username="u", password="p", realm="r",
                           method="REGISTER", uri="sip:r", nonce="n")
    assert got == expected


def test_auth_int_hashes_the_body() -> None:
    args = dict(algorithm="MD5", username="u", password="p", realm="r", method="INVITE",
                uri="sip:b@r", nonce="n", qop="auth-int", nc=1, cnonce="c")
    assert compute_response(body=b"v=0", **args) != compute_response(body=b"", **args)  # type: ignore[arg-type]


# ----- parsing challenges ---------------------------------------------------------------------


def test_parse_challenge_with_lws_escapes_and_unknown_params() -> None:
    value = (
        'Digest  realm = "pbx \\"main\\"" ,\r\n\tnonce="a,b=c", opaque="xyz",'
        ' qop="auth, auth-int", algorithm=sha-256, stale=TRUE, domain="sip:pbx",'
        " x-vendor=42"
    )
    ch = parse_challenge(value)
    assert ch.scheme == "Digest" and ch.is_digest
    assert ch.realm == 'pbx "main"'
    assert ch.nonce == "a,b=c"
    assert ch.opaque == "xyz"
    assert ch.qop == ("auth", "auth-int")
    assert ch.algorithm == "sha-256" and ch.algorithm_key == "SHA-256"
    assert ch.stale is True
    assert ch.domain == "sip:pbx"
    assert ch.params["x-vendor"] == "42"


def test_defaults_md5_no_qop_not_stale() -> None:
    ch = parse_challenge('Digest realm="r", nonce="n"')
    assert (ch.algorithm, ch.qop, ch.stale, ch.opaque) == ("MD5", (), False, None)


def test_several_challenges_in_one_value_and_token68() -> None:
    chs = parse_challenges(
        'Digest realm="a", nonce="1", algorithm=SHA-256, Basic QWxhZGRpbg==, '
        'Digest realm="a",nonce=2'
    )
    assert [c.scheme for c in chs] == ["Digest", "Basic", "Digest"]
    assert chs[1].token68 == "QWxhZGRpbg=="
    assert chs[2].nonce == "2" and chs[2].algorithm == "MD5"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        'Digest realm="r"',  # no nonce
        'Digest nonce="n"',  # no realm
        'Digest realm="r", nonce="n',  # unterminated quote
        'Digest realm="r" nonce="n"',  # missing comma
        'Digest realm="r", realm="s", nonce="n"',  # duplicate
        "Digest realm=, nonce=n",
        '"Digest" realm="r"',
    ],
)
def test_bad_challenges_raise_parse_error(value: str) -> None:
    with pytest.raises(ParseError):
        parse_challenges(value)


@given(st.text(max_size=80))
def test_parser_raises_only_parse_error(value: str) -> None:
    with contextlib.suppress(ParseError):
        parse_challenges(value)


@given(st.text(alphabet='Digest realm=nonce,qop"\\ \t=abc', max_size=60))
def test_parser_raises_only_parse_error_on_near_misses(value: str) -> None:
    with contextlib.suppress(ParseError):
        parse_challenges(value)


def test_is_supported() -> None:
    assert is_supported(parse_challenge('Digest realm="r", nonce="n", algorithm=SHA-512-256'))
    assert not is_supported(parse_challenge('Digest realm="r", nonce="n", algorithm=SHA-1'))
    assert not is_supported(parse_challenge('Digest realm="r", nonce="n", qop="auth-conf"'))
    # -sess needs a cnonce, which only exists with qop
    assert not is_supported(parse_challenge('Digest realm="r", nonce="n", algorithm=MD5-sess'))
    assert not is_supported(parse_challenge("Basic realm=x"))


# ----- the authenticator ---------------------------------------------------------------------


def register() -> Request:
    return Request(
        "REGISTER",
        "sip:pbx.example.com",
        [
            ("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1"),
            ("From", "<sip:1001@pbx.example.com>;tag=a"),
            ("To", "<sip:1001@pbx.example.com>"),
            ("Call-ID", "c1"),
            ("CSeq", "1 REGISTER"),
        ],
    )


def challenge(*values: str, status: int = 401) -> Response:
    name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    return Response(status, "Unauthorized", [(name, v) for v in values])


def make_auth(realms: frozenset[str] | None = frozenset({"pbx"})) -> DigestAuthenticator:
    counter = itertools.count(1)
    return DigestAuthenticator("1001", PASSWORD, realms=realms,
                               cnonce_factory=lambda: f"cn{next(counter)}")


def creds(request: Request, name: str = "Authorization") -> dict[str, str]:
    values = request.headers.get_raw_all(name)
    assert len(values) == 1, values
    return parse_credentials(values[0]).params


def test_answers_a_401_with_a_correct_authorization() -> None:
    auth = make_auth()
    original = register()
    retry = auth.handle_challenge(
        original, challenge('Digest realm="pbx", nonce="n1", qop="auth", opaque="o"')
    )
    assert retry is not None and retry is not original
    assert "Authorization" not in original.headers  # the caller's request is untouched
    params = creds(retry)
    expected = compute_response(algorithm="MD5", username="1001", password=PASSWORD,
                                realm="pbx", method="REGISTER", uri="sip:pbx.example.com",
                                nonce="n1", qop="auth", nc=1, cnonce="cn1")
    assert params["response"] == expected
    assert params["nc"] == "00000001" and params["cnonce"] == "cn1"
    assert params["uri"] == "sip:pbx.example.com" and params["opaque"] == "o"
    assert params["username"] == "1001" and params["qop"] == "auth"
    assert retry.headers.get("Call-ID") == "c1"


def test_407_gets_proxy_authorization() -> None:
    auth = make_auth()
    retry = auth.handle_challenge(register(),
                                  challenge('Digest realm="pbx", nonce="p1"', status=407))
    assert retry is not None
    assert "Authorization" not in retry.headers
    params = creds(retry, "Proxy-Authorization")
    assert params["nonce"] == "p1"
    assert "nc" not in params and "cnonce" not in params  # RFC 2069 style: no qop


def test_other_statuses_are_not_challenges() -> None:
    resp = Response(403, "Forbidden", [("WWW-Authenticate", 'Digest realm="pbx", nonce="n"')])
    assert make_auth().handle_challenge(register(), resp) is None


def test_topmost_supported_challenge_wins_sha256_over_md5() -> None:
    auth = make_auth()
    retry = auth.handle_challenge(register(), challenge(
        'Digest realm="pbx", nonce="x", algorithm=SHA-1',  # unsupported: skipped
        'Digest realm="pbx", nonce="s", algorithm=SHA-256, qop="auth"',
        'Digest realm="pbx", nonce="m", algorithm=MD5, qop="auth"',
    ))
    assert retry is not None
    params = creds(retry)
    assert params["algorithm"] == "SHA-256" and params["nonce"] == "s"
    assert len(params["response"]) == 64


def test_topmost_is_honoured_even_when_md5_is_first() -> None:
    auth = make_auth()
    retry = auth.handle_challenge(register(), challenge(
        'Digest realm="pbx", nonce="m", algorithm=MD5, qop="auth"',
        'Digest realm="pbx", nonce="s", algorithm=SHA-256, qop="auth"',
    ))
    assert retry is not None and creds(retry)["algorithm"] == "MD5"


def test_auth_is_chosen_when_auth_int_is_also_offered() -> None:
    retry = make_auth().handle_challenge(
        register(), challenge('Digest realm="pbx", nonce="n", qop="auth-int,auth"'))
    assert retry is not None and creds(retry)["qop"] == "auth"


def test_no_supported_challenge_means_no_retry() -> None:
    auth = make_auth()
    assert auth.handle_challenge(register(), challenge("Basic realm=\"pbx\"")) is None
    assert auth.handle_challenge(register(), challenge("garbage ,,, \"")) is None
    assert auth.handle_challenge(register(), Response(401, "Unauthorized")) is None


def test_foreign_realm_is_never_answered(caplog: pytest.LogCaptureFixture) -> None:
    auth = make_auth(frozenset({"pbx"}))
    with caplog.at_level(logging.DEBUG):
        retry = auth.handle_challenge(register(),
                                      challenge('Digest realm="evil", nonce="n"', status=407))
    assert retry is None
    assert "evil" in caplog.text


def test_only_our_realm_is_answered_when_several_are_challenged() -> None:
    auth = make_auth(frozenset({"pbx"}))
    retry = auth.handle_challenge(register(), challenge(
        'Digest realm="evil", nonce="e"', 'Digest realm="pbx", nonce="p"', status=407))
    assert retry is not None
    assert creds(retry, "Proxy-Authorization")["realm"] == "pbx"


def test_any_realm_when_realms_is_none() -> None:
    retry = make_auth(None).handle_challenge(register(), challenge('Digest realm="x", nonce="n"'))
    assert retry is not None and creds(retry)["realm"] == "x"


def test_learn_realm_pins_the_first_realm_answered() -> None:
    auth = DigestAuthenticator("1001", PASSWORD, learn_realm=True, cnonce_factory=lambda: "c")
    assert auth.handle_challenge(register(), challenge('Digest realm="asterisk", nonce="a"'))
    assert auth.realms == frozenset({"asterisk"})
    assert auth.handle_challenge(register(), challenge('Digest realm="evil", nonce="e"')) is None
    assert auth.handle_challenge(register(), challenge('Digest realm="asterisk", nonce="b"'))


def test_same_nonce_twice_stops() -> None:
    auth = make_auth()
    first = auth.handle_challenge(register(), challenge('Digest realm="pbx", nonce="n1"'))
    assert first is not None
    assert auth.handle_challenge(first, challenge('Digest realm="pbx", nonce="n1"')) is None
    # even if the caller passes the original request again, no loop
    assert auth.handle_challenge(register(), challenge('Digest realm="pbx", nonce="n1"')) is None


def test_fresh_nonce_without_stale_after_our_answer_means_wrong_password() -> None:
    auth = make_auth()
    first = auth.handle_challenge(register(), challenge('Digest realm="pbx", nonce="n1"'))
    assert first is not None
    assert auth.handle_challenge(first, challenge('Digest realm="pbx", nonce="n2"')) is None


def test_stale_true_is_answered_once_with_the_new_nonce() -> None:
    auth = make_auth()
    first = auth.handle_challenge(register(), challenge('Digest realm="pbx", nonce="n1"'))
    assert first is not None
    second = auth.handle_challenge(
        first, challenge('Digest realm="pbx", nonce="n2", stale=true, qop="auth"'))
    assert second is not None
    params = creds(second)  # replaced, not duplicated
    assert params["nonce"] == "n2" and params["nc"] == "00000001"
    assert auth.handle_challenge(
        second, challenge('Digest realm="pbx", nonce="n3", stale=true')) is None


def test_a_request_answers_one_challenge_and_a_second_only_when_stale() -> None:
    fresh = challenge('Digest realm="pbx", nonce="n2"')
    stale = challenge('Digest realm="pbx", nonce="n2", stale = "TRUE"', status=407)
    assert may_answer_again(fresh, 0) and may_answer_again(stale, 0)
    assert may_answer_again(stale, 1) and not may_answer_again(fresh, 1)
    assert not may_answer_again(stale, 2)


def test_nonce_count_increments_on_preemptive_use() -> None:
    auth = make_auth()
    auth.handle_challenge(register(), challenge('Digest realm="pbx", nonce="n1", qop="auth"'))
    later = [auth.authorize(register()) for _ in range(3)]
    assert [creds(r)["nc"] for r in later] == ["00000002", "00000003", "00000004"]
    assert {creds(r)["cnonce"] for r in later} == {"cn1"}
    assert all(creds(r)["nonce"] == "n1" for r in later)
    # each is a valid answer for its nc
    expected = compute_response(algorithm="MD5", username="1001", password=PASSWORD,
                                realm="pbx", method="REGISTER", uri="sip:pbx.example.com",
                                nonce="n1", qop="auth", nc=3, cnonce="cn1")
    assert creds(later[1])["response"] == expected


def test_authorize_before_any_challenge_adds_nothing() -> None:
    request = make_auth().authorize(register())
    assert "Authorization" not in request.headers


def test_expired_preemptive_nonce_is_retried_once() -> None:
    auth = make_auth()
    auth.handle_challenge(register(), challenge('Digest realm="pbx", nonce="n1", qop="auth"'))
    refresh = auth.authorize(register())  # nonce n1, nc 2
    retry = auth.handle_challenge(refresh, challenge('Digest realm="pbx", nonce="n2"'))
    assert retry is not None and creds(retry)["nonce"] == "n2"
    assert auth.handle_challenge(retry, challenge('Digest realm="pbx", nonce="n3"')) is None


def test_after_a_refusal_the_next_request_starts_clean() -> None:
    # Without qop a reused nonce cannot be told from our first answer: refuse, then forget
    # the nonce so the next attempt is challenged afresh instead of failing forever.
    auth = make_auth()
    auth.handle_challenge(register(), challenge('Digest realm="pbx", nonce="n1"'))
    refresh = auth.authorize(register())
    assert creds(refresh)["nonce"] == "n1"
    assert auth.handle_challenge(refresh, challenge('Digest realm="pbx", nonce="n2"')) is None
    later = auth.authorize(register())
    assert "Authorization" not in later.headers
    retry = auth.handle_challenge(later, challenge('Digest realm="pbx", nonce="n3"'))
    assert retry is not None and creds(retry)["nonce"] == "n3"


def test_userhash(caplog: pytest.LogCaptureFixture) -> None:
    retry = make_auth().handle_challenge(register(), challenge(
        'Digest realm="pbx", nonce="n", algorithm=SHA-256, userhash=true, qop="auth"'))
    assert retry is not None
    params = creds(retry)
    assert params["username"] == hashlib.sha256(b"1001:pbx").hexdigest()
    assert params["userhash"] == "true"


def test_username_with_quote_is_escaped() -> None:
    auth = DigestAuthenticator('a"b\\c', "pw", cnonce_factory=lambda: "c")
    retry = auth.handle_challenge(register(), challenge('Digest realm="r", nonce="n"'))
    assert retry is not None
    assert creds(retry)["username"] == 'a"b\\c'


def test_password_never_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    auth = make_auth()
    assert PASSWORD not in repr(auth) and PASSWORD not in str(vars_of(auth))
    with caplog.at_level(logging.DEBUG, logger="agentconsole"):
        first = auth.handle_challenge(register(), challenge('Digest realm="pbx", nonce="n1"'))
        assert first is not None
        auth.handle_challenge(first, challenge('Digest realm="pbx", nonce="n2"'))
        auth.handle_challenge(register(), challenge('Digest realm="evil", nonce="e"'))
    response_value = creds(first)["response"]
    assert caplog.records  # something was logged, and none of it is secret
    for record in caplog.records:
        text = record.getMessage()
        assert PASSWORD not in text and response_value not in text


def vars_of(auth: DigestAuthenticator) -> dict[str, object]:
    return {k: getattr(auth, k) for k in dir(auth) if not k.startswith("__")}


def test_secret_type() -> None:
    secret = Secret(PASSWORD)
    assert str(secret) == repr(secret) == "******"
    assert f"{secret}" == "******" and PASSWORD not in repr([secret])
    assert secret.reveal() == PASSWORD
    assert secret == Secret(PASSWORD) and secret != Secret("other")
    assert hash(secret) == hash(Secret(PASSWORD))
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_challenge_parsing_lives_in_its_own_module_and_is_re_exported() -> None:
    from agentconsole.sip import auth, challenge

    for name in ("Challenge", "parse_challenge", "parse_challenges", "parse_credentials"):
        assert getattr(auth, name) is getattr(challenge, name), name
        assert name in auth.__all__
    parsed = challenge.parse_credentials('Digest username="u", realm="r", response="x"')
    assert parsed.realm == "r" and parsed.params["response"] == "x"
