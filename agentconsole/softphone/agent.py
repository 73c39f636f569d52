"""The agent's own state: Available / Away (reason) / After-call work / DND / Offline.

One model for the library and the console alike, so a script and the console always
refuse the same calls with the same code. The phone owns an :class:`Agent`
(``phone.agent``) and consults it before a new call rings; the console only shows it
and asks for changes. Peers' rules kept here (``reference/peers.md`` §3.1):

* DND, Away and after-call work refuse a new call locally, before it rings, with
  ``agent.dnd_code`` / ``agent.away_code`` / ``agent.acw_code`` (486 / 480 / 486 by
  default; a null ``acw_code`` lets calls ring during the wrap-up);
* Offline always answers **480 Temporarily Unavailable**: RFC 3261 §21.4.18 names
  "not logged in" as that status's very case, and a PBX reading 480 tries the next
  agent or voicemail. It is not tied to ``away_code`` (a centre that answers Away with
  486 so the queue hunts on still wants an Offline agent reported as unavailable);
* after-call work returns to the state the agent was in before the call (as Amazon
  Connect does since 2020) rather than forcing Available;
* with ``agent.auto_away_on_missed`` a call that rings out makes an Available (or
  wrapping-up) agent Away with the reason "Missed call": an agent who lets a call time
  out is most likely not at the desk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from ..errors import AgentConsoleError

if TYPE_CHECKING:
    from ..config import AgentConfig


class AgentStatus(StrEnum):
    """The state's name; equal to its string (``AgentStatus.DND == "dnd"``)."""

    AVAILABLE = "available"
    AWAY = "away"
    ACW = "acw"
    DND = "dnd"
    OFFLINE = "offline"

    @property
    def label(self) -> str:
        """How the agent reads it: "Available", "After-call work" ..."""
        return _LABELS[self]


_LABELS = {AgentStatus.AVAILABLE: "Available", AgentStatus.AWAY: "Away",
           AgentStatus.ACW: "After-call work", AgentStatus.DND: "DND",
           AgentStatus.OFFLINE: "Offline"}
#: What an Offline agent answers new calls (RFC 3261 §21.4.18, see the module doc).
OFFLINE_CODE = 480
#: The Away reason set by ``agent.auto_away_on_missed``.
MISSED_CALL_REASON = "Missed call"


@dataclass(frozen=True)
class AgentState:
    """One state: what, why (the Away reason), and for after-call work where to return."""

    status: AgentStatus = AgentStatus.AVAILABLE
    reason: str = ""
    #: For ACW: the state to go back to once the wrap-up is filed.
    previous: AgentState | None = None

    @property
    def label(self) -> str:
        if self.status is AgentStatus.AWAY and self.reason:
            return f"Away: {self.reason}"
        return self.status.label

    def refusal_code(self, config: AgentConfig) -> int | None:
        """The SIP status a new incoming call gets in this state, None to let it ring."""
        return {AgentStatus.DND: config.dnd_code, AgentStatus.AWAY: config.away_code,
                AgentStatus.ACW: config.acw_code,
                AgentStatus.OFFLINE: OFFLINE_CODE}.get(self.status)

    def refusal_reason(self) -> str:
        """Why a call is turned away in this state, for the ``refused`` event and history."""
        if self.status is AgentStatus.AWAY:
            return f"Away ({self.reason})" if self.reason else "Away"
        if self.status is AgentStatus.DND:
            return "Do not disturb"
        return self.status.label

    def enter_acw(self) -> AgentState:
        """After a call: ACW, remembering where to return (never nests ACW in ACW)."""
        back = self.previous if self.status is AgentStatus.ACW else self
        return AgentState(AgentStatus.ACW, "", back)

    def leave_acw(self) -> AgentState:
        if self.status is not AgentStatus.ACW:
            return self
        back = self.previous or AgentState()
        return AgentState(back.status, back.reason)


class Agent:
    """The phone's agent state: changes, refusals, auto-Away.

    Every change emits ``agent_state_change(status, reason)`` through ``emit`` (the
    phone's event emitter); ``reason`` is None unless Away has one. A filed wrap-up, the
    end of a call's after-call work, is ``wrapup`` (:meth:`wrapup_filed`).
    """

    def __init__(self, config: AgentConfig, emit: Callable[..., object]) -> None:
        self.config = config
        self._emit = emit
        self._state = AgentState()

    @property
    def state(self) -> AgentState:
        """The whole state: status, reason, and for ACW where it returns to."""
        return self._state

    def set(self, status: AgentStatus | str, reason: str | None = None) -> None:
        """Change the state; after-call work remembers the state to return to.

        Raises :class:`~agentconsole.errors.AgentConsoleError` for an unknown state.
        """
        try:
            chosen = AgentStatus(status)
        except ValueError:
            raise AgentConsoleError(f"unknown agent state {status!r}",
                                    title="Agent state") from None
        if chosen is AgentStatus.ACW:
            self._change(self._state.enter_acw())
        else:
            self._change(AgentState(chosen, reason or ""))

    def enter_acw(self) -> None:
        """A call to wrap up: after-call work (see :meth:`leave_acw`)."""
        self._change(self._state.enter_acw())

    def leave_acw(self) -> None:
        """The wrap-up is filed: back to the state before after-call work."""
        self._change(self._state.leave_acw())

    def wrapup_filed(self, call_id: str, code: str, notes: str = "", *, number: str = "",
                     name: str = "", timed_out: bool = False) -> None:
        """A wrap-up was filed for ``call_id`` (the console's form, the control socket's
        ``wrapup`` method): emits ``wrapup`` ({"call_id", "number", "name", "code",
        "notes", "timed_out"}) so every client (the control socket, hooks, a script) sees
        it the same way, whoever filed it. The phone keeps nothing; the history does."""
        self._emit("wrapup", {"call_id": call_id, "number": number, "name": name,
                              "code": code, "notes": notes, "timed_out": timed_out})

    def refusal_code(self) -> int | None:
        """The status a new call gets now (None: it may ring)."""
        return self._state.refusal_code(self.config)

    def call_missed(self) -> None:
        """A call rang out unanswered: with ``agent.auto_away_on_missed``, go Away."""
        if self.config.auto_away_on_missed \
                and self._state.status in (AgentStatus.AVAILABLE, AgentStatus.ACW):
            self.set(AgentStatus.AWAY, MISSED_CALL_REASON)

    def _change(self, state: AgentState) -> None:
        old = self._state
        self._state = state
        if (old.status, old.reason) != (state.status, state.reason):
            self._emit("agent_state_change", state.status, state.reason or None)
