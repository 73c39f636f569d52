"""The narrow interface a call has of its phone (and where its media interface is).

A :class:`~.session.Session` never reaches into :class:`~.phone.Phone`: everything it
may ask of the phone is the :class:`CallHost` protocol below — signalling through the
one sans-IO user agent, the clock, the configuration, the policies that involve other
calls (the -210 answer guard, auto-hold), the other calls of a transfer pair, and
reporting that it ended. A test can hand a Session any object with these members.
:func:`request_wait_s` is how long a call waits for the core to report on a request.

Its media it reaches only through :class:`~agentconsole.media.interface.MediaEngine`,
the one interface both media stacks (WebRTC through aiortc; plain RTP and SDES-SRTP on
our own engine) satisfy, defined beside them in ``media/`` so that mypy checks both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from ..sip.in_dialog import answer_bound

if TYPE_CHECKING:
    from ..config import Config
    from ..media.interface import MediaEngine
    from ..sip.ua import UserAgent
    from .devices import AudioDevices
    from .session import Session

T = TypeVar("T")

#: An extra SIP header: ``("X-Ticket", "42")`` or ``"X-Ticket: 42"``.
ExtraHeader = str | tuple[str, str]


def request_wait_s(config: Config) -> float:
    """How long a call waits for the SIP core's outcome of one of its in-dialog requests
    (a hold's re-INVITE, a REFER) before giving up on it. The core always reports, by
    :func:`~agentconsole.sip.in_dialog.answer_bound` (2×64·T1 from the configured T1: a
    request parked through a flow outage, then resent with a Timer B/F of its own); one
    T2 more covers the round trip of a digest or 491 retry. This wait only guards
    against a core that never reports: ending it earlier would give up on a request
    the core still carries."""
    timers = config.sip.timers()
    return answer_bound(timers) + timers.t2


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

    def new_media(self, offer: bytes | None = None, *, profile: str | None = None
                  ) -> MediaEngine:
        """A new media engine on the phone's audio devices: the stack that serves
        ``offer``, else one offering ``profile`` (default ``media.profile``). A call
        whose peer re-offers another profile moves onto one (:mod:`.call_media`)."""

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
