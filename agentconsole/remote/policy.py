"""What happens to new calls while nobody sees the console (``remote.on_detach``).

``away`` (the default): on detach the agent state becomes Away with reason "detached",
so new calls are refused with ``agent.away_code`` (the queue hunts on to another agent)
and filed in the history as turned away; calls in progress are not touched. On
re-attach the state the agent had before comes back. ``keep``: nothing changes.

Only the phone's public agent API is used (``phone.agent``, one model for the console,
the control socket and a script, and its ``agent_state_change`` event). Restoring is
careful not to undo a choice made meanwhile: if the state was changed while detached (by
the control socket, say) the saved one is forgotten. After-call work is the one state
that may stand between: a call that ended while detached starts its wrap-up (ACW), which
remembers the state before it — "Away: detached" — and returns there when the wrap-up is
filed; being attached again by then, the policy restores the saved state at that moment.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..softphone.api import AgentStatus, PhoneAPI

log = logging.getLogger(__name__)

#: The Away reason a detach sets (and the only one this policy ever undoes).
DETACHED_REASON = "detached"
POLICIES = ("away", "keep")


class DetachPolicy:
    """``detached()`` / ``attached()`` from the link; the rest follows the phone."""

    def __init__(self, phone: PhoneAPI, mode: str = "away") -> None:
        if mode not in POLICIES:
            raise ValueError(f"remote.on_detach must be one of {POLICIES}, not {mode!r}")
        self.phone = phone
        self.mode = mode
        self.attached_now = True
        #: The (state, reason) to return to on re-attach; None when there is nothing to undo.
        self.saved: tuple[str, str | None] | None = None
        phone.on("agent_state_change", self._on_change)

    def _current(self) -> tuple[str, str | None]:
        state = self.phone.agent.state
        return str(state.status), state.reason or None

    def _is_detached_away(self, state: str, reason: str | None) -> bool:
        return state == "away" and reason == DETACHED_REASON

    def detached(self) -> None:
        self.attached_now = False
        if self.mode != "away":
            return
        state, reason = self._current()
        if self._is_detached_away(state, reason):
            return  # already (a second detach before any re-attach)
        self.saved = (state, reason)
        log.info("detached: agent state %s -> away (%s)", state, DETACHED_REASON)
        self.phone.agent.set(AgentStatus.AWAY, DETACHED_REASON)

    def attached(self) -> None:
        self.attached_now = True
        if self.saved is not None and self._is_detached_away(*self._current()):
            self._restore()

    def _restore(self) -> None:
        saved, self.saved = self.saved, None
        if saved is None or not self._is_detached_away(*self._current()):
            return
        log.info("attached: agent state back to %s", saved[0])
        self.phone.agent.set(saved[0], saved[1])

    def _on_change(self, state: str, reason: str | None = None, *_: Any) -> None:
        if self.saved is None:
            return
        if self._is_detached_away(state, reason):
            if self.attached_now:  # ACW ended into the detach state: undo it now
                # Not from inside this event: its other listeners have yet to see it.
                asyncio.get_running_loop().call_soon(self._restore)
            return
        if state != "acw":
            self.saved = None  # someone chose a state meanwhile: theirs stands
