"""TLS client contexts for SIP over TLS and WSS.

RFC 3261 §26.3.1 and RFC 5922 want the server certificate verified against trusted
roots and matched to the host we meant to reach; the reliability checklist adds TLS
≥ 1.2 and "no silent downgrade". So verification is on by default and only an explicit
``verify: false`` in the config turns it off, with a warning in the log.

The name check is OpenSSL's (``check_hostname``): dNSName or iPAddress SANs, which
covers an IP-addressed server whose certificate carries ``IP:127.0.0.1``. RFC 5922's
``sip:`` URI SANs are not matched (left for later).
"""

from __future__ import annotations

import logging
import ssl

logger = logging.getLogger(__name__)

_warned_unverified = False


def build_client_context(ca_file: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """Return a client context: TLS ≥ 1.2, chain + host name verified unless ``verify`` is False.

    ``ca_file`` (PEM) replaces the system trust store when given. The caller passes
    the expected name as ``server_hostname`` when connecting (that is also the SNI).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if verify:
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        if ca_file:
            try:
                ctx.load_verify_locations(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"cannot load TLS CA file {ca_file!r}: {exc}") from exc
        else:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        _warn_unverified()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _warn_unverified() -> None:
    global _warned_unverified
    if not _warned_unverified:
        _warned_unverified = True
        logger.warning(
            "TLS certificate verification is disabled by configuration (tls.verify: false); "
            "the server's identity is NOT checked"
        )


def describe_tls_error(exc: BaseException, server_name: str | None = None) -> str:
    """Turn an ``ssl`` exception into a sentence a user can act on.

    ``SSLCertVerificationError.verify_message`` carries OpenSSL's reason ("certificate
    has expired", "self-signed certificate", "IP address mismatch, …").
    """
    where = f" for {server_name}" if server_name else ""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = getattr(exc, "verify_message", None) or _reason(exc)
        return f"TLS certificate verify failed{where}: {detail}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed{where}: {_reason(exc)}"
    return f"TLS error{where}: {exc}"


def _reason(exc: ssl.SSLError) -> str:
    # ``reason`` is set by OpenSSL-raised errors only, not on hand-made instances.
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else str(exc)
