"""The demo switch's routing core: a stateless, record-routing proxy (sans-IO).

A demo and a test fixture, not a PBX. It is stateless in the RFC 3261 §16.11 sense:
no transactions, every decision is made from the message alone, and the branch of
the Via it adds is a hash of the incoming branch, so a retransmission, the CANCEL of
an INVITE and the ACK of a non-2xx final all leave with the same branch as the
INVITE did (§16.11 "the branch value MUST be the same for retransmissions"). Endpoints
do the retransmitting; on loopback that is all a demo needs, and it keeps the switch
small enough to read.

What it does per request (§16.3–§16.6): ``received``/``rport`` on the top Via
(RFC 3581), Max-Forwards, loose routing (our own Route entries are removed, §16.4),
REGISTER to the registrar, an AOR of ours to the newest binding's Contact and flow
(404 unknown user, 480 known but not registered), any other Request-URI to where it
points (a Contact: in-dialog requests), Record-Route on dialog-creating requests —
two entries when the transport changes (RFC 5658 §4) — and our Via on top.
Out-of-dialog requests from a flow that is not registered must carry
Proxy-Authorization (407, RFC 3261 §22.3): that is what SIPp or a second client that
did not REGISTER gets. Responses (§16.7, §16.11): our Via is removed and the response
goes to the next Via's ``received``/``rport`` (the flow it came in on).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..sip.capabilities import ALLOW
from ..sip.errors import ParseError
from ..sip.headers import Via, parse_via, split_header_list
from ..sip.message import Request, Response, make_response
from ..sip.parser import is_answerable, parse_message, validate_request
from ..sip.uri import SipUri, parse_name_addr, parse_uri
from .registrar import DigestVerifier, Flow, LocationTable

logger = logging.getLogger(__name__)

BRANCH_PREFIX = "z9hG4bKacsw"
DIALOG_CREATING = frozenset({"INVITE", "SUBSCRIBE", "REFER"})
NO_AUTH = frozenset({"ACK", "CANCEL", "REGISTER"})


@dataclass(frozen=True)
class Send:
    """Serialize ``message`` and send it on ``flow`` (opening a connection if need be)."""

    message: Request | Response
    flow: Flow


#: A hook that may answer a request to the switch itself (returns None to route it).
LocalHandler = Callable[[Request, Flow, float], Response | None]


class ProxyCore:
    """Registrar + stateless proxy on ``host:port``; ``receive`` returns what to send."""

    def __init__(self, host: str, port: int, users: set[str], verifier: DigestVerifier,
                 location: LocationTable | None = None) -> None:
        self.host = host
        self.port = port
        self.users = users
        self.verifier = verifier
        self.location = location or LocationTable()
        self.hosts = {host.lower(), "127.0.0.1", "localhost"}
        #: Branches of INVITEs we answered ourselves: their ACKs stop here (§17.2.1).
        self._answered: OrderedDict[str, None] = OrderedDict()
        self.local_handler: LocalHandler | None = None
        #: Maps a number that is no account here (a customer's, called back) to the
        #: account that takes the call, or None: 404 as before.
        self.resolve_number: Callable[[str], str | None] | None = None

    # ----- entry point ----------------------------------------------------------------------
    def receive(self, data: bytes, flow: Flow, now: float) -> list[Send]:
        """One datagram or framed stream message from ``flow``. Never raises."""
        if not data.strip(b"\r\n \t"):
            return []
        try:
            message = parse_message(data)
        except ParseError as exc:
            logger.debug("dropped an unparsable message from %s: %s", flow, exc)
            return []
        try:
            if isinstance(message, Response):
                return self._on_response(message, flow)
            return self._on_request(message, flow, now)
        except ParseError as exc:
            logger.debug("dropped a message from %s: %s", flow, exc)
            return []
        except Exception:  # noqa: BLE001 - one bad message must not stop the switch
            logger.exception("switch: internal error on a message from %s", flow)
            return []

    # ----- requests -------------------------------------------------------------------------
    def _on_request(self, req: Request, flow: Flow, now: float) -> list[Send]:
        try:
            validate_request(req)
        except ParseError as exc:
            if req.method != "ACK" and is_answerable(req):
                return [Send(make_response(req, exc.status, to_tag=_tag()), flow)]
            return []
        _stamp_received(req, flow)
        if req.method == "ACK" and _top_branch(req) in self._answered:
            return []  # the ACK of a final response we sent ourselves
        hops = _max_forwards(req)
        if hops <= 0:
            return self._answer(req, flow, 483)
        req.headers.set("Max-Forwards", str(hops - 1))
        self._strip_own_routes(req)
        if "Route" in req.headers:
            route = parse_name_addr(req.headers.get_all("Route")[0]).uri
            if not isinstance(route, SipUri):
                return self._answer(req, flow, 416)
            return self._forward(req, flow, self._flow_for(route, now), now)
        uri = parse_uri(req.uri)
        if not isinstance(uri, SipUri):
            return self._answer(req, flow, 416)
        if not self._is_us(uri):
            return self._forward(req, flow, self._flow_for(uri, now), now)
        if req.method == "REGISTER":
            return self._register(req, flow, now)
        if self.local_handler is not None:
            local = self.local_handler(req, flow, now)
            if local is not None:
                return [Send(local, flow)] if req.method != "ACK" else []
        return self._to_aor(req, flow, uri, now)

    def _to_aor(self, req: Request, flow: Flow, uri: SipUri, now: float) -> list[Send]:
        user = uri.user_unescaped
        if not user:
            if req.method == "OPTIONS":
                ok = make_response(req, 200, to_tag=_tag())
                ok.headers.add("Allow", ALLOW)
                return [Send(ok, flow)]
            return self._answer(req, flow, 404)
        if user not in self.users:
            target = self._resolve(req, user)
            if target is None:
                return self._answer(req, flow, 404)
            user = target
        challenge = self._authorize(req, flow, now)
        if challenge is not None:
            return challenge
        binding = self.location.lookup(user, now)
        if binding is None:
            return self._answer(req, flow, 480)
        req.uri = binding.contact
        return self._forward(req, flow, binding.flow, now, authorized=True)

    def _resolve(self, req: Request, user: str) -> str | None:
        """A new INVITE to a number that is no account: ask ``resolve_number``."""
        if req.method != "INVITE" or _has_to_tag(req) or self.resolve_number is None:
            return None
        target = self.resolve_number(user)
        return target if target in self.users else None

    def _authorize(self, req: Request, flow: Flow, now: float) -> list[Send] | None:
        """407 unless the request is in a dialog, comes from a registered flow or carries
        valid Proxy-Authorization (RFC 3261 §22.3); None when it may pass."""
        if req.method in NO_AUTH or _has_to_tag(req) \
                or self.location.is_registered_flow(flow, now):
            return None
        user, stale = self.verifier.verify(req, "Proxy-Authorization", now)
        if user is not None:
            req.headers.remove("Proxy-Authorization")
            return None
        response = make_response(req, 407, to_tag=_tag())
        for value in self.verifier.challenges(now, stale=stale):
            response.headers.add("Proxy-Authenticate", value)
        return self._answered_with(req, flow, response)

    def _register(self, req: Request, flow: Flow, now: float) -> list[Send]:
        to_uri = req.to.uri
        aor_user = to_uri.user_unescaped if isinstance(to_uri, SipUri) else None
        if not aor_user or aor_user not in self.users:
            return self._answer(req, flow, 404)
        user, stale = self.verifier.verify(req, "Authorization", now)
        if user is None:
            response = make_response(req, 401, to_tag=_tag())
            for value in self.verifier.challenges(now, stale=stale):
                response.headers.add("WWW-Authenticate", value)
            return [Send(response, flow)]
        if user != aor_user:
            return self._answer(req, flow, 403)
        return [Send(self.location.register(req, user, flow, now), flow)]

    def _forward(self, req: Request, flow: Flow, target: Flow, now: float, *,
                 authorized: bool = False) -> list[Send]:
        if not authorized and req.method not in NO_AUTH and not _has_to_tag(req):
            challenge = self._authorize(req, flow, now)
            if challenge is not None:
                return challenge
        if req.method in DIALOG_CREATING and not _has_to_tag(req):
            for rr in self._record_routes(flow, target):
                req.headers.prepend("Record-Route", rr)
        branch = self._branch(req)
        via = f"SIP/2.0/{target.transport.upper()} {self.host}:{self.port};branch={branch}"
        req.headers.prepend("Via", via)
        logger.debug("switch: %s %s -> %s", req.method, req.uri, target)
        return [Send(req, target)]

    def _answer(self, req: Request, flow: Flow, status: int) -> list[Send]:
        if req.method == "ACK":
            return []
        return self._answered_with(req, flow, make_response(req, status, to_tag=_tag()))

    def _answered_with(self, req: Request, flow: Flow, response: Response) -> list[Send]:
        if req.method == "INVITE":
            self._answered[_top_branch(req)] = None
            while len(self._answered) > 1024:
                self._answered.popitem(last=False)
        return [Send(response, flow)]

    # ----- responses ------------------------------------------------------------------------
    def _on_response(self, resp: Response, flow: Flow) -> list[Send]:
        # validate_response() applies the UA rule "exactly one Via" (§8.1.3.3); a proxy
        # gets several by design, so only the fields it routes on are checked here.
        resp.cseq  # noqa: B018 - raises ParseError when missing or malformed
        values = _via_values(resp)
        if len(values) < 2:
            return []
        ours = parse_via(values[0])
        if not (ours.branch or "").startswith(BRANCH_PREFIX) \
                or ours.host not in self.hosts or (ours.port or 5060) != self.port:
            logger.debug("dropped a response from %s whose top Via is not ours", flow)
            return []
        _set_vias(resp, values[1:])
        nxt = parse_via(values[1])
        host = nxt.received or nxt.host
        port = nxt.rport or nxt.port or 5060
        return [Send(resp, Flow(_flow_transport(nxt.transport), (host, port)))]

    # ----- helpers --------------------------------------------------------------------------
    def _is_us(self, uri: SipUri) -> bool:
        return uri.host.lower() in self.hosts and (uri.port or 5060) == self.port

    def _flow_for(self, uri: SipUri, now: float) -> Flow:
        binding = self.location.by_contact(uri, now)
        if binding is not None:
            return binding.flow
        transport = _flow_transport(uri.transport or "udp")
        return Flow(transport, (uri.host, uri.port or (5061 if transport == "tls" else 5060)))

    def _strip_own_routes(self, req: Request) -> None:
        routes = req.headers.get_all("Route")
        kept = list(routes)
        while kept:
            try:
                uri = parse_name_addr(kept[0]).uri
            except ParseError:
                break
            if not (isinstance(uri, SipUri) and self._is_us(uri)):
                break
            kept.pop(0)
        if len(kept) != len(routes):
            req.headers.remove("Route")
            for value in kept:
                req.headers.add("Route", value)

    def _record_routes(self, inbound: Flow, outbound: Flow) -> list[str]:
        """Record-Route values in prepend order: the inbound side's first, so the entry
        facing the callee ends on top (RFC 5658 §4 double record-routing)."""
        def rr(flow: Flow) -> str:
            param = "" if flow.transport == "udp" else f";transport={flow.transport}"
            return f"<sip:{self.host}:{self.port}{param};lr>"

        if inbound.transport == outbound.transport:
            return [rr(inbound)]
        return [rr(inbound), rr(outbound)]

    def _branch(self, req: Request) -> str:
        """A branch derived from the incoming one (RFC 3261 §16.11), same for the
        INVITE, its retransmissions, its CANCEL and its non-2xx ACK."""
        incoming = _top_branch(req)
        if not incoming.startswith("z9hG4bK"):
            cseq = req.cseq
            incoming = f"{req.call_id}|{cseq.number}|{req.from_.tag}|{incoming}"
        digest = hashlib.sha1(incoming.encode(), usedforsecurity=False).hexdigest()[:20]
        return BRANCH_PREFIX + digest


def _via_values(msg: Request | Response) -> list[str]:
    out: list[str] = []
    for value in msg.headers.get_raw_all("Via"):
        out.extend(split_header_list(value))
    return out


def _set_vias(msg: Request | Response, values: list[str]) -> None:
    msg.headers.remove("Via")
    for value in reversed(values):
        msg.headers.prepend("Via", value)


def _top_branch(req: Request) -> str:
    values = _via_values(req)
    if not values:
        return ""
    return parse_via(values[0]).branch or values[0]


def _stamp_received(req: Request, flow: Flow) -> None:
    """``received`` and ``rport`` on the top Via (RFC 3261 §18.2.1, RFC 3581 §4): the
    response goes back to where the request came from, NAT or ephemeral port."""
    values = _via_values(req)
    top = parse_via(values[0])
    params = dict(top.params)
    params["received"] = flow.address[0]
    params["rport"] = str(flow.address[1])
    values[0] = str(Via(top.transport, top.host, top.port, params, top.protocol))
    _set_vias(req, values)


def _max_forwards(req: Request) -> int:
    value = req.headers.get("Max-Forwards")
    if value is None or not value.strip().isdigit():
        return 70
    return int(value.strip())


def _has_to_tag(req: Request) -> bool:
    return req.to.tag is not None


def _flow_transport(transport: str) -> str:
    lower = transport.lower()
    return "ws" if lower in ("ws", "wss") else lower


def _tag() -> str:
    return secrets.token_hex(5)


__all__ = ["BRANCH_PREFIX", "LocalHandler", "ProxyCore", "Send"]
