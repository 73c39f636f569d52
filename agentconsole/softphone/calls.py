"""The phone's calls: the list, the current call, the one 1 Hz tick, new call statuses.

:class:`CallList` keeps every Session by call id and by SIP leg, knows which call is
current (the SDK's ``currentSession``), hands each call event of the core to its
Session, and runs the one 1 Hz tick that advances every call's timer. The functions
below build the first :class:`~.status.CallStatus` of an inbound or outbound call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import AgentConsoleError
from ..sip.uri import SipUri
from .identity import CallerIdentity, caller_identity
from .status import CallStatus, TransferParent

if TYPE_CHECKING:
    from ..config import DirectoryEntry
    from ..sip.events import CallEvent
    from ..sip.invite import CallLeg
    from .host import ExtraHeader
    from .session import Session

#: End causes of an inbound call that nobody answered and nobody here declined.
MISSED_CAUSES = frozenset({"Canceled", "No Answer"})


class CallList:
    """Every call of a phone (see the module doc); ``clock`` is the phone's."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.sessions: dict[str, Session] = {}
        self._by_leg: dict[str, Session] = {}
        self.current_id: str | None = None
        self._clock = clock
        self._ticker: asyncio.Task[None] | None = None

    @property
    def current(self) -> Session | None:
        return self.sessions.get(self.current_id) if self.current_id is not None else None

    @property
    def ringing(self) -> list[Session]:
        """Inbound calls not answered yet, oldest first."""
        return [s for s in self.sessions.values() if s.status.is_ring]

    def by_leg(self, leg_id: str) -> Session | None:
        return self._by_leg.get(leg_id)

    def add(self, session: Session) -> None:
        self.sessions[session.call_id] = session
        self._by_leg[session.leg.id] = session
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())

    def remove(self, session: Session) -> bool:
        """Forget ``session``; the current call moves to a consult leg if there is one,
        else to the newest call left. False when it was not in the list."""
        if self.sessions.pop(session.call_id, None) is None:
            return False
        self._by_leg.pop(session.leg.id, None)
        if self.current_id == session.call_id:
            consult = [s for s in self.sessions.values() if s.status.is_transfer]
            rest = consult or list(self.sessions.values())
            self.current_id = rest[-1].call_id if rest else None
        return True

    def dispatch(self, event: CallEvent) -> None:
        """Hand a call event of the core to the Session of its leg (if it is ours)."""
        session = self._by_leg.get(event.leg.id)
        if session is not None:
            session.on_call_event(event)

    def consults_of(self, session: Session) -> list[Session]:
        """The consult legs placed for ``session`` (an attended transfer under way)."""
        return [s for s in self.sessions.values()
                if s.status.transfer_parent is not None
                and s.status.transfer_parent.call_id == session.call_id]

    async def _tick_loop(self) -> None:
        while self.sessions:
            await asyncio.sleep(1.0)
            now = self._clock()
            for session in list(self.sessions.values()):
                session.tick(now)

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None


# ----- the first status of a call ----------------------------------------------------------
def inbound_status(leg: CallLeg, audio_device: str) -> CallStatus:
    """A ringing inbound call, named from its headers (P-Asserted-Identity, ...)."""
    ident = identity_of(leg)
    return CallStatus(
        call_id=leg.call_id, number=ident.number, name=ident.name or ident.number,
        company=ident.company, queue=ident.queue, did=ident.did,
        communication_type="inbound", call_status="connecting", is_ring=True,
        call_start_time=_ms_now(), audio_device=audio_device,
    )


def outbound_status(leg: CallLeg, entry: DirectoryEntry | None, parent: Session | None,
                    audio_device: str) -> CallStatus:
    """A call we place, named from the directory; a consult leg snapshots its parent."""
    number = number_of(leg)
    return CallStatus(
        call_id=leg.call_id, number=number, communication_type="outbound",
        call_status="calling", call_start_time=_ms_now(),
        name=entry.name if entry else number,
        company=(entry.company or "") if entry else "",
        audio_device=audio_device,
        is_transfer=parent is not None,
        transfer_parent=_snapshot(parent) if parent is not None else None,
    )


def identity_of(leg: CallLeg) -> CallerIdentity:
    return caller_identity(leg.request_headers, leg.remote_identity)


def header_pairs(headers: Sequence[ExtraHeader]) -> list[tuple[str, str]]:
    """``"Name: value"`` strings and pairs as pairs; a bad string is an error."""
    out = []
    for header in headers:
        if isinstance(header, tuple):
            out.append(header)
            continue
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise AgentConsoleError(f"bad extra header {header!r} (want 'Name: value')",
                                    title="Invalid header")
        out.append((name.strip(), value.strip()))
    return out


def number_of(leg: CallLeg) -> str:
    uri = leg.remote_identity.uri
    return uri.user if isinstance(uri, SipUri) and uri.user else str(uri)


def _snapshot(parent: Session) -> TransferParent:
    s = parent.status
    return TransferParent(call_id=s.call_id, name=s.name, number=s.number, avatar=s.avatar,
                          call_duration=parent.timer.call_duration,
                          hold_duration=parent.timer.hold_duration)


def _ms_now() -> int:
    return int(time.time() * 1000)
