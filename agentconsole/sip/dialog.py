"""Dialog state (RFC 3261 §12) and in-dialog request construction, sans-IO.

A :class:`Dialog` is plain data: the identifiers (Call-ID and both tags), the two
URIs, the remote target, the route set and the two CSeq spaces. The call layer in
:mod:`.invite` creates dialogs from an INVITE and its response (§12.1.1 for the UAS,
§12.1.2 for the UAC), refreshes the remote target on target-refresh requests (§12.2),
and asks :meth:`Dialog.create_request` for BYE, re-INVITE, UPDATE, INFO and ACK.
Nothing here sends or raises on peer input: the constructors fall back to what the
INVITE itself says when a Contact or Record-Route is unreadable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .errors import SipError
from .message import Headers, Message, Request, Response
from .uri import SipUri, parse_name_addr, parse_uri

logger = logging.getLogger(__name__)

#: Requests that carry a Contact and refresh the remote target (§12.2, RFC 3311 §5.1).
TARGET_REFRESH = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})

DialogId = tuple[str, str, str]


@dataclass
class Dialog:
    """One dialog from our point of view (§12): ``local_*`` is us, ``remote_*`` the peer.

    ``local_contact`` is the Contact value we put in target-refresh requests; ``early``
    is True until a 2xx confirmed the dialog (§12.1).
    """

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: str
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = 1
    remote_cseq: int | None = None
    secure: bool = False
    local_contact: str = ""
    early: bool = True

    @property
    def id(self) -> DialogId:
        return (self.call_id, self.local_tag, self.remote_tag)

    # ----- construction -------------------------------------------------------------------
    @classmethod
    def from_uac(cls, invite: Request, response: Response, local_contact: str = "") -> Dialog:
        """The dialog a 1xx-with-tag or 2xx to our INVITE creates (§12.1.2).

        The route set is the response's Record-Route in *reverse* order; the remote
        target is its Contact (the INVITE's Request-URI when it has none).
        """
        routes = list(reversed(response.headers.get_all("Record-Route")))
        return cls(
            call_id=invite.call_id,
            local_tag=invite.from_.tag or "",
            remote_tag=response.to.tag or "",
            local_uri=str(invite.from_.uri),
            remote_uri=str(invite.to.uri),
            remote_target=contact_target(response) or invite.uri,
            route_set=routes,
            local_cseq=invite.cseq.number,
            remote_cseq=None,
            secure=_is_secure(invite.uri),
            local_contact=local_contact,
            early=response.status < 200,
        )

    @classmethod
    def from_uas(cls, invite: Request, local_tag: str, local_contact: str = "") -> Dialog:
        """The dialog our response with ``local_tag`` creates (§12.1.1).

        The route set is the INVITE's Record-Route in order; the remote target is its
        Contact (the From URI when it has none or it is unreadable).
        """
        return cls(
            call_id=invite.call_id,
            local_tag=local_tag,
            remote_tag=invite.from_.tag or "",
            local_uri=str(invite.to.uri),
            remote_uri=str(invite.from_.uri),
            remote_target=contact_target(invite) or str(invite.from_.uri),
            route_set=list(invite.headers.get_all("Record-Route")),
            local_cseq=0,
            remote_cseq=invite.cseq.number,
            secure=_is_secure(invite.uri),
            local_contact=local_contact,
        )

    # ----- state updates --------------------------------------------------------------------
    def refresh_target(self, message: Message) -> None:
        """A target refresh (re-INVITE/UPDATE or its 2xx) carried a new Contact (§12.2)."""
        target = contact_target(message)
        if target is not None:
            self.remote_target = target

    def accept_remote_cseq(self, number: int) -> bool:
        """False when ``number`` is lower than the last remote CSeq (§12.2.2: answer 500)."""
        if self.remote_cseq is not None and number < self.remote_cseq:
            return False
        self.remote_cseq = number
        return True

    # ----- requests -----------------------------------------------------------------------------
    def create_request(self, method: str, cseq: int | None = None) -> Request:
        """A request inside this dialog (§12.2.1.1), without Via (the UA adds it).

        The Request-URI is the remote target, or the first route when it is a strict
        router (no ``lr``), in which case the remote target goes last in Route.
        ACK and CANCEL reuse ``cseq`` (the INVITE's number, §13.2.2.4, §9.1); every
        other method takes the next local CSeq.
        """
        if method in ("ACK", "CANCEL"):
            if cseq is None:
                raise ValueError(f"{method} needs the CSeq number of its INVITE")
            number = cseq
        else:
            self.local_cseq += 1
            number = self.local_cseq
        uri, routes = self.request_uri_and_routes()
        headers = Headers([("Max-Forwards", "70")])
        for route in routes:
            headers.add("Route", route)
        headers.add("From", f"<{self.local_uri}>;tag={self.local_tag}")
        to = f"<{self.remote_uri}>" + (f";tag={self.remote_tag}" if self.remote_tag else "")
        headers.add("To", to)
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{number} {method}")
        if method in TARGET_REFRESH and self.local_contact:
            headers.add("Contact", self.local_contact)
        return Request(method, uri, headers)

    def request_uri_and_routes(self) -> tuple[str, list[str]]:
        """Request-URI and Route values per §12.2.1.1 (loose or strict first hop)."""
        if self.route_set and not _is_loose(self.route_set[0]):
            first = _route_uri(self.route_set[0]) or self.remote_target
            return first, [*self.route_set[1:], f"<{self.remote_target}>"]
        return self.remote_target, list(self.route_set)

    def next_hop(self) -> tuple[str, int | None] | None:
        """Host and port of the first hop (first route, else the remote target)."""
        text = _route_uri(self.route_set[0]) if self.route_set else self.remote_target
        try:
            uri = parse_uri(text or "")
        except SipError:
            return None
        return (uri.host, uri.port) if isinstance(uri, SipUri) else None


def contact_target(message: Message) -> str | None:
    """The URI of the first Contact, or None when absent or unreadable."""
    try:
        contacts = message.contacts
    except SipError:
        return None
    return str(contacts[0].uri) if contacts else None


def _route_uri(value: str) -> str | None:
    try:
        return str(parse_name_addr(value).uri)
    except SipError:
        return None


def _is_loose(value: str) -> bool:
    try:
        uri = parse_name_addr(value).uri
    except SipError:
        return True  # unreadable: do not rewrite the Request-URI after it
    return not isinstance(uri, SipUri) or "lr" in uri.params


def _is_secure(uri: str) -> bool:
    return uri[:5].lower() == "sips:"


__all__ = ["Dialog", "DialogId", "TARGET_REFRESH", "contact_target"]
