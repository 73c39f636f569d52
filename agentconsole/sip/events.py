"""Events the sans-IO user agent hands to the layer above (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass

from .message import Request

Address = tuple[str, int]


@dataclass(frozen=True)
class RegistrationStateChanged:
    """The binding changed: ``registered`` with the SIP ``status`` that caused it.

    ``expires`` is the granted interval on success; ``retry_in`` the back-off before the
    next attempt on failure (None when no retry is scheduled); ``final`` marks the end
    of an un-REGISTER.
    """

    registered: bool
    status: int
    reason: str
    expires: int | None = None
    retry_in: float | None = None
    final: bool = False


@dataclass(frozen=True)
class IncomingRequest:
    """A request the core did not answer by itself; the application must respond.

    ``transaction`` is the server transaction to respond on (opaque to the caller; pass
    it back to :meth:`UserAgent.send_response`).
    """

    request: Request
    transaction: object


@dataclass(frozen=True)
class MessageDropped:
    """Bytes from ``source`` that were dropped, and why (for the trace screen and tests)."""

    source: Address
    reason: str


UAEvent = RegistrationStateChanged | IncomingRequest | MessageDropped
