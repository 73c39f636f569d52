"""The one media interface of a call, whichever stack runs it.

:class:`MediaEngine` is what the softphone's Session and its parts ask of a call's
media — offer/answer (RFC 3264), hold directions, mute, DTMF, local ringback, the taps
the recorder listens on, the call report — and nothing more. Both stacks provide it:
:class:`.peer.MediaSession` (WebRTC through aiortc) and :class:`.plain.PlainMediaSession`
(plain RTP and SDES-SRTP on our engine); the assignments at the bottom of this module
are checked by mypy, so a member one of them lacks is a type error, not a runtime one.
:func:`.profile.media_profile` picks the stack for a new call.

Callbacks the Session sets: ``on_connection_state(state)`` ("connecting", "connected",
"failed", "timeout" — plain RTP only: nothing came for ``media.rtp_timeout_s`` —,
"closed") and ``on_dtmf(digit, duration_ms)`` (each RFC 4733 digit received, once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import av

    from .ringer import RingTone
    from .stats import Report

#: A frame listener: sees every frame sent (local) or heard (remote) by the call.
Tap = Callable[["av.AudioFrame"], None]


class MediaTaps(Protocol):
    """Where a listener of a call's audio plugs in (the recorder needs only this)."""

    def add_local_tap(self, tap: Tap) -> None: ...
    def remove_local_tap(self, tap: Tap) -> None: ...
    def add_remote_tap(self, tap: Tap) -> None: ...
    def remove_remote_tap(self, tap: Tap) -> None: ...


@runtime_checkable
class MediaEngine(MediaTaps, Protocol):
    """The media of one call, as the softphone uses it (see the module doc)."""

    call_id: str
    extension: str
    on_connection_state: Callable[[str], None] | None
    on_dtmf: Callable[[str, int], None] | None

    @property
    def profile(self) -> str:
        """Which media the call runs: "webrtc", "rtp" or "srtp" (:mod:`.profile`)."""
    @property
    def codec(self) -> str | None:
        """The negotiated codec ("opus", "G722", "PCMU", "PCMA"), None before."""
    @property
    def dtmf_payload_type(self) -> int | None:
        """The telephone-event payload type we send (RFC 4733), None if not agreed."""
    @property
    def connected(self) -> bool:
        """Media can flow (WebRTC: ICE + DTLS up; plain: a negotiation gave an address)."""
    @property
    def frames_received(self) -> int:
        """Audio frames heard from the far end so far (diagnostics, tests)."""

    # offer/answer (RFC 3264): initial, early (183) and final answers, re-INVITEs
    def serves(self, offer: str) -> bool:
        """Whether this stack is the one to answer ``offer`` (RFC 3264 §8): False only
        when the other stack would, so a re-offer of another profile (a PBX moving the
        call to another media server) gets a new engine instead of a 488."""
    async def create_offer(self) -> str: ...
    async def accept_answer(self, sdp: str) -> None: ...
    async def accept_offer(self, sdp: str) -> str: ...
    async def accept_reoffer(self, sdp: str) -> str: ...
    async def create_reoffer(self, direction: str) -> str: ...
    async def rollback(self) -> None: ...

    # local controls, local ringback (RFC 3960), DTMF
    def set_muted(self, muted: bool) -> None: ...
    def set_sending(self, sending: bool) -> None: ...
    def start_ringback(self, tone: RingTone | None) -> None: ...
    def stop_ringback(self) -> None: ...
    async def send_dtmf(self, digits: str, *, duration_ms: int = ..., gap_ms: int = ...
                        ) -> None: ...

    # close hooks, the call report, the end
    def add_close_hook(self, hook: Callable[[], None]) -> None: ...
    async def report(self, previous: Report | None = None) -> Report: ...
    async def close(self) -> None: ...


if TYPE_CHECKING:  # both stacks satisfy the interface (checked by mypy)
    from .peer import MediaSession
    from .plain import PlainMediaSession

    def _webrtc(media: MediaSession) -> MediaEngine:
        return media

    def _plain(media: PlainMediaSession) -> MediaEngine:
        return media
