"""HTTP digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).

Sans-IO: :class:`DigestAuthenticator` looks at a request and the 401/407 it got and returns
the request to resend (with credentials) or None when it must not retry. The caller bumps
the CSeq and makes a new branch (RFC 3261 §22.2); this module never touches transactions.
The challenge/credentials grammar lives in :mod:`agentconsole.sip.challenge`; its names are
re-exported here, so ``from agentconsole.sip.auth import parse_challenge`` keeps working.

Safety rules built in:

* answer only the configured realms (the SIP digest-leak attack: a peer answers our BYE with
  407 to harvest a response it can crack offline);
* never loop: a challenge to credentials we computed ourselves for that challenge means the
  password is wrong, unless the server says ``stale=true`` — and that only once;
* the password and the computed response never appear in a repr or a log record.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .challenge import Challenge, parse_challenge, parse_challenges, parse_credentials
from .errors import ParseError
from .message import Request, Response

__all__ = [
    "REDACTED",
    "SUPPORTED_ALGORITHMS",
    "Challenge",
    "DigestAuthenticator",
    "Secret",
    "compute_ha1",
    "compute_response",
    "is_supported",
    "may_answer_again",
    "parse_challenge",
    "parse_challenges",
    "parse_credentials",
]

logger = logging.getLogger(__name__)

REDACTED = "******"


class Secret:
    """A string that does not show itself: ``str``/``repr`` give ``******``.

    Call :meth:`reveal` at the one place the clear text is needed (hashing).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, hashlib.sha256(self._value.encode()).digest()))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not picklable")


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha512_256(data: bytes) -> str:
    # SHA-512/256 has its own initial values: truncating SHA-512 would be wrong.
    return hashlib.new("sha512_256", data).hexdigest()


def _has_sha512_256() -> bool:
    try:
        hashlib.new("sha512_256")
    except ValueError:  # pragma: no cover - depends on the OpenSSL build
        return False
    return True


_HASHES: dict[str, Callable[[bytes], str]] = {"MD5": _md5, "SHA-256": _sha256}
if _has_sha512_256():
    _HASHES["SHA-512-256"] = _sha512_256

#: Algorithm names we can answer (upper case), RFC 7616 §6.1 / RFC 8760 §2.
SUPPORTED_ALGORITHMS: frozenset[str] = frozenset(
    list(_HASHES) + [name + "-SESS" for name in _HASHES]
)


# ----- computing a response -------------------------------------------------------------


def _hash_for(algorithm: str) -> Callable[[bytes], str]:
    key = algorithm.upper()
    if key.endswith("-SESS"):
        key = key[: -len("-SESS")]
    try:
        return _HASHES[key]
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}") from None


def _reveal(password: str | Secret) -> str:
    return password.reveal() if isinstance(password, Secret) else password


def compute_ha1(
    algorithm: str,
    username: str,
    realm: str,
    password: str | Secret,
    nonce: str = "",
    cnonce: str = "",
) -> str:
    """H(A1) (RFC 7616 §3.4.2); the ``-sess`` variants bind it to nonce and cnonce."""
    h = _hash_for(algorithm)
    ha1 = h(f"{username}:{realm}:{_reveal(password)}".encode())
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}".encode())
    return ha1


def compute_response(
    *,
    algorithm: str,
    username: str,
    password: str | Secret | None = None,
    realm: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: int = 1,
    cnonce: str = "",
    body: bytes = b"",
    ha1: str | None = None,
) -> str:
    """The ``response`` value (RFC 7616 §3.4.1; RFC 2069 form when ``qop`` is None).

    Give either ``password`` or a stored ``ha1`` (RFC 7616 §3.4.2, computed by
    :func:`compute_ha1`). ``nc`` is sent as 8 hex digits. ``body`` is used for auth-int.
    """
    h = _hash_for(algorithm)
    if ha1 is None:
        if password is None:
            raise ValueError("compute_response needs a password or an ha1")
        ha1 = compute_ha1(algorithm, username, realm, password, nonce, cnonce)
    if qop == "auth-int":
        ha2 = h(f"{method}:{uri}:{h(body)}".encode())
    else:
        ha2 = h(f"{method}:{uri}".encode())
    if qop is None:
        return h(f"{ha1}:{nonce}:{ha2}".encode())
    return h(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:{qop}:{ha2}".encode())


def is_supported(challenge: Challenge) -> bool:
    """A digest challenge we can answer: known algorithm, and qop auth/auth-int or none.

    The ``-sess`` algorithms need a cnonce, which RFC 2617 §3.2.2 only allows with qop.
    """
    if not challenge.is_digest or challenge.algorithm_key not in SUPPORTED_ALGORITHMS:
        return False
    if not challenge.qop:
        return not challenge.algorithm_key.endswith("-SESS")
    return "auth" in challenge.qop or "auth-int" in challenge.qop


def may_answer_again(response: Response, answered: int) -> bool:
    """Whether the 401/407 ``response`` to a request whose challenges were answered
    ``answered`` times may be answered once more.

    The first challenge is always answered; a second only when it says the nonce went
    stale (RFC 7616 §3.3); never a third. Registrars such as Kamailio send a fresh nonce
    with every 401, so "once per nonce" alone would loop on a bad password.
    """
    header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
    stale = any("stale=true" in v.replace(" ", "").replace('"', "").lower()
                for v in response.headers.get_raw_all(header))
    return answered == 0 or (answered == 1 and stale)


def _choose_qop(challenge: Challenge) -> str | None:
    # auth-int protects the body too, but auth is what every server accepts; prefer it.
    if not challenge.qop:
        return None
    return "auth" if "auth" in challenge.qop else "auth-int"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _default_cnonce() -> str:
    return secrets.token_hex(8)


# ----- the client side of RFC 3261 §22 ----------------------------------------------------

_CHALLENGE_HEADERS: dict[int, tuple[str, str]] = {
    401: ("WWW-Authenticate", "Authorization"),
    407: ("Proxy-Authenticate", "Proxy-Authorization"),
}
_MEMORY = 256  # nonces remembered for the loop guard
_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass
class _NonceState:
    challenge: Challenge
    header: str
    cnonce: str
    nc: int = 0


class DigestAuthenticator:
    """Answers 401/407 challenges for one account (RFC 3261 §22.2, §22.3).

    ``realms``: the realms we may answer; None answers any realm (only safe when every
    request goes through a trusted proxy). With ``learn_realm`` and no ``realms``, the first
    realm answered (the registrar's, as REGISTER goes first) becomes the only one — the
    digest-leak defence for servers whose realm is not known in advance.
    ``cnonce_factory`` is injected for tests.
    """

    def __init__(
        self,
        username: str,
        password: str | Secret,
        *,
        realms: frozenset[str] | None = None,
        cnonce_factory: Callable[[], str] | None = None,
        learn_realm: bool = False,
    ) -> None:
        self.username = username
        self._password = password if isinstance(password, Secret) else Secret(password)
        self.realms = realms
        self.learn_realm = learn_realm
        self._cnonce_factory = cnonce_factory or _default_cnonce
        self._states: dict[tuple[str, str], _NonceState] = {}
        self._used_nonces: dict[str, None] = {}
        # fingerprints of credentials computed as the direct answer to a challenge ->
        # whether that challenge said stale=true
        self._direct: dict[str, bool] = {}

    def __repr__(self) -> str:
        realms = sorted(self.realms) if self.realms is not None else None
        return (
            f"DigestAuthenticator(username={self.username!r}, password={REDACTED}, "
            f"realms={realms!r})"
        )

    def reset(self) -> None:
        """Forget every nonce (after a credentials change, say)."""
        self._states.clear()
        self._used_nonces.clear()
        self._direct.clear()

    # ----- public API ----------------------------------------------------------------------
    def handle_challenge(self, request: Request, response: Response) -> Request | None:
        """A copy of ``request`` carrying credentials for ``response``'s challenges, or None.

        None means: do not resend (no challenge we support in a realm we may answer, or
        the server refused credentials we computed for its own challenge). The caller
        increments the CSeq and uses a new branch (RFC 3261 §22.2).
        """
        names = _CHALLENGE_HEADERS.get(response.status)
        if names is None:
            return None
        challenge_header, credentials_header = names
        chosen = self._choose(response.headers.get_raw_all(challenge_header))
        if not chosen:
            return None
        sent = _sent_credentials(request, credentials_header)
        for challenge in chosen:
            if self._is_rejection(challenge, sent.get(challenge.realm or "")):
                self._forget(credentials_header, challenge.realm or "")
                logger.warning(
                    "credentials for realm %r were refused (%d); not retrying",
                    challenge.realm,
                    response.status,
                )
                return None
        if self.learn_realm and self.realms is None:
            self.realms = frozenset({chosen[0].realm or ""})
            chosen = chosen[:1]
        new = _copy(request)
        for challenge in chosen:
            realm = challenge.realm or ""
            state = _NonceState(challenge, credentials_header, self._cnonce_factory())
            self._states[(credentials_header, realm)] = state
            value = self._credentials(state, request)
            _remember(self._direct, _fingerprint(value), challenge.stale)
            _replace_credentials(new, credentials_header, realm, value)
            logger.debug(
                "answering %d for realm %r with %s (qop=%s)",
                response.status,
                realm,
                challenge.algorithm,
                _choose_qop(challenge),
            )
        return new

    def authorize(self, request: Request, realm: str | None = None) -> Request:
        """A copy of ``request`` with pre-emptive credentials for the nonces we hold.

        RFC 3261 §22.3 lets a UAC reuse credentials for a realm; the nonce count goes up by
        one each time (RFC 7616 §3.4). Only call this for requests sent to the same
        registrar/proxy: credentials must never go to an unknown peer.
        """
        new = _copy(request)
        for (header, state_realm), state in self._states.items():
            if realm is not None and state_realm != realm:
                continue
            _replace_credentials(new, header, state_realm, self._credentials(state, request))
        return new

    # ----- internals -----------------------------------------------------------------------
    def _choose(self, values: list[str]) -> list[Challenge]:
        """The topmost supported challenge of each realm (RFC 8760 §2.4), allowed realms only."""
        seen: set[str] = set()
        chosen: list[Challenge] = []
        for value in values:
            try:
                challenges = parse_challenges(value)
            except ParseError as exc:
                logger.debug("ignoring unparsable challenge: %s", exc)
                continue
            for challenge in challenges:
                realm = challenge.realm or ""
                if not is_supported(challenge) or realm in seen:
                    continue
                seen.add(realm)
                if self.realms is not None and realm not in self.realms:
                    logger.warning("not answering a challenge for foreign realm %r", realm)
                    continue
                chosen.append(challenge)
        return chosen

    def _forget(self, header: str, realm: str) -> None:
        # The next request goes out without stale credentials and gets a fresh challenge.
        self._states.pop((header, realm), None)

    def _is_rejection(self, challenge: Challenge, sent: str | None) -> bool:
        if (challenge.nonce or "") in self._used_nonces:
            return True  # the same nonce again: our answer was wrong
        if sent is None or sent not in self._direct:
            return False  # first challenge, or pre-emptive credentials that went stale
        answered_stale = self._direct[sent]
        return not challenge.stale or answered_stale

    def _credentials(self, state: _NonceState, request: Request) -> str:
        challenge = state.challenge
        state.nc += 1
        nonce = challenge.nonce or ""
        realm = challenge.realm or ""
        _remember(self._used_nonces, nonce, None)
        qop = _choose_qop(challenge)
        username = self.username
        if challenge.userhash:  # RFC 7616 §3.4.4
            username = _hash_for(challenge.algorithm)(f"{username}:{realm}".encode())
        response = compute_response(
            algorithm=challenge.algorithm,
            username=self.username,
            password=self._password,
            realm=realm,
            method=request.method,
            uri=request.uri,
            nonce=nonce,
            qop=qop,
            nc=state.nc,
            cnonce=state.cnonce,
            body=request.body,
        )
        parts = [
            f"username={_quote(username)}",
            f"realm={_quote(realm)}",
            f"nonce={_quote(nonce)}",
            f"uri={_quote(request.uri)}",
            f'response="{response}"',
            f"algorithm={challenge.algorithm}",
        ]
        if challenge.opaque is not None:
            parts.append(f"opaque={_quote(challenge.opaque)}")
        if qop is not None:
            parts += [f"qop={qop}", f"nc={state.nc:08x}", f"cnonce={_quote(state.cnonce)}"]
        if challenge.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)


def _remember(memory: dict[_K, _V], key: _K, value: _V) -> None:
    memory.pop(key, None)
    memory[key] = value
    while len(memory) > _MEMORY:
        del memory[next(iter(memory))]


def _fingerprint(credentials: str) -> str:
    """Identifies credentials we computed without keeping the response value itself."""
    try:
        response = parse_credentials(credentials).params.get("response", "")
    except ParseError:
        response = ""
    return hashlib.sha256(response.encode()).hexdigest()[:32]


def _sent_credentials(request: Request, header: str) -> dict[str, str]:
    """realm -> fingerprint of the digest credentials ``request`` already carries."""
    out: dict[str, str] = {}
    for value in request.headers.get_raw_all(header):
        try:
            creds = parse_credentials(value)
        except ParseError:
            continue
        out[creds.realm or ""] = _fingerprint(value)
    return out


def _replace_credentials(request: Request, header: str, realm: str, value: str) -> None:
    kept: list[str] = []
    for existing in request.headers.get_raw_all(header):
        try:
            if (parse_credentials(existing).realm or "") == realm:
                continue
        except ParseError:
            continue
        kept.append(existing)
    request.headers.remove(header)
    for existing in kept:
        request.headers.add(header, existing)
    request.headers.add(header, value)


def _copy(request: Request) -> Request:
    headers = request.headers.copy()
    return Request(request.method, request.uri, headers, request.body, request.version)
