"""The rules between a phone's calls (``reference/sdk-parity.md`` §3.2–3.4).

Each is the SDK's, configurable under ``calls:`` where a call centre would want
another policy:

* answering or dialling auto-holds the talking call (``calls.auto_hold``), so at most
  one call is un-held;
* at most ``calls.max_calls`` calls (ringing inbound + non-consult calls); consult legs
  of an attended transfer are exempt, and so is an INVITE with Replaces (it takes the
  place of a call); a full phone answers a new INVITE 486 before any Session exists;
* the agent's state refuses new calls first (:mod:`.agent`);
* guards with the SDK's codes: -201 before the phone is started, -210 while an
  outbound call is still unanswered, -209 for an empty number, -208 for more than one
  dial per ``calls.dial_rate_limit_s``, -205 when full, -207 when a consult's parent
  is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..errors import AgentConsoleError, PhoneError

if TYPE_CHECKING:
    from ..config import CallsConfig
    from .agent import Agent
    from .session import Session

logger = logging.getLogger(__name__)

#: What a full phone answers a new call (RFC 3261 §21.4.24 Busy Here).
BUSY_CODE = 486


class CallPolicy:
    """The phone's rules, applied to its calls (``sessions``) and its ``agent``."""

    def __init__(self, config: CallsConfig, sessions: Mapping[str, Session], agent: Agent,
                 clock: Callable[[], float]) -> None:
        self.config = config
        self._sessions = sessions
        self._agent = agent
        self._clock = clock
        self._last_dial: float | None = None

    @property
    def is_max_call(self) -> bool:
        """As many calls as ``calls.max_calls`` allows (consult legs not counted)."""
        counted = [s for s in self._sessions.values() if not s.status.is_transfer]
        return len(counted) >= self.config.max_calls

    # ----- dialling ----------------------------------------------------------------------
    def check_dial(self, number: str, transfer_parent: str | None, *,
                   started: bool) -> Session | None:
        """Raise the SDK's error when ``number`` may not be dialled now; return the
        consult leg's parent call (None for an ordinary call)."""
        if not started:
            raise AgentConsoleError.from_code(PhoneError.REGISTRY_FAILED,
                                              "the phone is not started")
        if self._unanswered_outbound(None):
            raise AgentConsoleError.from_code(PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED)
        if not number or not number.strip():
            raise AgentConsoleError.from_code(PhoneError.INVALID_NUMBER)
        limit = self.config.dial_rate_limit_s
        if limit and self._last_dial is not None and self._clock() - self._last_dial < limit:
            raise AgentConsoleError.from_code(PhoneError.CALL_TOO_MANY_TIMES)
        if transfer_parent is not None:
            parent = self._sessions.get(transfer_parent)
            if parent is None or parent.is_ended:
                raise AgentConsoleError.from_code(PhoneError.ATTENDED_PARENT_NOT_FOUND)
            return parent
        if self.is_max_call:
            raise AgentConsoleError.from_code(PhoneError.MAX_LIMIT_CALL)
        return None

    def dialled(self) -> None:
        """A call was placed now (the rate limit counts from here)."""
        self._last_dial = self._clock()

    # ----- incoming ----------------------------------------------------------------------
    def refusal(self, *, replacing: bool = False) -> tuple[int, str] | None:
        """The status and reason to refuse a new call with, or None to let it ring."""
        if replacing:  # a replacing call takes another's place: it was accepted already
            return None
        code = self._agent.refusal_code()
        if code is not None:
            return code, self._agent.state.refusal_reason()
        if self.is_max_call:
            return BUSY_CODE, f"Busy: {self.config.max_calls} calls already"
        return None

    # ----- answering and holding ----------------------------------------------------------
    def check_answer(self, session: Session) -> None:
        """-210 while an outbound call is still unanswered (the SDK's guard)."""
        if self._unanswered_outbound(session):
            raise AgentConsoleError.from_code(PhoneError.CURRENT_CALL_HAS_NOT_CONNECTED)

    async def auto_hold(self, except_session: Session | None) -> None:
        """Hold every talking, un-held call except ``except_session`` (``auto_hold``)."""
        if not self.config.auto_hold:
            return
        for other in list(self._sessions.values()):
            if other is except_session or other.is_ended or not other.established:
                continue
            if other.status.call_status == "talking" and not other.status.is_hold \
                    and not other.hold_pending:  # a hold already on its way is enough
                try:
                    await other.hold()
                except AgentConsoleError as exc:
                    logger.warning("auto-hold of %s failed: %s", other.call_id, exc)

    def _unanswered_outbound(self, besides: Session | None) -> bool:
        return any(s.status.communication_type == "outbound" and not s.established
                   and s is not besides for s in self._sessions.values())
