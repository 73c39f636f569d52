"""The phone's call policies: dialling, incoming calls, auto-hold, limits, the 1 Hz tick.

Kept apart from :mod:`agentconsole.phone` (registration and transport) so each file
has one job. The rules are the SDK's (``reference/sdk-parity.md`` §3.2–3.4), each
configurable under ``calls:`` where a call centre would want another policy:

* answering or dialling auto-holds the talking call (``calls.auto_hold``), so at most
  one call is un-held;
* at most ``calls.max_calls`` calls (ringing inbound + non-consult calls); consult legs
  of an attended transfer are exempt; a full phone answers a new INVITE 486 before any
  Session exists (as the SDK does);
* guards with the SDK's codes: -210 while an outbound call is still unanswered, -209
  for an empty number, -208 for more than one dial per ``calls.dial_rate_limit_s``,
  -205 when full, -207 when a consult's parent is gone, -211 for an unknown call id;
* an unanswered inbound call is dropped after ``calls.no_answer_s`` (480, cause
  "No Answer"); a parent's hang-up ends its consult legs;
* a call refused before any Session exists is still reported (``refused``), and an
  inbound call that ends unanswered (the caller gave up, or no-answer) is ``missed``;
  with ``agent.auto_away_on_missed`` a call ringing out makes the agent Away, since an
  agent who lets a call time out is most likely not at the desk;
* the ring tone plays while any inbound call rings (:mod:`agentconsole.media.ringer`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .call_status import CallStatus, TransferParent
from .errors import AgentConsoleError, PhoneError
from .identity import caller_identity
from .session import Session
from .sip import events as ev

if TYPE_CHECKING:
    from .config import Config, DirectoryEntry
    from .identity import CallerIdentity
    from .media.audio import AudioBackend
    from .media.ringer import Ringer
    from .sip.invite import CallLeg
    from .sip.ua import UserAgent

logger = logging.getLogger(__name__)

#: Agent states; "acw" is after-call work (wrap-up): it refuses with ``agent.acw_code``
#: unless that is null.
AGENT_STATES = ("available", "away", "acw", "dnd", "offline")
#: End causes of an inbound call that nobody answered and nobody here declined.
MISSED_CAUSES = frozenset({"Canceled", "No Answer"})
#: The Away reason set by ``agent.auto_away_on_missed``.
MISSED_CALL_REASON = "Missed call"


class CallsMixin:
    """Call handling for :class:`~agentconsole.phone.Phone` (uses its UA and emitter)."""

    config: Config
    emit: Callable[..., Any]
    audio_backend: AudioBackend | None

    def _init_calls(self) -> None:
        self.sessions: dict[str, Session] = {}
        self._by_leg: dict[str, Session] = {}
        self._current_id: str | None = None
        self._last_dial: float | None = None
        self._ticker_task: asyncio.Task[None] | None = None
        self._agent_state = "available"
        self._agent_reason: str | None = None
        self._ringer: Ringer | None = None

    # hooks provided by Phone
    def clock(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def _ua_do(self, action: Callable[[UserAgent, float], Any]) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _new_media(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    # ----- views -------------------------------------------------------------------------
    @property
    def incoming_list(self) -> list[Session]:
        """Inbound calls not answered yet, oldest first."""
        return [s for s in self.sessions.values() if s.status.is_ring]

    @property
    def current_session(self) -> Session | None:
        if self._current_id is not None:
            return self.sessions.get(self._current_id)
        return None

    @property
    def is_max_call(self) -> bool:
        counted = [s for s in self.sessions.values() if not s.status.is_transfer]
        return len(counted) >= self.config.calls.max_calls

    def get_session(self, call_id: str) -> Session:
        session = self.sessions.get(call_id)
        if session is None:
            raise AgentConsoleError.from_code(PhoneError.NOT_FOUND_CALL_ID,
                                              f"no call with id {call_id!r}")
        return session

    def set_current_session(self, call_id: str) -> None:
        self._current_id = self.get_session(call_id).call_id

    # ----- dialling ----------------------------------------------------------------------
    async def call(self, number: str, *, extra_headers: Sequence[str | tuple[str, str]] = (),
                   transfer_parent: str | None = None) -> Session:
        """Dial ``number`` (a user, number or SIP URI); returns the new Session at once.

        ``transfer_parent`` (the call id of the talking call) makes a consult leg for an
        attended transfer: the parent is held and the leg is exempt from max_calls.
        """
        parent = self._dial_guards(number, transfer_parent)
        await self._auto_hold(except_session=None)
        self._last_dial = self.clock()
        media = self._new_media()
        offer = await media.create_offer()
        headers = [_header_pair(h) for h in extra_headers]
        leg: CallLeg = self._ua_do(
            lambda ua, now: ua.invite(number.strip(), offer.encode(), now, extra_headers=headers))
        entry = self._directory_entry(_number_of(leg))
        status = CallStatus(
            call_id=leg.call_id, number=_number_of(leg), communication_type="outbound",
            call_status="calling", call_start_time=_ms_now(),
            name=entry.name if entry else _number_of(leg),
            company=(entry.company or "") if entry else "",
            audio_device=self._audio_name(),
            is_transfer=parent is not None,
            transfer_parent=_snapshot(parent) if parent is not None else None,
        )
        session = Session(self, leg, media, status)  # type: ignore[arg-type]
        self._add(session, leg)
        self._current_id = session.call_id
        return session

    def _directory_entry(self, number: str) -> DirectoryEntry | None:
        """The configured directory's entry for a dialled number (names outbound calls)."""
        for entry in self.config.directory:
            if entry.number == number:
                return entry
        return None

    def _dial_guards(self, number: str, transfer_parent: str | None) -> Session | None:
        if not getattr(self, "is_registered", False) and getattr(self, "_driver", None) is None:
            raise AgentConsoleError.from_code(PhoneError.REGISTRY_FAILED,
                                              "the phone is not started")
        if any(s.status.communication_type == "outbound" and not s.established
               for s in self.sessions.values()):
            raise AgentConsoleError.from_code(PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED)
        if not number or not number.strip():
            raise AgentConsoleError.from_code(PhoneError.INVALID_NUMBER)
        limit = self.config.calls.dial_rate_limit_s
        if limit and self._last_dial is not None and self.clock() - self._last_dial < limit:
            raise AgentConsoleError.from_code(PhoneError.CALL_TOO_MANY_TIMES)
        parent = None
        if transfer_parent is not None:
            parent = self.sessions.get(transfer_parent)
            if parent is None or parent.is_ended:
                raise AgentConsoleError.from_code(PhoneError.ATTENDED_PARENT_NOT_FOUND)
        elif self.is_max_call:
            raise AgentConsoleError.from_code(PhoneError.MAX_LIMIT_CALL)
        return parent

    # ----- incoming -----------------------------------------------------------------------
    def _on_call_incoming(self, event: ev.CallIncoming) -> None:
        leg = event.leg
        refusal = self._incoming_refusal()
        if refusal is not None:
            self._ua_do(lambda ua, now: ua.reject(leg, refusal, now))
            self._emit_refused(leg, refusal, self._refusal_reason(refusal))
            return
        if leg.remote_sdp:
            from .media.sdp import MediaNegotiationError, check_offer_supported

            try:
                check_offer_supported(leg.remote_sdp.decode("utf-8", "replace"))
            except MediaNegotiationError as exc:
                code, warning = exc.status, f'399 agentconsole "{exc.warning}"'
                self._ua_do(lambda ua, now: ua.reject(leg, code, now, warning=warning))
                self._emit_refused(leg, code, f"Incompatible media: {exc.warning}")
                return
        ident = _identity(leg)
        status = CallStatus(
            call_id=leg.call_id, number=ident.number, name=ident.name or ident.number,
            company=ident.company, queue=ident.queue, did=ident.did,
            communication_type="inbound", call_status="connecting", is_ring=True,
            call_start_time=_ms_now(), audio_device=self._audio_name(),
        )
        session = Session(self, leg, self._new_media(), status)  # type: ignore[arg-type]
        self._add(session, leg)
        self._ua_do(lambda ua, now: ua.ring(leg, now))
        if self.config.calls.no_answer_s > 0:
            session.arm_no_answer(self.config.calls.no_answer_s,
                                  lambda: self._no_answer(session))
        session.on("status_change", self._on_ring_change)
        self._update_ringer()
        self.emit("incoming", session)

    def _emit_refused(self, leg: CallLeg, code: int, reason: str) -> None:
        """``refused``: a call turned away before any Session existed (for history)."""
        ident = _identity(leg)
        self.emit("refused", {"call_id": leg.call_id, "number": ident.number,
                              "name": ident.name or ident.number, "code": code,
                              "reason": reason})

    def _refusal_reason(self, code: int) -> str:
        state = self._agent_state
        if state == "dnd":
            return "Do not disturb"
        if state == "away":
            return f"Away ({self._agent_reason})" if self._agent_reason else "Away"
        if state == "offline":
            return "Offline"
        if state == "acw":
            return "After-call work"
        return f"Busy: {self.config.calls.max_calls} calls already"

    # ----- agent state ------------------------------------------------------------------
    @property
    def agent_state(self) -> str:
        """available | away | acw | dnd | offline (the console's agent state)."""
        return self._agent_state

    @property
    def agent_reason(self) -> str | None:
        return self._agent_reason

    def set_agent_state(self, state: str, reason: str | None = None) -> None:
        """Change the agent state; DND, Away and after-call work refuse new calls
        (``agent.dnd_code`` / ``away_code`` / ``acw_code``), Offline refuses with 480.
        Emits ``agent_state_change``."""
        if state not in AGENT_STATES:
            raise AgentConsoleError(f"unknown agent state {state!r}", title="Agent state")
        old = (self._agent_state, self._agent_reason)
        self._agent_state, self._agent_reason = state, reason
        if old != (state, reason):
            self.emit("agent_state_change", state, reason)

    def _incoming_refusal(self) -> int | None:
        """The status to refuse a new call with, or None to let it ring."""
        agent = self.config.agent
        refusal = {"dnd": agent.dnd_code, "away": agent.away_code, "acw": agent.acw_code,
                   "offline": 480}.get(self._agent_state)
        if refusal is not None:
            return refusal
        counted = [s for s in self.sessions.values() if not s.status.is_transfer]
        if len(counted) >= self.config.calls.max_calls:
            return 486
        return None

    def _no_answer(self, session: Session) -> None:
        """``calls.no_answer_s`` ran out while the call rang: 480, and maybe auto-Away."""
        if session.status.is_ring and not session.is_ended:
            # Finish first: the core reports its own reject as "Rejected" at once, which
            # would file a call nobody answered as one the agent declined.
            session._finish("failed", "No Answer", 480)
            self._ua_do(lambda ua, now: ua.reject(session.leg, 480, now))
            if self.config.agent.auto_away_on_missed \
                    and self._agent_state in ("available", "acw"):
                self.set_agent_state("away", MISSED_CALL_REASON)

    def _check_can_answer(self, session: Session) -> None:
        if any(s.status.communication_type == "outbound" and not s.established
               and s is not session for s in self.sessions.values()):
            raise AgentConsoleError.from_code(PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED)

    # ----- bookkeeping ---------------------------------------------------------------------
    def _add(self, session: Session, leg: CallLeg) -> None:
        self.sessions[session.call_id] = session
        self._by_leg[leg.id] = session
        self.emit("new_session", session)
        self._ensure_ticker()

    def _dispatch_call_event(self, event: Any) -> None:
        if isinstance(event, ev.CallIncoming):
            self._on_call_incoming(event)
            return
        leg = getattr(event, "leg", None)
        session = self._by_leg.get(leg.id) if leg is not None else None
        if session is not None:
            session.on_call_event(event)

    def _set_current(self, session: Session) -> None:
        self._current_id = session.call_id

    def _session_finished(self, session: Session, cause: str) -> None:
        self.sessions.pop(session.call_id, None)
        self._by_leg.pop(session.leg.id, None)
        if self._current_id == session.call_id:
            consult = [s for s in self.sessions.values() if s.status.is_transfer]
            rest = consult or list(self.sessions.values())
            self._current_id = rest[-1].call_id if rest else None
        for other in list(self.sessions.values()):  # a parent's hang-up ends its consults
            parent = other.status.transfer_parent
            if parent is not None and parent.call_id == session.call_id:
                other.hangup()
        status = session.status
        if status.communication_type == "inbound" and not session.established \
                and cause in MISSED_CAUSES:
            self.emit("missed", {"call_id": session.call_id, "number": status.number,
                                 "name": status.name, "cause": cause})
        self._update_ringer()
        self.emit("delete_session", {"call_id": session.call_id, "cause": cause})

    async def _auto_hold(self, except_session: Session | None) -> None:
        """Hold every talking, un-held call except ``except_session`` (policy auto_hold)."""
        if not self.config.calls.auto_hold:
            return
        for other in list(self.sessions.values()):
            if other is except_session or other.is_ended or not other.established:
                continue
            if other.status.call_status == "talking" and not other.status.is_hold \
                    and not other.hold_pending:  # a hold already on its way is enough
                try:
                    await other.hold()
                except AgentConsoleError as exc:
                    logger.warning("auto-hold of %s failed: %s", other.call_id, exc)

    # ----- ring tone -------------------------------------------------------------------------
    @property
    def ringing(self) -> bool:
        """True while the ring tone is wanted (some inbound call rings, a tone is set)."""
        return self._ringer is not None and self._ringer.ringing

    def _on_ring_change(self, new: CallStatus, old: CallStatus) -> None:
        if new.is_ring != old.is_ring:  # answered (or ended): maybe the last one ringing
            self._update_ringer()

    def _update_ringer(self) -> None:
        want = bool(self.incoming_list)
        ringer = self._ringer
        if ringer is None:
            if not want or self.audio_backend is None:
                return
            from .media.ringer import Ringer

            ringer = self._ringer = Ringer(self.audio_backend, self.config.audio.ring_tone)
        ringer.update(want)

    def _audio_name(self) -> str:
        backend = self.audio_backend
        return backend.name if backend is not None else "null"

    # ----- the one 1 Hz tick -------------------------------------------------------------------
    def _ensure_ticker(self) -> None:
        if self._ticker_task is None or self._ticker_task.done():
            self._ticker_task = asyncio.get_running_loop().create_task(self._tick_loop())

    async def _tick_loop(self) -> None:
        while self.sessions:
            await asyncio.sleep(1.0)
            now = self.clock()
            for session in list(self.sessions.values()):
                session.tick(now)

    async def _end_all_calls(self) -> None:
        for session in list(self.sessions.values()):
            session.hangup()
        if self._ticker_task is not None:
            self._ticker_task.cancel()
            self._ticker_task = None


def _identity(leg: CallLeg) -> CallerIdentity:
    return caller_identity(leg.request_headers, leg.remote_identity)


def _header_pair(header: str | tuple[str, str]) -> tuple[str, str]:
    if isinstance(header, tuple):
        return header
    name, sep, value = header.partition(":")
    if not sep or not name.strip():
        raise AgentConsoleError(f"bad extra header {header!r} (want 'Name: value')",
                                title="Invalid header")
    return name.strip(), value.strip()


def _number_of(leg: CallLeg) -> str:
    uri = leg.remote_identity.uri
    user = getattr(uri, "user", None)
    return str(user) if user else str(uri)


def _snapshot(parent: Session) -> TransferParent:
    s = parent.status
    return TransferParent(call_id=s.call_id, name=s.name, number=s.number, avatar=s.avatar,
                          call_duration=parent.timer.call_duration,
                          hold_duration=parent.timer.hold_duration)


def _ms_now() -> int:
    import time

    return int(time.time() * 1000)
