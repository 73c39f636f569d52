"""Dial targets as a browser or a CRM hands them over: numbers, ``sip:``, ``tel:``, ``callto:``.

A click on a number in a web page arrives as a URI (``tel:+1-555-0100``, RFC 3966;
``callto:+15550100``; ``sip:1002@pbx``, RFC 3261 §19.1). The phone dials a user, a number
or a SIP URI, so :func:`dial_target` turns the others into a number: the visual
separators RFC 3966 §5.1.1 allows (``-`` ``.`` ``(`` ``)`` and, in a typed number, spaces)
are dropped and the URI's parameters (``;phone-context=...``, ``;ext=...``) ignored. A
``sip:``/``sips:`` URI is passed through untouched: the SIP core parses it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_SEPARATORS = re.compile(r"[\s\-.()]")
_PHONE_NUMBER = re.compile(r"\+?[0-9*#]+")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


class TargetError(ValueError):
    """The text cannot be dialled (empty, control characters, an unknown URI scheme)."""


def dial_target(text: str) -> str:
    """What to hand to ``phone.call``: a number, a user, or a SIP URI."""
    value = text.strip()
    if not value:
        raise TargetError("nothing to dial")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise TargetError("the number contains control characters")
    match = _SCHEME.match(value)
    scheme = match.group(1).lower() if match else ""
    if scheme in ("sip", "sips"):
        return value
    if match is not None and scheme in ("tel", "callto"):
        value = unquote(value[match.end():]).lstrip("/")
        value = value.split(";", 1)[0].rstrip("/").strip()
    elif scheme:
        raise TargetError(f"cannot dial a {scheme}: URI (use a number, sip:, tel: or "
                          "callto:)")
    compact = _SEPARATORS.sub("", value)
    if _PHONE_NUMBER.fullmatch(compact):
        return compact
    if not value or any(c.isspace() for c in value):
        raise TargetError(f"{text.strip()!r} is not a number, a user or a SIP URI")
    return value


__all__ = ["TargetError", "dial_target"]
