"""SDES-SRTP: keys in the SDP (RFC 4568), packets protected by libsrtp (pylibsrtp).

``a=crypto:<tag> <suite> inline:<base64 key||salt>[|lifetime][|MKI:length] [params]``
(RFC 4568 §9.1). Each side sends with the key it put in its own description and
decrypts with the key the other side put in its description (§6.1), so an offer and
its answer each carry one key per direction.

What we serve, and why the rest is refused rather than half-done:

- suites AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 (RFC 4568 §6.2.1, the
  two every SDES peer offers; with _32 the SRTCP tag stays 80 bits, §6.2.1 last
  paragraph, which libsrtp's profile does too);
- one master key per line without MKI: libsrtp's policy API as pylibsrtp exposes it
  has no MKI (a line with ``|n:m`` or several keys is skipped);
- session parameters: ``KDR`` (key derivation rate other than 0),
  ``UNENCRYPTED_SRTP/SRTCP`` and ``UNAUTHENTICATED_SRTP`` (§6.3) change the packet
  format libsrtp builds, so a line with any of them is skipped; ``WSH``, ``FEC_ORDER``
  and ``FEC_KEY`` do not change what we send and are ignored.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

import pylibsrtp

SUITES: dict[str, int] = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}
#: Master key (16 bytes) and master salt (14 bytes) of the AES_CM_128 suites.
KEY_BYTES = 30
_REFUSED_PARAMS = ("KDR=", "UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP")


@dataclass(frozen=True)
class Crypto:
    """One ``a=crypto`` line (RFC 4568 §9.1); ``key`` is the master key and salt."""

    tag: int
    suite: str
    key: bytes
    lifetime: str | None = None
    mki: str | None = None
    keys: int = 1
    params: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        """True when libsrtp as we drive it can serve this line (see the module doc)."""
        return (self.suite in SUITES and len(self.key) == KEY_BYTES and self.mki is None
                and self.keys == 1
                and not any(p.upper().startswith(_REFUSED_PARAMS) for p in self.params
                            if not p.upper().startswith("KDR=0")))

    def to_sdp(self) -> str:
        """The attribute value (after ``a=crypto:``)."""
        inline = base64.b64encode(self.key).decode("ascii")
        return f"{self.tag} {self.suite} inline:{inline}"


def parse_crypto(value: str) -> Crypto | None:
    """An ``a=crypto`` value, or None when it cannot be read at all."""
    parts = value.split()
    if len(parts) < 3 or not parts[0].isdigit():
        return None
    tag, suite, key_params = int(parts[0]), parts[1].upper(), parts[2]
    methods = key_params.split(";")
    first = methods[0]
    if not first.startswith("inline:"):
        return None
    fields = first[len("inline:"):].split("|")
    try:
        key = base64.b64decode(fields[0] + "=" * (-len(fields[0]) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    lifetime = mki = None
    for extra in fields[1:]:
        if ":" in extra:
            mki = extra
        else:
            lifetime = extra
    return Crypto(tag, suite, key, lifetime, mki, len(methods), tuple(parts[3:]))


def new_crypto(tag: int, suite: str) -> Crypto:
    """A line with a fresh random key for ``suite`` (RFC 4568 §6.1: a new key per
    direction and per offer or answer that changes it)."""
    if suite not in SUITES:
        raise ValueError(f"unsupported SRTP suite {suite}")
    return Crypto(tag, suite, os.urandom(KEY_BYTES))


def offer_cryptos() -> list[Crypto]:
    """Our offer: the 80-bit tag first (stronger), the 32-bit one as tag 2."""
    return [new_crypto(1, "AES_CM_128_HMAC_SHA1_80"), new_crypto(2, "AES_CM_128_HMAC_SHA1_32")]


def choose_crypto(offered: list[Crypto]) -> Crypto | None:
    """The first offered line we can serve (RFC 4568 §7.1.1: the answerer picks one)."""
    return next((c for c in offered if c.usable), None)


class SrtpContext:
    """Protect with our key, unprotect with the remote's, one libsrtp session each."""

    def __init__(self, suite: str, local_key: bytes, remote_key: bytes) -> None:
        profile = SUITES[suite]
        self.suite = suite
        self.local_key = local_key
        self.remote_key = remote_key
        self._tx = pylibsrtp.Session(pylibsrtp.Policy(
            key=local_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
        self._rx = pylibsrtp.Session(pylibsrtp.Policy(
            key=remote_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
        self.protect = self._tx.protect
        self.protect_rtcp = self._tx.protect_rtcp
        self.unprotect = self._rx.unprotect
        self.unprotect_rtcp = self._rx.unprotect_rtcp


SrtpError = pylibsrtp.Error
