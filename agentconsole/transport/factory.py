"""Build the configured transport: ``udp | tcp | tls | ws | wss``.

TLS and WSS always get a verifying context from :mod:`.tls` unless the settings pin
``tls_verify=False``; a ``ws://`` URL is refused for ``wss`` (and the reverse) so a
secure configuration can never fall back silently to a plain one (RFC 3261 §26.2).
"""

from __future__ import annotations

import random
from urllib.parse import urlsplit

from .base import Address, Transport, TransportSettings
from .stream import StreamTransport
from .tls import build_client_context
from .udp import UdpTransport
from .ws import WsTransport

KINDS = ("udp", "tcp", "tls", "ws", "wss")


def create_transport(
    kind: str,
    server: Address | None,
    settings: TransportSettings,
    *,
    ws_url: str | None = None,
    server_hostname: str | None = None,
    rng: random.Random | None = None,
) -> Transport:
    """Return an unstarted transport of ``kind``.

    ``server`` is the outbound proxy / registrar (required for tcp and tls; for udp it
    is the default destination and the hint for the advertised local IP). ws/wss use
    ``ws_url`` or, without it, ``<scheme>://host:port/`` built from ``server``. The
    TLS name to verify and send as SNI is ``settings.tls_server_name``, else
    ``server_hostname``, else the server host. Raises ValueError on a bad combination.
    """
    kind = kind.lower()
    if kind not in KINDS:
        raise ValueError(f"unknown transport {kind!r} (expected one of {', '.join(KINDS)})")
    tls_name = settings.tls_server_name or server_hostname
    if kind == "udp":
        return UdpTransport(settings, server)
    if kind in ("tcp", "tls"):
        if server is None:
            raise ValueError(f"a {kind} transport needs a server address")
        ctx = None
        if kind == "tls":
            ctx = build_client_context(settings.tls_ca_file, settings.tls_verify)
        return StreamTransport(server, settings, ssl_context=ctx, server_hostname=tls_name, rng=rng)
    url = ws_url
    if url is None:
        if server is None:
            raise ValueError(f"a {kind} transport needs ws_url or a server address")
        url = f"{kind}://{_host_for_url(server[0])}:{server[1]}/"
    scheme = urlsplit(url).scheme.lower()
    if scheme != kind:
        raise ValueError(f"transport {kind!r} does not match the URL scheme of {url!r}")
    ctx = build_client_context(settings.tls_ca_file, settings.tls_verify) if kind == "wss" else None
    return WsTransport(url, settings, ssl_context=ctx, server_hostname=tls_name, rng=rng)


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
