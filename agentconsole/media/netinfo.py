"""Local network facts for the media stacks: aioice's host addresses, the NIC type.

- Host candidates: aioice gathers every interface address except loopback through the
  module function ``aioice.ice.get_host_addresses``. :func:`install_host_hook` wraps it
  once per process with a function that reads :data:`HOST_ADDRESSES`, a
  :class:`contextvars.ContextVar`; a WebRTC session sets it only around its own
  ``setLocalDescription`` (where aiortc gathers), so a configured address list applies
  to that call alone and every other caller of aioice keeps the stock behaviour.
- :func:`network_type`: the seed's report names the local interface's kind.
"""

from __future__ import annotations

import contextvars
import logging

log = logging.getLogger(__name__)

HOST_ADDRESSES: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "agentconsole_host_addresses", default=None
)
_hook_installed = False


def install_host_hook() -> None:
    """Route aioice's host-address lookup through :data:`HOST_ADDRESSES` (once)."""
    global _hook_installed
    if _hook_installed:
        return
    import aioice.ice

    stock = aioice.ice.get_host_addresses

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        chosen = HOST_ADDRESSES.get()
        if chosen is None:
            return stock(use_ipv4, use_ipv6)
        return [a for a in chosen if (use_ipv6 if ":" in a else use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses
    _hook_installed = True


def network_type(address: str) -> str:
    """The seed reports the local candidate's network type; derive it from the NIC name."""
    try:
        import ifaddr

        for adapter in ifaddr.get_adapters():
            for ip in adapter.ips:
                ip_text = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
                if ip_text == address:
                    name = adapter.nice_name.lower()
                    if name.startswith("lo"):
                        return "loopback"
                    if name.startswith(("wl", "wi")):
                        return "wifi"
                    return "ethernet"
    except Exception as exc:  # best effort, never breaks a report
        log.debug("network type of %s: %s", address, exc)
    return "unknown"
