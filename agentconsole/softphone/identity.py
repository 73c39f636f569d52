"""Who is calling: name, number, company, queue and DID from an INVITE's headers.

Order of trust for the caller: P-Asserted-Identity (RFC 3325, set by the PBX), then
Remote-Party-ID, then From. Company comes from the SDK's ``Contacts-Company`` header;
the queue from the usual PBX headers (``X-Queue``, ``X-Call-Queue``, ``X-CID-Queue``);
the dialled number (DID) from the first Diversion (RFC 5806) or the To user.

Who we are connected to can change during the call: after a PBX transferred it, the
PBX sends a re-INVITE or UPDATE with the new party's P-Asserted-Identity or
Remote-Party-ID, and RFC 4916 lets the far end change its From in an in-dialog request
(:func:`connected_identity`); a call we place may be answered by another party than
the number dialled (a queue, a hunt group), named in the 2xx (:func:`answering_identity`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..sip.errors import ParseError
from ..sip.message import Headers
from ..sip.uri import NameAddr, SipUri, parse_name_addr, unescape_user

QUEUE_HEADERS = ("X-Queue", "X-Call-Queue", "X-CID-Queue", "X-Queue-Name")
COMPANY_HEADERS = ("Contacts-Company", "X-Company")


@dataclass(frozen=True)
class CallerIdentity:
    number: str
    name: str = ""
    company: str = ""
    queue: str = ""
    did: str = ""


def _user_of(addr: NameAddr) -> str:
    uri = addr.uri
    if isinstance(uri, SipUri):
        return unescape_user(uri.user) if uri.user else uri.host
    text = str(uri)
    return text.split(":", 1)[1] if ":" in text else text


def _first_addr(headers: Headers, name: str) -> NameAddr | None:
    for value in headers.get_all(name):
        try:
            return parse_name_addr(value)
        except ParseError:
            continue
    return None


def _clean(text: str | None, limit: int = 80) -> str:
    """Printable, bounded text: header values reach the screen."""
    if not text:
        return ""
    return "".join(c for c in text if c.isprintable()).strip()[:limit]


def caller_identity(headers: Headers, fallback: NameAddr) -> CallerIdentity:
    addr = (_first_addr(headers, "P-Asserted-Identity")
            or _first_addr(headers, "Remote-Party-ID") or fallback)
    name = addr.display_name or (fallback.display_name if addr is not fallback else None)
    company = next((v for h in COMPANY_HEADERS if (v := headers.get(h))), "")
    queue = next((v for h in QUEUE_HEADERS if (v := headers.get(h))), "")
    diversion = _first_addr(headers, "Diversion")
    did = _user_of(diversion) if diversion is not None else ""
    if not did:
        to = _first_addr(headers, "To")
        did = _user_of(to) if to is not None else ""
    return CallerIdentity(number=_clean(_user_of(addr)), name=_clean(name),
                          company=_clean(company), queue=_clean(queue), did=_clean(did))


def connected_identity(headers: Headers, known: NameAddr) -> CallerIdentity | None:
    """The identity an in-dialog request asserts, or None when it asserts none.

    P-Asserted-Identity, then Remote-Party-ID; else the request's From when it names
    another party than ``known`` (the dialog's remote identity so far), the connected
    identity update of RFC 4916 §4. A session refresh carries none of these: None.
    """
    asserted = answering_identity(headers)
    if asserted is not None:
        return asserted
    sender = _first_addr(headers, "From")
    if sender is None or str(sender.uri) == str(known.uri):
        return None
    return CallerIdentity(number=_clean(_user_of(sender)), name=_clean(sender.display_name))


def answering_identity(headers: Headers) -> CallerIdentity | None:
    """Who answered a call we placed, from the 2xx's P-Asserted-Identity (RFC 3325 §9.1),
    then Remote-Party-ID; None when the response asserts neither. A call to a queue or a
    hunt group is answered by someone else than the number dialled: this names them.
    (A response's From is ours, so it never counts here.)"""
    addr = _first_addr(headers, "P-Asserted-Identity") or _first_addr(headers, "Remote-Party-ID")
    if addr is None:
        return None
    return CallerIdentity(number=_clean(_user_of(addr)), name=_clean(addr.display_name))
