"""The sans-IO user agent: the one object the driver talks to.

Bytes in (:meth:`UserAgent.receive_data`), bytes out (:meth:`UserAgent.data_to_send`),
events out (:meth:`UserAgent.events`), time in (every call takes ``now``; the caller
asks :meth:`UserAgent.next_deadline` and calls :meth:`UserAgent.handle_timer`).

The core answers on its own what a UA must answer whatever the application does
(RFC 3261 §8.2): 400/505 for malformed requests it can answer (and drops the rest),
416 for URI schemes it cannot handle, 420 for unknown ``Require`` options, 405 to
REGISTER, 200 to OPTIONS with Allow/Accept/Supported (§11.2), 481 to in-dialog
requests that match no dialog (§12.2.2) and to CANCEL that matches no transaction
(§9.2), 501 to methods it does not know. Nothing a peer sends raises out of it.

Calls (INVITE dialogs) are run by :class:`~.invite_server.CallManager` (:attr:`calls`);
their API (``invite``, ``ring``, ``answer``, ``hangup``...) comes from
:class:`~.call_control.CallControl`, transfer (``refer``, ``accept_refer``,
``reject_refer``, ``notify_refer_progress``; in-dialog REFER/NOTIFY, INVITE with
Replaces) from :mod:`.transfer`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Literal

from .auth import DigestAuthenticator
from .call_control import CallControl
from .core_answers import core_answer, parse_uri_or_none, warn_text
from .errors import ParseError, SipError
from .events import (
    IncomingRequest,
    MessageDropped,
    RegistrationStateChanged,
    UAEvent,
)
from .invite import deliver
from .invite_server import CallManager
from .message import Request, Response, make_response
from .parser import (
    MessageParseError,
    is_answerable,
    parse_message,
    validate_request,
    validate_response,
)
from .registration import (
    Registered,
    Registration,
    RegistrationFailed,
    Unregistered,
    build_contact,
)
from .transaction import (
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    PassToTU,
    SendMessage,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    TransactionTable,
    TransactionTimeout,
    TransportErrorEffect,
)
from .ua_config import Outgoing, UAConfig
from .uri import SipUri

logger = logging.getLogger(__name__)

Address = tuple[str, int]



ResponseCallback = Callable[[Response | None, int, str, float], None]


class UserAgent(CallControl):
    """A SIP user agent with one account, driven from outside.

    Calls (``invite``/``ring``/``answer``/``hangup``...) come from :class:`CallControl`
    and live in :attr:`calls` (see :mod:`.invite`).
    """

    def __init__(self, config: UAConfig, *, rng: random.Random | None = None) -> None:
        self.config = config
        self.rng = rng or random.Random()
        self.transactions = TransactionTable()
        self.local_host = "0.0.0.0"
        self.local_port: int | None = None
        #: True from a lost flow until the transport is up again: in-dialog requests
        #: wait (see :mod:`.in_dialog`).
        self.flow_lost = False
        self._out: list[Outgoing] = []
        self._events: list[UAEvent] = []
        self._on_final: dict[int, ResponseCallback] = {}
        self._on_response: dict[int, ResponseCallback] = {}  # calls: every response
        self.calls = CallManager(self)
        auth = None
        if config.password is not None:
            user = config.auth_user or config.aor.user or ""
            # Answer only our own realm (RFC 3261 §22; the digest-leak attack): the
            # configured one, else the first realm the registrar challenges with.
            auth = DigestAuthenticator(
                user,
                config.password,
                realms=frozenset({config.realm}) if config.realm else None,
                cnonce_factory=lambda: self._token(16),
                learn_realm=config.realm is None,
            )
        self.registration = Registration(
            config.registration_settings(),
            authenticator=auth,
            call_id=self._token(20),
            from_tag=self._token(10),
            rng=self.rng,
        )

    # ----- identifiers -----------------------------------------------------------------
    def _token(self, n: int) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def new_branch(self) -> str:
        """A fresh RFC 3261 §8.1.1.7 branch (magic cookie + randomness)."""
        return "z9hG4bK" + self._token(16)

    # ----- outputs ---------------------------------------------------------------------
    def data_to_send(self) -> list[Outgoing]:
        out, self._out = self._out, []
        return out

    def events(self) -> list[UAEvent]:
        self._drain_registration()
        events, self._events = self._events, []
        return events

    def post(self, event: UAEvent) -> None:
        """Queue an event for :meth:`events` (the call layer reports through this)."""
        self._events.append(event)

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self.transactions.next_deadline(),
                                 self.registration.next_deadline(),
                                 self.calls.next_deadline()) if d is not None]
        return min(deadlines) if deadlines else None

    # ----- transport facts ----------------------------------------------------------------
    @property
    def via_transport(self) -> str:
        return self.config.transport.upper()

    def transport_up(self, host: str, port: int | None, now: float) -> None:
        """The flow is (again) usable from ``host:port``: (re-)register on it, and after
        a lost flow or with a new address resend what waited and refresh every call's
        target (:meth:`CallManager.flow_restored`)."""
        restored = self.flow_lost
        before = self.contact() if self.local_port is not None else None
        self.flow_lost = False
        self.local_host = host
        self.local_port = port
        self.registration.set_contact(self.contact())
        if self.config.register:
            self._send_register(self.registration.start(now), now)
        if restored or (before is not None and before != self.contact()):
            self.calls.flow_restored(now)

    def transport_down(self, reason: str, now: float) -> None:
        """The flow is gone (TCP/TLS/WS): the binding is lost and requests on the flow
        die with it, but established calls stay up (RFC 6026): their in-dialog requests
        wait for the next flow (:mod:`.in_dialog`)."""
        was = self.registration.is_registered
        self.flow_lost = True
        self.registration.connection_lost(now)
        for tx in list(self.transactions):
            if isinstance(tx, ClientTransaction) and not tx.terminated:
                kept = self.calls.flow_lost(tx, now)
                self._on_final.pop(id(tx), None)  # the flow is gone: nobody waits for them
                handler = self._on_response.pop(id(tx), None)
                tx.terminate(now)
                if handler is not None and not kept:
                    handler(None, 503, "Connection Error", now)
            self.transactions.remove(tx)
        self.calls.transport_down(now)
        if was:
            self._events.append(RegistrationStateChanged(False, 503, f"connection lost: {reason}"))

    def contact(self) -> str:
        return build_contact(
            self.config.aor, self.local_host, self.local_port, self.config.transport,
            self.config.instance_id,
        )

    # ----- registration --------------------------------------------------------------------
    def register(self, now: float) -> None:
        self.registration.set_contact(self.contact())
        self._send_register(self.registration.start(now), now)

    def unregister(self, now: float) -> bool:
        """Send Expires: 0; False when there was nothing to remove."""
        request = self.registration.stop(now)
        if request is None:
            return False
        self._send_register(request, now)
        return True

    def _send_register(self, request: Request, now: float) -> None:
        self.send_request(request, now, self._on_register_final)

    def _on_register_final(self, response: Response | None, status: int, reason: str,
                           now: float) -> None:
        if response is not None:
            retry = self.registration.on_response(response, now)
            if retry is not None:
                self._send_register(retry, now)
        else:
            self.registration.on_failure(status, reason, now)

    def _drain_registration(self) -> None:
        for event in self.registration.events:
            if isinstance(event, Registered):
                self._events.append(RegistrationStateChanged(True, 200, "OK", event.expires))
            elif isinstance(event, RegistrationFailed):
                self._events.append(RegistrationStateChanged(
                    False, event.status, event.reason, retry_in=event.retry_in))
            elif isinstance(event, Unregistered):
                self._events.append(RegistrationStateChanged(False, event.status, "unregistered",
                                                             final=True))
        self.registration.events.clear()

    # ----- sending ---------------------------------------------------------------------------
    def next_hop(self, request: Request) -> Address | None:
        """Where a request goes: the outbound proxy, else the registrar (RFC 3261 §8.1.2);
        without registration, a SIP Request-URI's own host (a direct call).

        On connection-oriented transports the flow already goes there: None.
        """
        if self.config.reliable:
            return None
        target = self.config.outbound_proxy or self.config.registrar
        if self.config.outbound_proxy is None and not self.config.register:
            direct = parse_uri_or_none(request.uri)
            target = direct if isinstance(direct, SipUri) else target
        return (target.host, target.port or 5060)

    def send_request(
        self,
        request: Request,
        now: float,
        on_final: ResponseCallback | None = None,
        *,
        on_response: ResponseCallback | None = None,
        destination: Address | None | Literal["next-hop"] = "next-hop",
        keep_via: bool = False,
    ) -> ClientTransaction:
        """Add our Via (fresh branch, rport) and run ``request`` in a client transaction.

        ``on_final`` hears the first final; ``on_response`` everything (see
        :func:`.invite.deliver`). ``keep_via``: a CANCEL reuses its INVITE's Via (§9.1).
        """
        if not keep_via:
            self.stamp_via(request)
        if self.config.outbound_proxy is not None and "Route" not in request.headers:
            request.headers.add("Route", f"<{self.config.outbound_proxy};lr>")
        cls = ClientInviteTransaction if request.method == "INVITE" \
            else ClientNonInviteTransaction
        dest = self.next_hop(request) if destination == "next-hop" else destination
        tx = cls(request, reliable=self.config.reliable, timers=self.config.timers,
                 destination=dest)
        self.transactions.add(tx)
        if on_final is not None:
            self._on_final[id(tx)] = on_final
        if on_response is not None:
            self._on_response[id(tx)] = on_response
        for effect in tx.start(now):
            self._handle_client_effect(tx, effect, now)
        return tx

    def stamp_via(self, request: Request) -> None:
        """Replace the Via by ours with a fresh branch and rport (§8.1.1.7, RFC 3581)."""
        port = f":{self.local_port}" if self.local_port and self.config.transport != "ws" \
            and self.config.transport != "wss" else ""
        request.headers.remove("Via")
        request.headers.prepend(
            "Via", f"SIP/2.0/{self.via_transport} {self.local_host}{port};branch="
            f"{self.new_branch()};rport")

    def abandon(self, tx: ClientTransaction, now: float) -> None:
        """Drop a client transaction without a final response (§9.1: CANCEL gave up)."""
        tx.terminate(now)
        self._on_final.pop(id(tx), None)
        self._on_response.pop(id(tx), None)
        self.transactions.remove(tx)

    def emit(self, message: Request | Response, dest: Address | None) -> None:
        """Queue ``message`` as is (ACKs for 2xx and 2xx retransmissions use it)."""
        self._out.append(Outgoing(message.to_bytes(), dest, message))

    def send_response(self, tx: ServerTransaction, response: Response, now: float) -> None:
        for effect in tx.respond(response, now):
            if isinstance(effect, SendMessage):
                self.emit(effect.message, self.response_dest(tx))

    def response_dest(self, tx: ServerTransaction) -> Address | None:
        """RFC 3261 §18.2.2 + RFC 3581: reply to the source (rport) on UDP."""
        if self.config.reliable:
            return None
        source = tx.source
        if isinstance(source, tuple) and len(source) == 2:
            host, port = source
            if isinstance(host, str) and isinstance(port, int):
                return (host, port)
        return None

    # ----- timers -----------------------------------------------------------------------------
    def handle_timer(self, now: float) -> None:
        for tx, effect in self.transactions.on_timer(now):
            if isinstance(tx, ClientTransaction):
                self._handle_client_effect(tx, effect, now)
            elif isinstance(effect, SendMessage):
                self.emit(effect.message, self.response_dest(tx))
        request = self.registration.on_timer(now)
        if request is not None:
            self._send_register(request, now)
        self.calls.on_timer(now)

    def _handle_client_effect(self, tx: ClientTransaction, effect: object, now: float) -> None:
        handler = self._on_response.get(id(tx))
        if handler is not None and deliver(handler, effect, now):
            self._on_response.pop(id(tx), None)
        if isinstance(effect, SendMessage):
            dest = tx.destination if isinstance(tx.destination, tuple) else None
            self.emit(effect.message, dest)
        elif isinstance(effect, PassToTU):
            message = effect.message
            if isinstance(message, Response) and message.status >= 200:
                callback = self._on_final.pop(id(tx), None)
                if callback is not None:
                    callback(message, message.status, message.reason, now)
        elif isinstance(effect, TransactionTimeout):
            callback = self._on_final.pop(id(tx), None)
            if callback is not None:
                callback(None, 408, "Request Timeout", now)
        elif isinstance(effect, TransportErrorEffect):
            callback = self._on_final.pop(id(tx), None)
            if callback is not None:
                callback(None, 503, "Service Unavailable (transport error)", now)

    # ----- receiving ---------------------------------------------------------------------------
    def receive_data(self, data: bytes, source: Address, now: float) -> None:
        """One datagram or one framed stream message from ``source``. Never raises."""
        try:
            self._receive(data, source, now)
        except SipError as exc:  # pragma: no cover - defensive: parse errors are handled below
            self._events.append(MessageDropped(source, str(exc)))
        except Exception as exc:  # noqa: BLE001 - nothing a peer sends may raise out of the core
            logger.exception("internal error while handling a message from %s", source)
            self._events.append(MessageDropped(source, f"internal error: {exc!r}"))

    def _receive(self, data: bytes, source: Address, now: float) -> None:
        if not data.strip(b"\r\n \t"):
            return  # keep-alive
        try:
            message = parse_message(data)
        except MessageParseError as exc:
            # The headers were read but the rest is bad (Content-Length beyond the
            # datagram, LWS in the R-URI, ...): answer when a response can be built.
            partial = exc.partial
            if isinstance(partial, Request) and partial.method != "ACK" \
                    and is_answerable(partial):
                self._reply_stateless(partial, exc.status, source,
                                      [("Warning", f'399 agentconsole "{warn_text(exc)}"')])
            else:
                self._events.append(MessageDropped(source, str(exc)))
            return
        except ParseError as exc:
            self._events.append(MessageDropped(source, str(exc)))
            return
        if isinstance(message, Response):
            self._receive_response(message, source, now)
        else:
            self._receive_request(message, source, now)

    def _receive_response(self, response: Response, source: Address, now: float) -> None:
        try:
            validate_response(response)
            vias = response.vias
        except ParseError as exc:
            self._events.append(MessageDropped(source, f"bad response: {exc}"))
            return
        if len(vias) != 1:  # RFC 3261 §8.1.3.3
            self._events.append(MessageDropped(source, "response with more than one Via"))
            return
        tx = self.transactions.match_response(response)
        if tx is None:
            self._events.append(MessageDropped(source, "response matches no transaction"))
            return
        for effect in tx.receive_response(response, now):
            self._handle_client_effect(tx, effect, now)

    def _reply_stateless(self, request: Request, status: int, source: Address,
                         extra: list[tuple[str, str]] | None = None) -> None:
        response = make_response(request, status, to_tag=self._token(10))
        for name, value in extra or []:
            response.headers.add(name, value)
        response.headers.add("Server", self.config.user_agent)
        dest = None if self.config.reliable else self._stateless_dest(request, source)
        self.emit(response, dest)

    @staticmethod
    def _stateless_dest(request: Request, source: Address) -> Address:
        """Answer to where the request came from (symmetric, as RFC 3581 rport does).

        A UA's peers are its registrar/proxy or a peer that sent from the port it
        listens on; replying to the source also works behind NAT, where the Via
        sent-by port is unreachable. Server transactions do the same.
        """
        return source

    def _receive_request(self, request: Request, source: Address, now: float) -> None:
        try:
            validate_request(request)
        except ParseError as exc:
            if request.method != "ACK" and is_answerable(request):
                self._reply_stateless(request, exc.status, source,
                                      [("Warning", f'399 agentconsole "{warn_text(exc)}"')])
            else:
                self._events.append(MessageDropped(source, f"bad request: {exc}"))
            return
        existing = self.transactions.match_request(request)
        if existing is not None:
            for effect in existing.receive_request(request, now):
                if isinstance(effect, SendMessage):
                    self.emit(effect.message, self.response_dest(existing))
                elif isinstance(effect, PassToTU) and isinstance(effect.message, Request):
                    self.calls.on_ack(effect.message, now)  # RFC 6026 §8.7
            return
        if request.method == "ACK":
            self.calls.on_ack(request, now)  # for our 2xx, else absorbed (§17.2.3)
            return
        server_cls = ServerInviteTransaction if request.method == "INVITE" \
            else ServerNonInviteTransaction
        tx = server_cls(request, reliable=self.config.reliable, timers=self.config.timers,
                        source=source)
        self.transactions.add(tx)
        for effect in tx.start(now):
            if isinstance(effect, SendMessage):
                self.emit(effect.message, self.response_dest(tx))
        status, extra = core_answer(request, in_call=self.calls.matches(request),
                                    accept_invites=self.config.accept_invites)
        if status is not None:
            response = make_response(request, status, to_tag=self._token(10))
            for name, value in extra:
                response.headers.add(name, value)
            self.send_response(tx, response, now)
            return
        if request.method == "INVITE" or self.calls.matches(request):
            self.calls.receive_request(request, tx, now)
            return
        self._events.append(IncomingRequest(request, tx))


__all__ = ["Outgoing", "UAConfig", "UserAgent"]
