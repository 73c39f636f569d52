"""The agent's own state: Available / Away (reason) / After-call work / DND / Offline.

Pure data and rules, no Textual: the screen shows it, the app applies the policy.
Peers' rules kept here (reference/peers.md §3.1): the header shows the state with a
timer; DND and Away refuse new calls locally (486 / 480 by default, ``agent.dnd_code`` /
``agent.away_code``); after-call work returns to the state the agent was in before the
call (as Amazon Connect does since 2020) rather than forcing Available.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..config import AgentConfig


class AgentStatus(Enum):
    AVAILABLE = "Available"
    AWAY = "Away"
    ACW = "After-call work"
    DND = "DND"
    OFFLINE = "Offline"


#: The phone's names for the states (``Phone.set_agent_state``).
LIBRARY_STATES = {
    AgentStatus.AVAILABLE: "available",
    AgentStatus.AWAY: "away",
    AgentStatus.ACW: "acw",
    AgentStatus.DND: "dnd",
    AgentStatus.OFFLINE: "offline",
}


@dataclass(frozen=True)
class AgentState:
    """One state spell: what, why (Away reason), since when (monotonic seconds)."""

    status: AgentStatus = AgentStatus.AVAILABLE
    reason: str = ""
    since: float = 0.0
    #: For ACW: the state to go back to once the wrap-up is filed.
    previous: AgentState | None = None

    @property
    def label(self) -> str:
        if self.status is AgentStatus.AWAY and self.reason:
            return f"Away: {self.reason}"
        return self.status.value

    def elapsed(self, now: float) -> float:
        return max(0.0, now - self.since)

    def refusal_code(self, config: AgentConfig) -> int | None:
        """The SIP status a new incoming call gets in this state, None to let it ring."""
        if self.status is AgentStatus.DND:
            return config.dnd_code
        if self.status in (AgentStatus.AWAY, AgentStatus.OFFLINE):
            return config.away_code
        if self.status is AgentStatus.ACW:
            return config.acw_code
        return None

    def enter_acw(self, now: float) -> AgentState:
        """After a call: ACW, remembering where to return (never nests ACW in ACW)."""
        back = self.previous if self.status is AgentStatus.ACW else self
        return AgentState(AgentStatus.ACW, "", now, back)

    def leave_acw(self, now: float) -> AgentState:
        if self.status is not AgentStatus.ACW:
            return self
        back = self.previous or AgentState()
        return AgentState(back.status, back.reason, now)


def menu_choices(config: AgentConfig) -> list[tuple[str, AgentStatus, str]]:
    """(label, status, reason) rows of the state menu, Away once per configured reason."""
    rows = [("Available", AgentStatus.AVAILABLE, "")]
    rows += [(f"Away: {reason}", AgentStatus.AWAY, reason) for reason in config.states]
    if not config.states:
        rows.append(("Away", AgentStatus.AWAY, ""))
    rows += [("After-call work", AgentStatus.ACW, ""), ("Do not disturb", AgentStatus.DND, ""),
             ("Offline", AgentStatus.OFFLINE, "")]
    return rows


def fmt_duration(seconds: float) -> str:
    """``mm:ss`` under an hour, ``h:mm:ss`` above (what an agent reads at a glance)."""
    total = int(max(0.0, seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
