"""The registration state machine (RFC 3261 §10.2), sans-IO.

It builds REGISTER requests and reacts to their final responses; the UA runs each
request in a non-INVITE client transaction and reports the outcome back. Behaviours:

* 401/407 are answered once per nonce through the digest authenticator (§22.2); the
  same challenge again means the credentials are wrong: stop and report, no loop.
* 423 Interval Too Brief → retry at once with the Min-Expires value (§10.2.8).
* A 2xx arms a refresh before the granted expiry (the expiry of *our* Contact in the
  reply, else the Expires header, else what we asked for; §10.2.4).
* Any other failure response (4xx-6xx) is reported and retried with a jittered
  exponential back-off (RFC 5626 §4.5 shape: base doubling to a cap, randomised to
  50-100 %); Retry-After is honoured when it asks for longer.
* A registrar that does not answer at all (Timer F, a transport error) is retried on
  the recovery schedule of :mod:`.backoff`: at least every ``probe_s`` during the first
  ``probe_window_s``, then doubling to ``recover_max_s``, the bounds a lost flow is
  reconnected on.
* ``stop`` sends ``Expires: 0`` for our Contact (§10.2.2).

Telling the truth on UDP, where nothing reports a registrar that died or restarted
(a restarted one with in-memory bindings has forgotten ours, and an OPTIONS answer would
not show that): with ``refresh_max_s`` the binding is refreshed at least that often,
whatever the granted expiry, so a restarted registrar has it back within that time;
with ``answer_timeout_s`` a REGISTER left unanswered that long is reported at once as a
failure (408, "no answer from the registrar") while its retransmissions go on probing
every T2, so the first retransmission after the registrar is back restores the binding.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field

from .auth import DigestAuthenticator, may_answer_again
from .backoff import Backoff
from .capabilities import ALLOW, SUPPORTED
from .errors import ParseError
from .headers import is_digits
from .message import Headers, Request, Response
from .uri import SipUri, parse_name_addr, uri_equal

#: Refresh this many seconds before the binding expires, at most half the interval.
REFRESH_MARGIN_S = 5.0
#: The reason reported when a REGISTER got no answer within ``answer_timeout_s``.
NO_ANSWER = "No answer from the registrar"


class RegState(enum.Enum):
    IDLE = "idle"
    REGISTERING = "registering"
    REGISTERED = "registered"
    RETRY_WAIT = "retry_wait"
    UNREGISTERING = "unregistering"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Registered:
    """A 2xx was received; the binding lasts ``expires`` seconds."""

    expires: int


@dataclass(frozen=True)
class RegistrationFailed:
    """A REGISTER failed. ``retry_in`` is None when no retry is scheduled."""

    status: int
    reason: str
    retry_in: float | None


@dataclass(frozen=True)
class Unregistered:
    """The binding was removed (or the un-REGISTER failed; we are done either way)."""

    status: int


RegEvent = Registered | RegistrationFailed | Unregistered


@dataclass
class RegistrationSettings:
    aor: SipUri
    registrar: SipUri
    display_name: str | None = None
    expires: int = 600
    retry_min_s: float = 30.0
    retry_max_s: float = 300.0
    user_agent: str = "agentconsole"
    instance_id: str | None = None  # urn:uuid:... (RFC 5626 §4.1)
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    #: Refresh at least this often whatever the granted expiry (0: only before expiry).
    refresh_max_s: float = 0.0
    #: A REGISTER unanswered this long is reported as a failure at once (0: at Timer F).
    answer_timeout_s: float = 0.0
    #: Retry schedule after no answer at all (see :mod:`.backoff`).
    recover_min_s: float = 2.0
    recover_max_s: float = 30.0
    probe_s: float = 4.0
    probe_window_s: float = 60.0


class Registration:
    """One account's binding at its registrar.

    The owner calls :meth:`start`/:meth:`stop`/:meth:`on_response`/:meth:`on_failure`
    and :meth:`on_timer`; requests to send come back from those calls, events are
    collected in :attr:`events` (drained by the owner).
    """

    def __init__(
        self,
        settings: RegistrationSettings,
        *,
        authenticator: DigestAuthenticator | None,
        call_id: str,
        from_tag: str,
        rng: random.Random,
    ) -> None:
        self.settings = settings
        self.authenticator = authenticator
        self.call_id = call_id
        self.from_tag = from_tag
        self.rng = rng
        self.state = RegState.IDLE
        self.cseq = 0
        self.expires_requested = settings.expires
        self.granted: int | None = None
        self.failures = 0
        self.events: list[RegEvent] = []
        self._deadline: float | None = None
        self._pending: Request | None = None
        self._contact: str = ""
        self._auth_retries = 0
        self._answer_deadline: float | None = None
        self._silence_reported = False
        self._recovery = Backoff(settings.recover_min_s, settings.recover_max_s, rng,
                                 probe_s=settings.probe_s,
                                 probe_window_s=settings.probe_window_s)

    # ----- public API --------------------------------------------------------------
    @property
    def is_registered(self) -> bool:
        return self.state == RegState.REGISTERED

    @property
    def pending(self) -> Request | None:
        """The REGISTER currently in flight, if any."""
        return self._pending

    def set_contact(self, contact: str) -> None:
        """Set the Contact value (``<sip:...>;+sip.instance=...``) used in REGISTERs."""
        self._contact = contact

    def start(self, now: float) -> Request:
        """Send a REGISTER (first one, or at once after a reconnect)."""
        self.expires_requested = self.settings.expires
        self._auth_retries = 0
        return self._send(now, self.expires_requested, RegState.REGISTERING)

    def stop(self, now: float) -> Request | None:
        """Remove our binding (Expires: 0). None when nothing is registered."""
        self._deadline = self._answer_deadline = None
        if self.state in (RegState.IDLE, RegState.STOPPED, RegState.RETRY_WAIT):
            self.state = RegState.STOPPED
            return None
        self._auth_retries = 0
        return self._send(now, 0, RegState.UNREGISTERING)

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self._deadline, self._answer_deadline) if d is not None]
        return min(deadlines) if deadlines else None

    def on_timer(self, now: float) -> Request | None:
        """Refresh or retry when the deadline has come; report a silent registrar."""
        if self._answer_deadline is not None and now >= self._answer_deadline:
            self._answer_deadline = None
            self._report_silence()
        if self._deadline is None or now < self._deadline:
            return None
        self._deadline = None
        if self.state in (RegState.REGISTERED, RegState.RETRY_WAIT):
            self._auth_retries = 0
            return self._send(now, self.expires_requested, RegState.REGISTERING)
        return None

    def on_response(self, response: Response, now: float) -> Request | None:
        """A final response to our pending REGISTER; maybe a new request to send."""
        if self._pending is None or response.status < 200:
            return None
        request = self._pending
        self._pending = None
        self._heard_from_registrar()
        unregistering = self.state == RegState.UNREGISTERING
        if response.status in (401, 407):
            retry = self._authenticate(request, response)
            if retry is not None:
                self._await_answer(now)
                return retry
        elif response.status == 423 and not unregistering:
            min_expires = _int_header(response, "Min-Expires")
            if min_expires is not None and min_expires > self.expires_requested:
                self.expires_requested = min_expires
                return self._send(now, min_expires, RegState.REGISTERING)
        if unregistering:
            self.state = RegState.STOPPED
            self.granted = None
            self.events.append(Unregistered(response.status))
            return None
        if 200 <= response.status < 300:
            self._registered(response, now)
            return None
        self._failed(response.status, response.reason, now, _int_header(response, "Retry-After"))
        return None

    def on_failure(self, status: int, reason: str, now: float) -> None:
        """Timer F (408) or a transport error (503) for the pending REGISTER: nobody
        answered, so retry on the recovery schedule (not the failure back-off)."""
        if self._pending is None:
            return
        self._pending = None
        self._answer_deadline = None
        if self.state == RegState.UNREGISTERING:
            self.state = RegState.STOPPED
            self.events.append(Unregistered(status))
            return
        self.failures += 1
        self.state = RegState.RETRY_WAIT
        delay = self._recovery.next(now)
        self._deadline = now + delay
        self._silence_reported = True  # this event says it; the answer timer need not
        self.events.append(RegistrationFailed(status, reason, delay))

    def connection_lost(self, now: float) -> None:
        """The flow the binding lives on is gone: the binding is as good as lost."""
        self._pending = None
        self._answer_deadline = None
        if self.state in (RegState.REGISTERED, RegState.REGISTERING):
            self.state = RegState.RETRY_WAIT
            self._deadline = None  # the owner calls start() when a flow is back

    # ----- internals -----------------------------------------------------------------
    def _send(self, now: float, expires: int, state: RegState) -> Request:
        self.cseq += 1
        self.state = state
        request = self._build(expires)
        if self.authenticator is not None and self._auth_retries == 0:
            request = self.authenticator.authorize(request)
        self._pending = request
        if state is RegState.REGISTERING:
            self._await_answer(now)
        return request

    def _await_answer(self, now: float) -> None:
        timeout = self.settings.answer_timeout_s
        self._answer_deadline = now + timeout if timeout > 0 else None

    def _report_silence(self) -> None:
        """The pending REGISTER went unanswered for ``answer_timeout_s``: whatever the
        binding was, nobody can vouch for it now (the transaction keeps retransmitting)."""
        if self._pending is None or self.state is not RegState.REGISTERING \
                or self._silence_reported:
            return
        self._silence_reported = True
        self.events.append(RegistrationFailed(408, NO_ANSWER, None))

    def _heard_from_registrar(self) -> None:
        self._answer_deadline = None
        self._silence_reported = False
        self._recovery.reset()

    def _build(self, expires: int) -> Request:
        s = self.settings
        aor = str(SipUri(s.aor.scheme, s.aor.host, s.aor.user, None, s.aor.port))
        display = f'"{s.display_name}" ' if s.display_name else ""
        headers = Headers(
            [
                ("Max-Forwards", "70"),
                ("From", f"{display}<{aor}>;tag={self.from_tag}"),
                ("To", f"{display}<{aor}>"),
                ("Call-ID", self.call_id),
                ("CSeq", f"{self.cseq} REGISTER"),
                ("Contact", self._contact),
                ("Expires", str(expires)),
                ("Allow", ALLOW),
                ("Supported", SUPPORTED),
                ("User-Agent", s.user_agent),
            ]
        )
        for name, value in s.extra_headers:
            headers.add(name, value)
        return Request("REGISTER", str(s.registrar), headers)

    def _authenticate(self, request: Request, response: Response) -> Request | None:
        if self.authenticator is None:
            return None
        if not may_answer_again(response, self._auth_retries):
            return None
        retry = self.authenticator.handle_challenge(request, response)
        if retry is None:
            return None
        self._auth_retries += 1
        self.cseq += 1
        retry.headers.set("CSeq", f"{self.cseq} REGISTER")
        self._pending = retry
        return retry

    def _registered(self, response: Response, now: float) -> None:
        granted = self._granted_expires(response)
        self.granted = granted
        self.state = RegState.REGISTERED
        self.failures = 0
        margin = min(max(REFRESH_MARGIN_S, granted * 0.1), granted / 2)
        refresh_in = max(1.0, granted - margin)
        if self.settings.refresh_max_s > 0:
            refresh_in = min(refresh_in, self.settings.refresh_max_s)
        self._deadline = now + refresh_in
        self.events.append(Registered(granted))

    def _granted_expires(self, response: Response) -> int:
        ours = _contact_uri(self._contact)
        try:
            contacts = response.contacts
        except ParseError:
            contacts = []
        for contact in contacts:
            uri = contact.uri
            if ours is not None and isinstance(uri, SipUri) and uri_equal(uri, ours):
                value = contact.params.get("expires")
                if value is not None and is_digits(value) and len(value) <= 10:
                    return int(value)
        header = _int_header(response, "Expires")
        if header is not None:
            return header
        return self.expires_requested

    def _failed(self, status: int, reason: str, now: float, retry_after: int | None) -> None:
        self.failures += 1
        self.state = RegState.RETRY_WAIT
        base = min(self.settings.retry_max_s, self.settings.retry_min_s * 2 ** (self.failures - 1))
        delay = base * self.rng.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        self._deadline = now + delay
        self.events.append(RegistrationFailed(status, reason, delay))


def _int_header(message: Response, name: str) -> int | None:
    value = message.headers.get(name)
    if value is None:
        return None
    text = value.split(";", 1)[0].split("(", 1)[0].strip()
    if not is_digits(text) or len(text) > 10:
        return None
    return int(text)


def _contact_uri(contact: str) -> SipUri | None:
    try:
        uri = parse_name_addr(contact).uri
    except ParseError:
        return None
    return uri if isinstance(uri, SipUri) else None


def build_contact(
    aor: SipUri, host: str, port: int | None, transport: str, instance_id: str | None
) -> str:
    """Our Contact for REGISTER/INVITE: ``<sip:user@host:port;transport=x>`` + instance."""
    params: dict[str, str | None] = {}
    if transport != "udp":
        params["transport"] = transport
    uri = SipUri("sips" if transport in ("tls", "wss") and aor.scheme == "sips" else "sip",
                 host, aor.user, None, port, params)
    value = f"<{uri}>"
    if instance_id:
        value += f';+sip.instance="<{instance_id}>"'
    return value


__all__ = [
    "NO_ANSWER",
    "RegEvent",
    "RegState",
    "Registered",
    "Registration",
    "RegistrationFailed",
    "RegistrationSettings",
    "Unregistered",
    "build_contact",
]
