"""Opening a client flow: what TCP/TLS (:mod:`.stream`) and WS/WSS (:mod:`.ws`) share.

Both open one connection to the configured server from the configured local address,
with TLS verified against the configured server name, and both turn a failed attempt
into a :class:`~.base.TransportError` whose text a user can act on (see the lifecycle
in :mod:`.base`: a failed start is a configuration problem to show at once).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .base import TransportError, TransportSettings, describe_os_error
from .tls import describe_tls_error


def connection_options(
    settings: TransportSettings, ssl_context: ssl.SSLContext | None, server_hostname: str
) -> dict[str, Any]:
    """The keyword arguments both ``asyncio.open_connection`` and ``websockets``'
    ``connect`` take for TLS (context, SNI and verified name) and the local address."""
    options: dict[str, Any] = {}
    if ssl_context is not None:
        options["ssl"] = ssl_context
        options["server_hostname"] = server_hostname
    if settings.local_host or settings.local_port:
        options["local_addr"] = (settings.local_host or "0.0.0.0", settings.local_port)
    return options


@contextmanager
def connect_errors(target: str, timeout_s: float, server_hostname: str) -> Iterator[None]:
    """Turn the ways a connection attempt to ``target`` fails (timeout, TLS, socket)
    into a :class:`TransportError` that says why."""
    try:
        yield
    except TimeoutError as exc:
        raise TransportError(
            f"cannot connect to {target}: timed out after {timeout_s:g} s"
        ) from exc
    except ssl.SSLError as exc:
        raise TransportError(describe_tls_error(exc, server_hostname)) from exc
    except OSError as exc:
        raise TransportError(f"cannot connect to {target}: {describe_os_error(exc)}") from exc
