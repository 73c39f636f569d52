"""The demo switch's registrar: digest checks and the location table (sans-IO).

This is a demo and a test fixture, not a PBX: one realm, passwords in memory, no
forking (a user's newest binding wins), no persistence. What it does do follows the
RFCs closely enough for real clients (our Phone, baresip, SIPp) to register:

* digest challenges with ``qop=auth`` (RFC 7616 §3.3), SHA-256 offered before MD5 as
  RFC 8760 §2.4 asks; nonces are stateless (a timestamp, a salt and an HMAC over both),
  go stale after ``nonce_ttl`` seconds (``stale=true``, RFC 7616 §3.3) and a nonce count
  that does not grow is refused (replay, RFC 7616 §3.4);
* REGISTER per RFC 3261 §10.3: Contact ``*`` with ``Expires: 0`` removes every binding,
  per-contact ``expires`` beats the Expires header, 423 below ``min_expires``, and the
  200 lists the bindings now held.

Every method takes ``now`` (seconds, any monotonic origin): no clock is read here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from ..sip.auth import compute_response, parse_credentials
from ..sip.errors import ParseError
from ..sip.message import Request, Response, make_response
from ..sip.uri import NameAddr, SipUri, parse_name_addr

logger = logging.getLogger(__name__)

#: A transport flow: ("udp" | "tcp" | "ws", (host, port)) of the peer as we see it.
Address = tuple[str, int]


@dataclass(frozen=True)
class Flow:
    """Where a peer's messages came from, and so where to send back (RFC 5626 §3 idea)."""

    transport: str
    address: Address

    def __str__(self) -> str:
        return f"{self.transport}:{self.address[0]}:{self.address[1]}"


@dataclass
class Binding:
    user: str
    contact: str  # the Contact URI as registered
    flow: Flow
    expires_at: float
    instance: str | None = None


class DigestVerifier:
    """Issue and check digest challenges for one realm (server side of RFC 3261 §22)."""

    def __init__(self, realm: str, passwords: Mapping[str, str], *,
                 algorithms: tuple[str, ...] = ("SHA-256", "MD5"), nonce_ttl: float = 300.0,
                 secret: bytes | None = None) -> None:
        self.realm = realm
        self._passwords = dict(passwords)
        self.algorithms = algorithms
        self.nonce_ttl = nonce_ttl
        self._secret = secret or secrets.token_bytes(16)
        self._last_nc: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"DigestVerifier(realm={self.realm!r}, users={len(self._passwords)})"

    def _mac(self, stamp: str, salt: str) -> str:
        return hmac.new(self._secret, f"{stamp}:{salt}".encode(), hashlib.sha256).hexdigest()[:20]

    def new_nonce(self, now: float) -> str:
        stamp = f"{int(now * 1000):x}"
        salt = secrets.token_hex(4)
        return f"{stamp}.{salt}.{self._mac(stamp, salt)}"

    def challenges(self, now: float, *, stale: bool = False) -> list[str]:
        """One header value per algorithm, strongest first (RFC 8760 §2.4)."""
        nonce = self.new_nonce(now)
        extra = ", stale=true" if stale else ""
        return [f'Digest realm="{self.realm}", nonce="{nonce}", algorithm={alg}, '
                f'qop="auth"{extra}' for alg in self.algorithms]

    def _nonce_age(self, nonce: str, now: float) -> float | None:
        """Seconds since ``nonce`` was issued, or None when we did not issue it."""
        parts = nonce.split(".")
        if len(parts) != 3 or not hmac.compare_digest(parts[2], self._mac(parts[0], parts[1])):
            return None
        try:
            issued = int(parts[0], 16) / 1000
        except ValueError:
            return None
        return now - issued

    def verify(self, request: Request, header: str, now: float) -> tuple[str | None, bool]:
        """(authenticated user or None, stale) for ``request``'s credentials in ``header``."""
        for value in request.headers.get_raw_all(header):
            try:
                creds = parse_credentials(value)
            except ParseError:
                continue
            if not creds.is_digest or creds.realm != self.realm:
                continue
            user, stale = self._check(creds.params, request, now)
            if user is not None or stale:
                return user, stale
        return None, False

    def _check(self, params: Mapping[str, str], request: Request,
               now: float) -> tuple[str | None, bool]:
        user = params.get("username", "")
        password = self._passwords.get(user)
        nonce = params.get("nonce", "")
        algorithm = params.get("algorithm", "MD5")
        if password is None or algorithm.upper() not in self.algorithms:
            return None, False
        age = self._nonce_age(nonce, now)
        if age is None:
            return None, False
        qop = params.get("qop")
        try:
            nc = int(params.get("nc", "0"), 16) if qop else 0
            expected = compute_response(
                algorithm=algorithm, username=user, password=password, realm=self.realm,
                method=request.method, uri=params.get("uri", ""), nonce=nonce, qop=qop,
                nc=nc, cnonce=params.get("cnonce", ""), body=request.body)
        except ValueError:
            return None, False
        if not hmac.compare_digest(expected, params.get("response", "")):
            return None, False
        if age > self.nonce_ttl or age < -1.0:
            return None, True  # right password, old nonce: stale=true (RFC 7616 §3.3)
        if qop:
            if nc <= self._last_nc.get(nonce, 0):
                logger.info("digest nonce count replayed by %s", user)
                return None, False
            self._last_nc[nonce] = nc
            if len(self._last_nc) > 4096:
                self._last_nc.pop(next(iter(self._last_nc)))
        return user, False


class LocationTable:
    """AOR user -> bindings (RFC 3261 §10.3). No forking: :meth:`lookup` gives the newest."""

    def __init__(self, *, min_expires: int = 30, max_expires: int = 3600,
                 default_expires: int = 600) -> None:
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.default_expires = default_expires
        self._bindings: dict[str, list[Binding]] = {}

    def bindings(self, user: str, now: float) -> list[Binding]:
        live = [b for b in self._bindings.get(user, []) if b.expires_at > now]
        if live:
            self._bindings[user] = live
        else:
            self._bindings.pop(user, None)
        return live

    def lookup(self, user: str, now: float) -> Binding | None:
        live = self.bindings(user, now)
        return live[-1] if live else None

    def registered_users(self, now: float) -> list[str]:
        return sorted(u for u in list(self._bindings) if self.bindings(u, now))

    def is_registered_flow(self, flow: Flow, now: float) -> bool:
        return any(b.flow == flow for u in list(self._bindings) for b in self.bindings(u, now))

    def by_contact(self, uri: SipUri, now: float) -> Binding | None:
        """The binding whose Contact is ``uri`` (same host, port and user): in-dialog
        requests target a Contact, and its flow is the way to reach it."""
        for user in list(self._bindings):
            for binding in self.bindings(user, now):
                contact = _sip(binding.contact)
                if contact is not None and contact.host == uri.host \
                        and (contact.port or 5060) == (uri.port or 5060) \
                        and (uri.user is None or contact.user == uri.user):
                    return binding
        return None

    def drop_flow(self, flow: Flow) -> None:
        """A connection closed: bindings that can only be reached through it go."""
        for user in list(self._bindings):
            self._bindings[user] = [b for b in self._bindings[user] if b.flow != flow]

    def register(self, request: Request, user: str, flow: Flow, now: float) -> Response:
        """Apply a REGISTER the caller already authenticated as ``user``; the response."""
        default = self.default_expires
        header = request.headers.get("Expires")
        if header is not None and header.strip().isdigit():
            default = int(header.strip())
        values = request.headers.get_all("Contact")
        if any(v.strip() == "*" for v in values):
            if default != 0 or len(values) != 1:
                return make_response(request, 400, "Invalid Contact *", to_tag=_tag())
            self._bindings.pop(user, None)
            return self._ok(request, user, now)
        try:
            contacts = [parse_name_addr(v) for v in values]
        except ParseError:
            return make_response(request, 400, "Bad Contact", to_tag=_tag())
        for contact in contacts:
            expires = _expires_of(contact, default)
            if 0 < expires < self.min_expires:
                response = make_response(request, 423, to_tag=_tag())
                response.headers.add("Min-Expires", str(self.min_expires))
                return response
        for contact in contacts:
            self._update(user, contact, min(_expires_of(contact, default), self.max_expires),
                         flow, now)
        return self._ok(request, user, now)

    def _update(self, user: str, contact: NameAddr, expires: int, flow: Flow,
                now: float) -> None:
        uri = str(contact.uri)
        instance = contact.params.get("+sip.instance")
        kept = [b for b in self._bindings.get(user, [])
                if b.contact != uri and (instance is None or b.instance != instance)]
        if expires > 0:
            kept.append(Binding(user, uri, flow, now + expires, instance))
            logger.info("registered %s at %s via %s for %d s", user, uri, flow, expires)
        else:
            logger.info("unregistered %s at %s", user, uri)
        if kept:
            self._bindings[user] = kept
        else:
            self._bindings.pop(user, None)

    def _ok(self, request: Request, user: str, now: float) -> Response:
        response = make_response(request, 200, to_tag=_tag())
        for binding in self.bindings(user, now):
            left = max(1, int(binding.expires_at - now))
            response.headers.add("Contact", f"<{binding.contact}>;expires={left}")
        return response


def _expires_of(contact: NameAddr, default: int) -> int:
    value = contact.params.get("expires")
    if value is not None and value.isdigit():
        return int(value)
    return default


def _sip(text: str) -> SipUri | None:
    try:
        uri = parse_name_addr(f"<{text}>").uri
    except ParseError:
        return None
    return uri if isinstance(uri, SipUri) else None


def _tag() -> str:
    return secrets.token_hex(5)


__all__ = ["Address", "Binding", "DigestVerifier", "Flow", "LocationTable"]
