"""Symmetric RTP (RFC 4961): send to where the peer's packets come from.

Behind a NAT the address in the remote's SDP is often its private one; the packets it
sends arrive from the NAT's public mapping, and the NAT only lets traffic back in on
that mapping. So once a valid packet (RTP version 2 that parsed, and for SRTP one that
authenticated) arrives from a source other than the expected one, we *latch*: we send
to that source from then on.

A stranger spraying packets must not steal the stream (the "RTP bleed" attack): after
the first latch, a new source is only taken when the current one has been silent for
:data:`SWITCH_AFTER_S` (the peer's NAT re-bound, or it moved), never while it talks.
A new remote address from a re-negotiation (:meth:`Latch.reset`) starts over.

Sans-IO: callers pass the arrival time.
"""

from __future__ import annotations

import logging

Address = tuple[str, int]

log = logging.getLogger(__name__)

#: The latched source must be silent this long before another source can take over.
SWITCH_AFTER_S = 1.0


class Latch:
    """The address to send to, learned from where valid packets come from."""

    def __init__(self, expected: Address | None, *, enabled: bool = True,
                 what: str = "RTP") -> None:
        self.enabled = enabled
        self.what = what
        self.expected = expected
        self.target = expected
        self.latched = False
        self._last_seen = float("-inf")

    def reset(self, expected: Address | None) -> None:
        """A new negotiated address (re-INVITE): send there until packets say otherwise."""
        self.expected = self.target = expected
        self.latched = False
        self._last_seen = float("-inf")

    def seen(self, source: Address, now: float) -> bool:
        """Note a valid packet from ``source``; True when the target changed."""
        if not self.enabled:
            return False
        if source == self.target:
            self.latched = True
            self._last_seen = now
            return False
        if self.latched and now - self._last_seen < SWITCH_AFTER_S:
            return False  # the current source is alive: ignore the stranger
        log.info("symmetric %s: sending to %s:%d (the SDP said %s)", self.what, source[0],
                 source[1], f"{self.expected[0]}:{self.expected[1]}" if self.expected else "none")
        self.target = source
        self.latched = True
        self._last_seen = now
        return True
