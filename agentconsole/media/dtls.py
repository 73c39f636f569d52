"""DTLS for WebRTC peers that are not browsers: accept their RSA certificates.

aiortc's DTLS context offers only ECDHE-ECDSA cipher suites, which match its own ECDSA
certificate. When the *peer* is the DTLS server (we answered ``a=setup:active``, as
when baresip calls us) the server picks the suite from our list according to its own
certificate; baresip's is RSA, so the handshake fails with "no shared cipher"
(shared/reference/interop-notes.md). The fix is to also offer the ECDHE-RSA
counterparts of the same suites: nothing changes when the peer's certificate is ECDSA
(browsers, rtpengine, aiortc), and our own certificate stays ECDSA.

aiortc has no option for this: ``RTCConfiguration`` takes no certificates and the
cipher list is hard-coded in ``RTCCertificate._create_ssl_context``. So each of *our*
peer connections gets, right after construction and before any transport exists, a
subclass of its certificate object that widens the list (same key, same certificate,
same fingerprints). Nothing process-wide is patched; the one private name used is the
connection's certificate list, checked here and in tests/media so an aiortc upgrade
that renames it fails loudly in CI instead of silently dropping the fix.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiortc.rtcdtlstransport import RTCCertificate

if TYPE_CHECKING:
    from aiortc import RTCPeerConnection

log = logging.getLogger(__name__)

#: ECDSA suites first (our certificate), each followed by its RSA twin (RFC 8422 §6).
CIPHERS = b":".join([
    b"ECDHE-ECDSA-AES128-GCM-SHA256", b"ECDHE-RSA-AES128-GCM-SHA256",
    b"ECDHE-ECDSA-CHACHA20-POLY1305", b"ECDHE-RSA-CHACHA20-POLY1305",
    b"ECDHE-ECDSA-AES128-SHA", b"ECDHE-RSA-AES128-SHA",
    b"ECDHE-ECDSA-AES256-SHA", b"ECDHE-RSA-AES256-SHA",
])
_CERTIFICATES = "_RTCPeerConnection__certificates"


class WideCipherCertificate(RTCCertificate):
    """aiortc's certificate whose DTLS context also offers the ECDHE-RSA suites."""

    def _create_ssl_context(self, srtp_profiles: Any) -> Any:
        context = super()._create_ssl_context(srtp_profiles)
        context.set_cipher_list(CIPHERS)
        return context


def accept_rsa_peers(pc: RTCPeerConnection) -> bool:
    """Give ``pc`` certificates that accept RSA peers; True when done.

    Must run before the first transceiver is added (its DTLS transport takes the
    certificates then).
    """
    state = vars(pc)
    certificates = state.get(_CERTIFICATES)
    if not certificates:
        log.warning("aiortc changed: no certificate list on the peer connection; DTLS "
                    "with RSA-certificate peers (baresip) may fail")
        return False
    state[_CERTIFICATES] = [
        c if isinstance(c, WideCipherCertificate) else WideCipherCertificate(c._key, c._cert)
        for c in certificates]
    return True
