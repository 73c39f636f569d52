"""``Phone``: the softphone object scripts, integrations and the console use.

It mirrors the SDK's PhoneOperator (``reference/sdk-parity.md`` §1.2): ``start`` /
``stop``, ``is_registered``, the call list and the events. A Phone is made of parts,
each with its own state and a small interface:

* :class:`~.connection.SipConnection` — the sans-IO user agent, the transport and
  the driver that joins them;
* :class:`~.calls.CallList` — the calls by id and by SIP leg, the current call, the
  1 Hz tick;
* :class:`~.policy.CallPolicy` — dial guards, max calls, auto-hold, refusals;
* :class:`~.agent.Agent` — the agent's state, which refuses calls before they ring;
* :class:`~.devices.AudioDevices` — the audio backend, devices, level meters, ring tone;
* :class:`~.transfer_in.Replacements` — INVITEs with Replaces (RFC 3891).

The Phone wires them together and is the :class:`~.host.CallHost` of its Sessions.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from pyee.asyncio import AsyncIOEventEmitter

from ..config import Config
from ..errors import AgentConsoleError, PhoneError
from ..sip import events as ev
from ..sip.message import make_response
from ..transport.base import TransportState
from ..transport.driver import TraceHook
from .agent import Agent, AgentStatus
from .calls import (
    MISSED_CAUSES,
    CallList,
    header_pairs,
    identity_of,
    inbound_status,
    number_of,
    outbound_status,
)
from .connection import FirstOutcome, SipConnection
from .devices import AudioDevices
from .media_factory import new_media_engine
from .policy import CallPolicy
from .session import Session
from .transfer_in import Replacements

if TYPE_CHECKING:
    from ..media.audio_base import AudioBackend
    from ..media.interface import MediaEngine
    from ..sip.invite import CallLeg
    from ..sip.ua import UserAgent
    from ..transport.base import Transport
    from .host import ExtraHeader
    from .status import CallStatus

T = TypeVar("T")
logger = logging.getLogger(__name__)

#: Final statuses that mean "your credentials or account are wrong" (not transient).
AUTH_FAILURES = frozenset({401, 403, 404, 407})


@dataclass(frozen=True)
class RegistrationFailure:
    """Payload of ``registration_failed``: the SIP code and a readable cause."""

    code: int
    cause: str
    retry_in: float | None = None


class Phone(AsyncIOEventEmitter):
    """One SIP account and its calls (the SDK's PhoneOperator).

    Events: ``connected`` (the transport is up), ``disconnected`` (reason: str),
    ``registered`` (expires: int), ``registration_failed`` (RegistrationFailure),
    ``unregistered``, ``is_registered_change`` (bool: every change of
    ``is_registered``), ``new_session`` (Session), ``incoming`` (Session),
    ``delete_session`` ({"call_id", "cause"}), ``refused`` ({"call_id", "number", "name",
    "code", "reason"}: turned away before any Session), ``missed`` ({"call_id", "number",
    "name", "cause"}: an inbound call ended unanswered), ``replaced`` ({"call_id",
    "replaced_call_id"}), ``agent_state_change`` (status, reason), ``wrapup`` ({"call_id",
    "number", "name", "code", "notes", "timed_out"}: :meth:`Agent.wrapup_filed`),
    ``audio_notice`` (str).
    """

    def __init__(self, config: Config, *, trace: TraceHook | None = None,
                 rng: random.Random | None = None) -> None:
        super().__init__()
        self.config = config
        rng = rng or random.Random()
        self.instance_id = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        self.last_failure: RegistrationFailure | None = None
        self._is_registered = False
        self._first_outcome: FirstOutcome | None = None
        self.connection = SipConnection(config, instance_id=self.instance_id, rng=rng,
                                        on_event=self._on_ua_event,
                                        on_transport_state=self._on_transport_state,
                                        trace=trace)
        self.agent = Agent(config.agent, self.emit)
        self.devices = AudioDevices(config.audio, self.emit)
        self.calls = CallList(self.clock)
        self.policy = CallPolicy(config.calls, self.calls.sessions, self.agent, self.clock)
        self._replacements = Replacements(self, self.calls,
                                          lambda event: self._ring(event, replacing=True),
                                          self.emit)

    # ----- state ----------------------------------------------------------------------
    @property
    def is_registered(self) -> bool:
        """The registrar holds our binding now (``is_registered_change`` on each change)."""
        return self._is_registered

    @property
    def ua(self) -> UserAgent | None:
        """The sans-IO SIP user agent, None before :meth:`start`."""
        return self.connection.ua

    @property
    def transport(self) -> Transport | None:
        """The SIP transport (its ``local_address`` is where we listen), None before."""
        return self.connection.transport

    @property
    def sessions(self) -> dict[str, Session]:
        """Every call by call id (the SIP Call-ID), oldest first."""
        return self.calls.sessions

    @property
    def incoming_list(self) -> list[Session]:
        """Inbound calls not answered yet, oldest first."""
        return self.calls.ringing

    @property
    def current_session(self) -> Session | None:
        """The call the agent talks on: the last one dialled or confirmed."""
        return self.calls.current

    @property
    def is_max_call(self) -> bool:
        """``calls.max_calls`` reached: a new call is refused (-205, or 486 inbound)."""
        return self.policy.is_max_call

    def get_session(self, call_id: str) -> Session:
        """The call with ``call_id``; raises AgentConsoleError -211 when there is none."""
        session = self.sessions.get(call_id)
        if session is None:
            raise AgentConsoleError.from_code(PhoneError.NOT_FOUND_CALL_ID,
                                              f"no call with id {call_id!r}")
        return session

    def get_sessions(self) -> list[Session]:
        """Every call, oldest first (the SDK's ``getSessions``)."""
        return list(self.sessions.values())

    def set_current_session(self, call_id: str) -> None:
        self.calls.current_id = self.get_session(call_id).call_id

    @property
    def ringing(self) -> bool:
        """True while the ring tone is wanted (some inbound call rings, a tone is set)."""
        return self.devices.ringing

    @property
    def audio_backend(self) -> AudioBackend | None:
        """The audio backend calls use (``devices.backend``); None before the first."""
        return self.devices.backend

    @property
    def audio_notice(self) -> str | None:
        """Why there is no audio (e.g. no sound card), for the UI to show; None if fine."""
        return self.devices.notice

    @property
    def agent_state(self) -> AgentStatus:
        """available | away | acw | dnd | offline (see :mod:`.agent`)."""
        return self.agent.state.status

    @property
    def agent_reason(self) -> str | None:
        """The Away reason, None when there is none."""
        return self.agent.state.reason or None

    def set_agent_state(self, state: AgentStatus | str, reason: str | None = None) -> None:
        """Change the agent state; DND, Away and after-call work refuse new calls
        (``agent.dnd_code`` / ``away_code`` / ``acw_code``), Offline refuses with 480.
        Emits ``agent_state_change``."""
        self.agent.set(state, reason)

    def add_trace_hook(self, hook: TraceHook) -> None:
        """Observe every SIP message sent and received (credentials redacted)."""
        self.connection.add_trace_hook(hook)

    def remove_trace_hook(self, hook: TraceHook) -> None:
        """Stop calling ``hook``; unknown hooks are ignored; a hook may remove itself."""
        self.connection.remove_trace_hook(hook)

    # ----- lifecycle ------------------------------------------------------------------
    async def start(self, timeout: float = 10.0) -> Phone:
        """Open the transport and REGISTER; return once the first outcome is known.

        Raises :class:`AgentConsoleError` (code -201 REGISTRY_FAILED) when the
        registrar refuses our credentials or the transport cannot be opened. A
        transient failure (timeout, 5xx) does not raise: the phone keeps retrying and
        emits ``registration_failed`` each time.
        """
        self.devices.open()
        self._first_outcome = FirstOutcome()
        await self.connection.start()
        if not self.config.account.register:
            return self
        outcome = await self._first_outcome.wait(timeout)
        if outcome is not None and not outcome.registered \
                and outcome.status in AUTH_FAILURES:
            raise AgentConsoleError(
                f"registration refused: {outcome.status} {outcome.reason}",
                title="Registration failed", code=PhoneError.REGISTRY_FAILED)
        return self

    async def stop(self) -> None:
        """Hang up every call, un-REGISTER and close the transport."""
        for session in list(self.sessions.values()):
            session.hangup()
        self.calls.stop()
        await self.connection.stop()  # the transport reports CLOSED → "disconnected"
        self._set_registered(False)
        await self.devices.close()

    def re_register(self) -> bool:
        """REGISTER again now, the retry back-off starting over (the SDK's
        ``reRegister``); False when ``account.register`` is off or a REGISTER is on its
        way. Raises AgentConsoleError -201 before :meth:`start`."""
        return self.connection.re_register()

    # ----- dialling ------------------------------------------------------------------------
    async def call(self, number: str, *, extra_headers: Sequence[ExtraHeader] = (),
                   transfer_parent: str | None = None) -> Session:
        """Dial ``number`` (a user, number or SIP URI); returns the new Session at once.

        ``transfer_parent`` (the call id of the talking call) makes a consult leg for an
        attended transfer: the parent is held and the leg is exempt from max_calls.
        """
        parent = self.policy.check_dial(number, transfer_parent,
                                        started=self.connection.started)
        headers = header_pairs(extra_headers)
        await self.policy.auto_hold(except_session=None)
        self.policy.dialled()
        media = self.new_media()
        offer = await media.create_offer()
        leg: CallLeg = self.signal(
            lambda ua, now: ua.invite(number.strip(), offer.encode(), now, extra_headers=headers))
        number_dialled = number_of(leg)
        entry = next((e for e in self.config.directory if e.number == number_dialled), None)
        session = Session(self, leg, media,
                          outbound_status(leg, entry, parent, self.devices.name))
        self._add(session)
        self.calls.current_id = session.call_id
        return session

    # ----- per-call methods (the SDK's PhoneOperator takes a call id) -------------------------
    # A call id nobody has: False, as the SDK's; answer raises -211 (its Result).
    async def answer(self, call_id: str, *, extra_headers: Sequence[ExtraHeader] = (),
                     input: str | int | None = None,
                     output: str | int | None = None) -> Session:
        """:meth:`Session.answer` of ``call_id``; raises AgentConsoleError -211 if none."""
        return await self.get_session(call_id).answer(extra_headers=extra_headers,
                                                      input=input, output=output)

    def reject(self, call_id: str, code: int | None = None) -> bool:
        return self._apply(call_id, lambda s: s.reject(code))

    def hangup(self, call_id: str) -> bool:
        return self._apply(call_id, lambda s: s.hangup())

    def terminate(self, call_id: str, kind: str = "terminate") -> bool:
        return self._apply(call_id, lambda s: s.terminate(kind))

    def mute(self, call_id: str) -> bool:
        return self._apply(call_id, lambda s: s.mute())

    def unmute(self, call_id: str) -> bool:
        return self._apply(call_id, lambda s: s.unmute())

    async def hold(self, call_id: str) -> bool:
        return await self._await(call_id, lambda s: s.hold())

    async def unhold(self, call_id: str) -> bool:
        return await self._await(call_id, lambda s: s.unhold())

    async def dtmf(self, call_id: str, digits: str) -> bool:
        return await self._await(call_id, lambda s: s.dtmf(digits))

    async def blind_transfer(self, call_id: str, number: str) -> bool:
        return await self._await(call_id, lambda s: s.blind_transfer(number))

    async def attended_transfer(self, call_id: str, number: str | None = None) -> bool:
        """Complete the attended transfer whose consult leg is ``call_id`` (as the SDK)."""
        return await self._await(call_id, lambda s: s.attended_transfer(number))

    async def start_record(self, call_id: str) -> bool:
        return await self._await(call_id, lambda s: s.start_record())

    async def pause_record(self, call_id: str) -> bool:
        return await self._await(call_id, lambda s: s.pause_record())

    def set_session_static_status(self, call_id: str, *, name: str | None = None,
                                  avatar: str | None = None, company: str | None = None,
                                  manual: bool = False) -> bool:
        """:meth:`Session.set_static_status` of ``call_id`` (``manual`` = the SDK's
        ``startManualModel``)."""
        return self._apply(call_id, lambda s: s.set_static_status(
            name=name, avatar=avatar, company=company, manual=manual))

    def _apply(self, call_id: str, action: Callable[[Session], object]) -> bool:
        """``action`` on the call; its bool answer, True for a fluent one; False if none."""
        session = self.sessions.get(call_id)
        if session is None:
            return False
        result = action(session)
        return result if isinstance(result, bool) else True

    async def _await(self, call_id: str,
                     action: Callable[[Session], Awaitable[object]]) -> bool:
        session = self.sessions.get(call_id)
        if session is None:
            return False
        result = await action(session)
        return result if isinstance(result, bool) else True

    # ----- what a Session may ask of its phone (host.CallHost) ------------------------------
    def new_media(self, offer: bytes | None = None, *, profile: str | None = None
                  ) -> MediaEngine:
        """A media engine: the one serving ``offer`` (a new call's, or a re-offer moving a
        call to another profile), else ``profile`` (default ``media.profile``)."""
        flow = self.transport.local_address if self.transport is not None else None
        return new_media_engine(self.config, self.devices.open(), offer=offer,
                                profile=profile, local_host=flow[0] if flow else None)

    def clock(self) -> float:
        """Monotonic seconds (the loop's clock): timers and rate limits use it."""
        return asyncio.get_running_loop().time()

    def signal(self, action: Callable[[UserAgent, float], T]) -> T:
        """Run ``action(ua, now)`` on the sans-IO core, then send what it queued."""
        return self.connection.signal(action)

    async def before_answer(self, session: Session) -> None:
        self.policy.check_answer(session)
        await self.policy.auto_hold(except_session=session)

    async def before_resume(self, session: Session) -> None:
        await self.policy.auto_hold(except_session=session)

    def session_confirmed(self, session: Session) -> None:
        self.calls.current_id = session.call_id

    def session_finished(self, session: Session, cause: str) -> None:
        self.calls.remove(session)
        for consult in self.calls.consults_of(session):  # a parent's hang-up ends them
            consult.hangup()
        status = session.status
        if status.communication_type == "inbound" and not session.established \
                and cause in MISSED_CAUSES:
            self.emit("missed", {"call_id": session.call_id, "number": status.number,
                                 "name": status.name, "cause": cause})
        self.devices.ring(bool(self.incoming_list))
        self.emit("delete_session", {"call_id": session.call_id, "cause": cause})

    # ----- events of the core ---------------------------------------------------------------
    def _on_transport_state(self, state: TransportState, reason: str) -> None:
        if state == TransportState.CONNECTED:
            self.emit("connected")
        elif state in (TransportState.DISCONNECTED, TransportState.CLOSED):
            self.emit("disconnected", reason)

    def _on_ua_event(self, event: ev.UAEvent) -> None:
        if isinstance(event, ev.RegistrationStateChanged):
            self._on_registration(event)
        elif isinstance(event, ev.CallIncoming):
            if not self._replacements.handle(event):
                self._ring(event)
        elif isinstance(event, ev.CallEvent):
            self.calls.dispatch(event)
        elif isinstance(event, ev.IncomingRequest):
            self._not_implemented(event)
        elif isinstance(event, ev.MessageDropped):
            logger.debug("dropped a message from %s: %s", event.source, event.reason)

    def _on_registration(self, event: ev.RegistrationStateChanged) -> None:
        if self._first_outcome is not None:
            self._first_outcome.offer(event)
        self._set_registered(event.registered)
        if event.registered:
            self.last_failure = None
            self.emit("registered", event.expires)
        elif event.final:
            self.emit("unregistered")
        else:
            failure = RegistrationFailure(event.status, _cause(event.status, event.reason),
                                          event.retry_in)
            self.last_failure = failure
            self.emit("registration_failed", failure)

    def _set_registered(self, registered: bool) -> None:
        if registered != self._is_registered:
            self._is_registered = registered
            self.emit("is_registered_change", registered)

    def _not_implemented(self, event: ev.IncomingRequest) -> None:
        """Requests the core passed up that no layer handles yet (MESSAGE ...)."""
        response = make_response(event.request, 501, to_tag=uuid.uuid4().hex[:10])
        self.signal(lambda ua, now: ua.send_response(event.transaction,  # type: ignore[arg-type]
                                                     response, now))

    # ----- incoming calls -------------------------------------------------------------------
    def _ring(self, event: ev.CallIncoming, *, replacing: bool = False) -> Session | None:
        """A new inbound call: refuse it (agent state, full, media) or let it ring."""
        leg = event.leg
        refusal = self.policy.refusal(replacing=replacing)
        if refusal is not None:
            code, reason = refusal
            self.signal(lambda ua, now: ua.reject(leg, code, now))
            self._emit_refused(leg, code, reason)
            return None
        if leg.remote_sdp:
            from ..media.sdp import MediaNegotiationError, check_offer_supported

            try:
                check_offer_supported(leg.remote_sdp.decode("utf-8", "replace"))
            except MediaNegotiationError as exc:
                status, warning = exc.status, exc.header
                self.signal(lambda ua, now: ua.reject(leg, status, now, warning=warning))
                self._emit_refused(leg, status, f"Incompatible media: {exc.warning}")
                return None
        media = self.new_media(leg.remote_sdp)  # the offer decides: WebRTC or plain RTP
        session = Session(self, leg, media, inbound_status(leg, self.devices.name))
        self._add(session)
        self.signal(lambda ua, now: ua.ring(leg, now))
        if self.config.calls.no_answer_s > 0:
            session.arm_no_answer(self.config.calls.no_answer_s,
                                  lambda: self._no_answer(session))
        session.on("status_change", self._on_ring_change)
        self.devices.ring(True)
        self.emit("incoming", session)
        return session

    def _emit_refused(self, leg: CallLeg, code: int, reason: str) -> None:
        """``refused``: a call turned away before any Session existed (for history)."""
        ident = identity_of(leg)
        self.emit("refused", {"call_id": leg.call_id, "number": ident.number,
                              "name": ident.name or ident.number, "code": code,
                              "reason": reason})

    def _no_answer(self, session: Session) -> None:
        """``calls.no_answer_s`` ran out while the call rang: 480, and maybe auto-Away."""
        if session.status.is_ring and not session.is_ended:
            session.expire_unanswered(480)
            self.agent.call_missed()

    def _on_ring_change(self, new: CallStatus, old: CallStatus) -> None:
        if new.is_ring != old.is_ring:  # answered (or ended): maybe the last one ringing
            self.devices.ring(bool(self.incoming_list))

    def _add(self, session: Session) -> None:
        self.calls.add(session)
        self.emit("new_session", session)


def _cause(status: int, reason: str) -> str:
    """A readable cause, in the seed's vocabulary where one exists."""
    if status in (401, 407):
        return f"Authentication Error ({status} {reason})".strip()
    if status == 403:
        return f"Rejected ({status} {reason})"
    if status == 408:
        return "Request Timeout"
    if status == 503 and "transport" in reason.lower():
        return "Connection Error"
    return f"{status} {reason}".strip()
