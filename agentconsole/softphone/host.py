"""The two narrow interfaces a call depends on: its phone and its media engine.

A :class:`~.session.Session` never reaches into :class:`~.phone.Phone`: everything it
may ask of the phone is the :class:`CallHost` protocol below — signalling through the
one sans-IO user agent, the clock, the configuration, the policies that involve other
calls (the -210 answer guard, auto-hold), the other calls of a transfer pair, and
reporting that it ended. A test can hand a Session any object with these members.

Likewise the media part of a call talks to :class:`MediaEngine`, the subset of
:class:`~agentconsole.media.peer.MediaSession` (aiortc) that calls use, so a second
engine (plain RTP, SDES-SRTP) slots in without a change here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from ..config import Config
    from ..media.stats import Report
    from ..sip.ua import UserAgent
    from .devices import AudioDevices
    from .session import Session

T = TypeVar("T")

#: An extra SIP header: ``("X-Ticket", "42")`` or ``"X-Ticket: 42"``.
ExtraHeader = str | tuple[str, str]
#: A media frame handed to a tap (``av.AudioFrame`` for the aiortc engine).
FrameTap = Callable[[Any], None]


class CallHost(Protocol):
    """What a call may ask of its phone."""

    @property
    def config(self) -> Config:
        """The phone's configuration (calls, media, recording policies)."""

    @property
    def sessions(self) -> Mapping[str, Session]:
        """Every call of the phone by call id (a consult leg finds its parent here)."""

    @property
    def incoming_list(self) -> list[Session]:
        """Inbound calls still ringing (the SDK's ``session.incomingList``)."""

    @property
    def devices(self) -> AudioDevices:
        """The phone's sound devices (an answer may pick the headset)."""

    def clock(self) -> float:
        """Monotonic seconds: timers and rate limits use it."""

    def signal(self, action: Callable[[UserAgent, float], T]) -> T:
        """Run ``action(ua, now)`` on the phone's SIP user agent and send what it queued.

        Raises :class:`~agentconsole.errors.AgentConsoleError` (-201) when the phone is
        not started.
        """

    async def call(self, number: str, *, extra_headers: Sequence[ExtraHeader] = (),
                   transfer_parent: str | None = None) -> Session:
        """Place a new call (a transfer we were asked to make places one)."""

    async def before_answer(self, session: Session) -> None:
        """Policies before ``session`` is answered: raises -210 while an outbound call is
        still unanswered, then holds the talking call (``calls.auto_hold``)."""

    async def before_resume(self, session: Session) -> None:
        """Policies before ``session`` is taken off hold: hold the talking call."""

    def session_confirmed(self, session: Session) -> None:
        """``session`` is talking now: it becomes the phone's current call."""

    def session_finished(self, session: Session, cause: str) -> None:
        """``session`` ended (or was destroyed): forget it, emit ``delete_session``."""


class MediaEngine(Protocol):
    """The media of one call, as a Session uses it (offer/answer, hold, DTMF, taps)."""

    call_id: str
    extension: str
    on_connection_state: Callable[[str], None] | None
    on_dtmf: Callable[[str, int], None] | None

    @property
    def codec(self) -> str | None: ...

    @property
    def dtmf_payload_type(self) -> int | None: ...

    async def create_offer(self) -> str: ...

    async def accept_offer(self, sdp: str) -> str: ...

    async def accept_answer(self, sdp: str) -> None: ...

    async def accept_reoffer(self, sdp: str) -> str: ...

    async def create_reoffer(self, direction: str) -> str: ...

    async def rollback(self) -> None: ...

    def set_muted(self, muted: bool) -> None: ...

    def set_sending(self, sending: bool) -> None: ...

    async def send_dtmf(self, digits: str, *, duration_ms: int = ...,
                        gap_ms: int = ...) -> None: ...

    def add_local_tap(self, tap: FrameTap) -> None: ...

    def remove_local_tap(self, tap: FrameTap) -> None: ...

    def add_remote_tap(self, tap: FrameTap) -> None: ...

    def remove_remote_tap(self, tap: FrameTap) -> None: ...

    def add_close_hook(self, hook: Callable[[], None]) -> None: ...

    async def report(self, previous: Report | None = None) -> Report: ...

    async def close(self) -> None: ...
