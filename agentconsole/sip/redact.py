"""Redaction of credentials in SIP traces (the trace screen, ``-vv`` logs, test dumps).

Works line by line on raw bytes, so it also covers what does not parse: a partial TCP read,
two messages in one buffer, a torture-test message. It never raises.

* ``Authorization`` / ``Proxy-Authorization``: the scheme and the harmless digest fields
  (username, realm, nonce, uri, algorithm, qop, nc, opaque) stay, so a trace still shows who
  answered which challenge; ``response``, ``cnonce`` and anything else become ``"******"``.
  ``Authentication-Info`` loses its ``rspauth`` the same way. Other schemes (Basic, Bearer)
  keep only the scheme. A digest ``response`` with its nonce is enough for an offline
  dictionary attack on the password (RFC 7616 §5.13), hence all this.
* Any header whose name contains ``password``, ``passwd``, ``secret`` or ``token`` is
  replaced whole.
* ``sip:user:password@host`` (RFC 3261 §19.1.1, deprecated but still met) loses the password.
* An SDP ``a=crypto`` key (SDES, RFC 4568) is masked with as many ``*`` as it had, so the
  body's Content-Length stays right.
"""

from __future__ import annotations

import re

MASK = "******"

_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
_INFO_HEADERS = frozenset({"authentication-info", "proxy-authentication-info"})
_KEEP = frozenset({"username", "realm", "nonce", "uri", "algorithm", "qop", "nc", "opaque",
                   "userhash", "nextnonce"})
_SENSITIVE_NAME = re.compile(r"passw(or)?d|secret|token", re.IGNORECASE)

_HEADER_LINE = re.compile(r"([!-9;-~]+)[ \t]*:(.*)", re.DOTALL)  # token-ish name, then ':'
_PARAM = re.compile(r'\s*([^\s=,]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^,]*)\s*(,|$)', re.DOTALL)
_LOOSE_SECRET = re.compile(r'(?i)\b(response|rspauth|cnonce)(\s*=\s*)("(?:[^"\\]|\\.)*"?|[^\s,]+)')
_URI_PASSWORD = re.compile(r"(?i)(\bsips?:[^:@\s;<>\"]+:)([^@\s;<>\"]+)(@)")
_SDES_KEY = re.compile(r"(?i)(inline:)([A-Za-z0-9+/=]+)")


def redact_message_bytes(data: bytes) -> bytes:
    """``data`` with secrets masked; never raises (on an internal error, withholds all)."""
    try:
        text = data.decode("latin-1")  # lossless for any byte string
        return _redact(text).encode("latin-1")
    except Exception:  # a trace hook must never break the stack
        return b"<" + str(len(data)).encode() + b" bytes withheld: redaction failed>"


def redact_text(text: str) -> str:
    """The same rules on text (for log lines that quote a header value)."""
    try:
        return redact_message_bytes(text.encode("utf-8", "surrogateescape")).decode(
            "utf-8", "surrogateescape"
        )
    except Exception:
        return "<redaction failed>"


def _redact(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _HEADER_LINE.match(line)
        name = match.group(1).lower() if match else ""
        if match and (name in _CREDENTIAL_HEADERS or name in _INFO_HEADERS
                      or _SENSITIVE_NAME.search(name)):
            # Gather folded continuation lines (RFC 3261 §7.3.1) into one logical header.
            value = match.group(2)
            ending = "\r" if value.endswith("\r") else ""
            value = value.rstrip("\r")
            while i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t"):
                i += 1
                value += " " + lines[i].rstrip("\r").strip()
                ending = "\r" if lines[i].endswith("\r") else ending
            out.append(f"{match.group(1)}: {_redact_value(name, value.strip())}{ending}")
        else:
            out.append(_redact_loose(line))
        i += 1
    return "\n".join(out)


def _redact_value(name: str, value: str) -> str:
    if _SENSITIVE_NAME.search(name):
        return MASK
    if name in _INFO_HEADERS:
        return _redact_params(value)
    scheme, rest = (value.split(None, 1) + [""])[:2] if value else ("", "")
    if scheme.lower() != "digest":
        return f"{scheme} {MASK}" if rest.strip() else MASK
    return f"{scheme} {_redact_params(rest)}"


def _redact_params(text: str) -> str:
    parts: list[str] = []
    pos = 0
    while pos < len(text):
        match = _PARAM.match(text, pos)
        if match is None or match.end() == pos:
            parts.append(MASK)  # whatever is left does not parse: hide it
            break
        name, value = match.group(1), match.group(2).strip()
        keep = name.lower() in _KEEP
        parts.append(f"{name}={value if keep else chr(34) + MASK + chr(34)}")
        pos = match.end()
    return ", ".join(parts)


def _redact_loose(line: str) -> str:
    # Belt and braces for fragments (a header split across two reads, a sipfrag body).
    line = _LOOSE_SECRET.sub(lambda m: f'{m.group(1)}{m.group(2)}"{MASK}"', line)
    line = _URI_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), line)
    if line.lower().startswith("a=crypto:"):
        line = _SDES_KEY.sub(lambda m: m.group(1) + "*" * len(m.group(2)), line)
    return line
