"""Which remote parties a policy trusts: configured entries against where a request came from.

Two policies act on a remote party's request without asking the agent: following a REFER
(``calls.trusted_refer_sources``) and auto-answering a call that asks for it
(``auto_answer.requests_from``). Both compare the configured entries (an address,
``host:port``, or a SIP URI's host) with what the phone observed itself: the transport
peer a request came from, and, for an established dialog, the remote URI. A header the
sender writes alone (Referred-By, Call-Info, From of a new call) never makes a request
trusted: that is the auto-answer and REFER abuse of ``reference/reliability.md`` §4.

Pure functions on strings and tuples, so the softphone and the control layer share them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from .sip.uri import SipUri, parse_uri


def trust_entries(trusted: Iterable[object] | None) -> frozenset[str]:
    """The configured entries, trimmed and lower-cased (empty ones dropped)."""
    return frozenset(text for e in (trusted or ()) if (text := str(e).strip().lower()))


def source_keys(source: tuple[str, int] | None) -> set[str]:
    """How a packet source may be named in the config: ``host`` and ``host:port``
    (``[v6]:port`` as well for an IPv6 address)."""
    if source is None:
        return set()
    host, port = source
    host = host.lower()
    keys = {host, f"{host}:{port}"}
    if ":" in host:
        keys.add(f"[{host}]:{port}")
    return keys


def uri_keys(text: str | None) -> set[str]:
    """How a dialog's remote URI may be named: its host, ``host:port``, ``sip:user@host``."""
    if not text:
        return set()
    try:
        uri = parse_uri(text)
    except Exception:  # noqa: BLE001 - an unreadable URI is simply not trusted
        return set()
    if not isinstance(uri, SipUri):
        return set()
    keys = {uri.host.lower(), uri.host_port.lower()}
    if uri.user:
        keys |= {f"{uri.scheme}:{uri.user}@{uri.host}".lower(),
                 f"{uri.scheme}:{uri.user}@{uri.host_port}".lower()}
    return keys


def is_address(entry: str) -> bool:
    """True when ``entry`` is an IP address or ``address:port`` (nothing to resolve)."""
    host = entry
    if entry.startswith("["):
        host = entry[1:].partition("]")[0]
    elif entry.count(":") == 1:
        host = entry.partition(":")[0]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


__all__ = ["is_address", "source_keys", "trust_entries", "uri_keys"]
