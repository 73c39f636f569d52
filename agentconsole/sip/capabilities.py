"""What this user agent says it can do, in one place (RFC 3261 §20.5, §20.37, §11)."""

from __future__ import annotations

#: Methods we accept (Allow).
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE, MESSAGE"
#: Option tags we support (Supported).
SUPPORTED = "path, replaces, timer, norefersub"
#: Require option-tags we implement (RFC 3261 §8.2.2.3).
KNOWN_EXTENSIONS = frozenset({"replaces", "timer", "path"})
