"""What the user agent core answers by itself, whatever the application does.

RFC 3261 §8.2: 416 for URI schemes it cannot handle (§8.2.2.1), 420 with Unsupported
for unknown ``Require``/``Proxy-Require`` options (§8.2.2.3), 405 to REGISTER, 200 to
OPTIONS with Allow/Accept/Supported (§11.2), 481 to in-dialog requests that match no
dialog (§12.2.2) and to CANCEL that matches no transaction (§9.2), 501 to methods it
does not know, 489 to SUBSCRIBE/PUBLISH (no event package here, RFC 6665 §7.2.2), and
the INVITE pre-checks of :func:`~.invite_server.invite_precheck`.
"""

from __future__ import annotations

from .capabilities import ALLOW, KNOWN_EXTENSIONS, SUPPORTED
from .errors import ParseError
from .invite_server import invite_precheck
from .message import Headers, Request
from .uri import parse_uri

KNOWN_METHODS = frozenset(
    {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "REFER", "NOTIFY", "UPDATE",
     "MESSAGE", "PRACK", "SUBSCRIBE", "PUBLISH", "REGISTER"}
)
#: Methods that only make sense inside a dialog: out of one they get 481.
DIALOG_ONLY = frozenset({"BYE", "NOTIFY", "REFER", "INFO", "UPDATE", "PRACK"})
#: Methods the application (the Phone) wants to see; everything else the core answers.
APPLICATION_METHODS = frozenset({"INVITE", "MESSAGE"})

Answer = tuple[int | None, list[tuple[str, str]]]


def core_answer(request: Request, *, in_call: bool, accept_invites: bool) -> Answer:
    """The status the core answers ``request`` with and the headers to add, or
    ``(None, [])`` to pass it up. ``in_call``: it belongs to one of our calls."""
    method = request.method
    scheme = request.uri.split(":", 1)[0].lower()
    if scheme not in ("sip", "sips"):
        return 416, []
    unsupported = _unsupported_requires(request.headers)
    if unsupported and method != "ACK":
        return 420, [("Unsupported", ", ".join(unsupported))]
    if method == "OPTIONS":
        return 200, [("Allow", ALLOW), ("Accept", "application/sdp"),
                     ("Supported", SUPPORTED), ("Accept-Language", "en")]
    if method == "REGISTER":
        return 405, [("Allow", ALLOW)]
    if in_call:
        return None, []
    if method == "CANCEL":
        return 481, []
    try:
        has_to_tag = request.to.tag is not None
    except ParseError:
        return 400, []
    if method in DIALOG_ONLY or (has_to_tag and method in APPLICATION_METHODS):
        return 481, []
    if method not in KNOWN_METHODS:
        return 501, [("Allow", ALLOW)]
    if method == "INVITE":
        return invite_precheck(request, accept_invites)
    if method in ("SUBSCRIBE", "PUBLISH"):
        return 489, []
    return None, []


def _unsupported_requires(headers: Headers) -> list[str]:
    out: list[str] = []
    for value in headers.get_all("Require") + headers.get_all("Proxy-Require"):
        tag = value.strip().lower()
        if tag and tag not in KNOWN_EXTENSIONS:
            out.append(value.strip())
    return out


def parse_uri_or_none(text: str) -> object:
    try:
        return parse_uri(text)
    except ParseError:
        return None


def warn_text(exc: ParseError) -> str:
    """An error message fit for a Warning header's quoted text (RFC 3261 §20.43)."""
    text = str(exc).replace('"', "'").replace("\\", "/")
    return "".join(c for c in text if c.isprintable())[:80]


__all__ = ["APPLICATION_METHODS", "DIALOG_ONLY", "KNOWN_METHODS", "core_answer",
           "parse_uri_or_none", "warn_text"]
