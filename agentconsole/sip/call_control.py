"""The call API of :class:`~.ua.UserAgent`: one method per call action, each passing the
caller's ``now`` to the UA's :class:`~.invite_server.CallManager`.

Kept apart from the call manager so that the UA's public surface reads in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .invite import CallLeg

if TYPE_CHECKING:
    from .invite_server import CallManager
    from .transfer import ReplacesSpec


class CallControl:
    """The call API of :class:`~.ua.UserAgent` (mixed in; delegates to its
    :class:`CallManager`). Every method takes the caller's ``now``; none raises for a
    leg in a state it cannot act on."""

    calls: CallManager

    def invite(self, target: str, sdp: bytes, now: float, *,
               extra_headers: Sequence[tuple[str, str]] = (), call_id: str | None = None,
               replaces: str | None = None) -> CallLeg:
        """Call ``target`` (``1002``, ``sip:1002@host``, ``tel:+49...``) offering ``sdp``."""
        return self.calls.invite(target, sdp, now, extra_headers=extra_headers,
                                 call_id=call_id, replaces=replaces)

    def cancel(self, leg: CallLeg, now: float) -> None:
        self.calls.cancel(leg, now)

    def ring(self, leg: CallLeg, now: float, status: int = 180) -> None:
        self.calls.ring(leg, now, status)

    def answer(self, leg: CallLeg, sdp: bytes, now: float, *,
               extra_headers: Sequence[tuple[str, str]] = ()) -> None:
        self.calls.answer(leg, sdp, now, extra_headers=extra_headers)

    def reject(self, leg: CallLeg, status: int, now: float, reason: str | None = None, *,
               warning: str | None = None) -> None:
        self.calls.reject(leg, status, now, reason, warning=warning)

    def hangup(self, leg: CallLeg, now: float) -> None:
        self.calls.hangup(leg, now)

    def reinvite(self, leg: CallLeg, sdp: bytes, now: float) -> None:
        self.calls.reinvite(leg, sdp, now)

    def answer_reinvite(self, leg: CallLeg, sdp: bytes | None, now: float,
                        status: int = 200, *, warning: str | None = None) -> None:
        self.calls.answer_reinvite(leg, sdp, now, status, warning=warning)

    def send_info(self, leg: CallLeg, content_type: str, body: bytes, now: float) -> None:
        self.calls.send_info(leg, content_type, body, now)

    # transfer (:mod:`.transfer`)
    def refer(self, leg: CallLeg, refer_to: str, now: float, *,
              replaces: ReplacesSpec | None = None, referred_by: str | None = None,
              refer_sub: bool = True) -> bool:
        """REFER in the call: blind (no ``replaces``) or attended transfer."""
        return self.calls.refer(leg, refer_to, now, replaces=replaces,
                                referred_by=referred_by, refer_sub=refer_sub)

    def accept_refer(self, leg: CallLeg, now: float) -> bool:
        return self.calls.accept_refer(leg, now)

    def reject_refer(self, leg: CallLeg, status: int, now: float) -> bool:
        return self.calls.reject_refer(leg, status, now)

    def notify_refer_progress(self, leg: CallLeg, status: int, reason: str,
                              now: float) -> bool:
        return self.calls.notify_refer_progress(leg, status, reason, now)


__all__ = ["CallControl"]
