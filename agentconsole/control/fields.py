"""What the control socket says about a call and the phone: plain JSON-ready dicts.

One function per shape, so ``status``, every call action's result and every event carry
the same field names (README "Integration" lists them): :func:`call_fields` for a call,
:func:`report_fields` for a call report, :func:`phone_status` for the ``status`` snapshot.
They read only the softphone's client contract (:mod:`agentconsole.softphone.api`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..softphone.api import PhoneAPI, SessionAPI, TimerType


def _round(value: float) -> float:
    return round(float(value), 1)


def timer_fields(timer: TimerType) -> dict[str, float]:
    """The call's timers in seconds (SDK TimerType, one decimal)."""
    return {"ring": _round(timer.ring_duration), "calling": _round(timer.calling_duration),
            "talk": _round(timer.call_duration), "hold": _round(timer.hold_duration)}


def call_fields(session: SessionAPI) -> dict[str, Any]:
    """A call as the socket shows it (``status`` lists these; events carry them)."""
    status = session.status
    parent = status.transfer_parent
    return {
        "call_id": session.call_id,
        "direction": status.communication_type,
        "number": status.number,
        "name": status.name,
        "company": status.company,
        "queue": status.queue,
        "did": status.did,
        "call_status": status.call_status,
        "is_ring": status.is_ring,
        "is_hold": status.is_hold,
        "is_mute": status.is_mute,
        "remote_hold": status.remote_hold,
        "record_status": status.record_status,
        "is_transfer": status.is_transfer,
        "transfer_parent": parent.call_id if parent is not None else None,
        "codec": status.codec,
        "start_time": status.call_start_time,
        "answer_time": status.answer_time,
        "timers": timer_fields(session.timer),
    }


def report_fields(report: object) -> dict[str, Any]:
    """A call report (every 3 s while a call is up) as a dict of its fields."""
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        return dataclasses.asdict(report)
    return {}


def phone_status(phone: PhoneAPI, *, account: str,
                 auto_answer: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``status`` snapshot: registration, agent state, auto-answer, every call."""
    failure = phone.last_failure
    current = phone.current_session
    agent = phone.agent.state
    return {
        "account": account,
        "registered": phone.is_registered,
        "registration_failure": ({"code": failure.code, "cause": failure.cause}
                                 if failure is not None else None),
        "agent_state": {"state": str(agent.status), "reason": agent.reason or None},
        "auto_answer": auto_answer,
        "current_call_id": current.call_id if current is not None else None,
        "calls": [call_fields(s) for s in list(phone.sessions.values()) if not s.is_ended],
    }


__all__ = ["call_fields", "phone_status", "report_fields", "timer_fields"]
