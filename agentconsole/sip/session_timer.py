"""Session timers (RFC 4028) as pure functions over messages and ``now``.

Why: a call whose BYE got lost, or whose peer died, would otherwise stay "talking"
forever. Both ends agree on an interval (Session-Expires) and on who refreshes
(``refresher=uac|uas``); the refresher sends a re-INVITE or UPDATE at half the
interval (§10), the other side ends the call with a BYE when no refresh came by
``SE - min(32, SE/3)`` (§10). The call layer keeps one :class:`SessionTimer` per leg
and arms its own deadlines from :meth:`SessionTimer.refresh_at` and
:meth:`SessionTimer.expire_at`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .headers import is_digits
from .message import Message, Request, Response

#: RFC 4028 §4: Min-SE may never be below 90 s.
ABSOLUTE_MIN_SE = 90


@dataclass
class SessionTimer:
    """The negotiated interval and whether *we* are the refresher."""

    interval: int
    we_refresh: bool

    def refresh_at(self, now: float) -> float:
        """When the refresher sends its refresh (§10: half the interval)."""
        return now + self.interval / 2

    def expire_at(self, now: float) -> float:
        """When the non-refresher gives up (§10: SE minus min(32, SE/3))."""
        return now + self.interval - min(32.0, self.interval / 3)


def parse_session_expires(value: str | None) -> tuple[int, str | None] | None:
    """``delta-seconds *(;se-params)`` → (seconds, refresher or None); None if unusable."""
    if value is None:
        return None
    parts = [p.strip() for p in value.split(";")]
    if not is_digits(parts[0]) or len(parts[0]) > 10:
        return None
    refresher: str | None = None
    for param in parts[1:]:
        name, _, val = param.partition("=")
        if name.strip().lower() == "refresher" and val.strip().lower() in ("uac", "uas"):
            refresher = val.strip().lower()
    return int(parts[0]), refresher


def min_se_of(message: Message) -> int | None:
    """The Min-SE header's seconds (§5), or None."""
    value = message.headers.get("Min-SE")
    if value is None:
        return None
    text = value.split(";", 1)[0].strip()
    return int(text) if is_digits(text) and len(text) <= 10 else None


def has_option(message: Message, tag: str) -> bool:
    """True when Supported or Require lists the option ``tag``."""
    values = message.headers.get_all("Supported") + message.headers.get_all("Require")
    return any(v.strip().lower() == tag for v in values)


def allows(message: Message | None, method: str) -> bool:
    """True when ``message``'s Allow lists ``method`` (RFC 3261 §20.5)."""
    if message is None:
        return False
    return any(v.strip().upper() == method for v in message.headers.get_all("Allow"))


def request_headers(interval: int, min_se: int) -> list[tuple[str, str]]:
    """What an INVITE or refresh we send carries (§7.1): we refresh unless told otherwise."""
    return [("Session-Expires", str(interval)), ("Min-SE", str(min_se))]


def refresh_headers(interval: int, min_se: int) -> list[tuple[str, str]]:
    """A refresh we send as the refresher (§7.4: refresher=uac for the new transaction)."""
    return [("Session-Expires", f"{interval};refresher=uac"), ("Min-SE", str(min_se))]


def from_uac_response(response: Response) -> SessionTimer | None:
    """The timer a 2xx to our INVITE/refresh sets up (§7.2), or None when it has none.

    No Session-Expires in the 2xx means there is no session expiration (§7.2); an
    absent ``refresher`` leaves the refreshing to us, the UAC.
    """
    parsed = parse_session_expires(response.headers.get("Session-Expires"))
    if parsed is None or parsed[0] <= 0:
        return None
    interval, refresher = parsed
    return SessionTimer(interval, we_refresh=refresher != "uas")


@dataclass(frozen=True)
class UasDecision:
    """What a UAS does with a request's Session-Expires (§9)."""

    reject_min_se: int | None = None  # answer 422 with this Min-SE
    timer: SessionTimer | None = None
    headers: tuple[tuple[str, str], ...] = ()  # for the 2xx


def negotiate_uas(request: Request, preferred: int, min_se: int) -> UasDecision:
    """Decide the interval and the refresher for a request we answer (§9).

    A UAC that supports timers but asked for none gets one anyway (§9 lets the UAS
    insert Session-Expires): a call whose peer vanished must not hang forever.
    Below our Min-SE → 422. We may lower the interval to ``preferred`` but never
    below the request's Min-SE. A UAC that did not say ``Supported: timer`` cannot
    refresh, so we do; otherwise the request's ``refresher`` wins, else the UAC.
    """
    uac_supports = has_option(request, "timer")
    parsed = parse_session_expires(request.headers.get("Session-Expires"))
    if parsed is None and not uac_supports:
        return UasDecision()
    value, refresher = parsed if parsed is not None else (preferred, None)
    floor = max(min_se, ABSOLUTE_MIN_SE)
    if value < floor:
        return UasDecision(reject_min_se=floor)
    interval = max(min(value, preferred), min_se_of(request) or ABSOLUTE_MIN_SE, floor)
    if not uac_supports:
        refresher = "uas"
    elif refresher is None:
        refresher = "uac"
    headers: list[tuple[str, str]] = [("Session-Expires", f"{interval};refresher={refresher}")]
    if uac_supports:
        headers.append(("Require", "timer"))
    return UasDecision(None, SessionTimer(interval, we_refresh=refresher == "uas"),
                       tuple(headers))


__all__ = [
    "ABSOLUTE_MIN_SE",
    "SessionTimer",
    "UasDecision",
    "allows",
    "from_uac_response",
    "has_option",
    "min_se_of",
    "negotiate_uas",
    "parse_session_expires",
    "refresh_headers",
    "request_headers",
]
