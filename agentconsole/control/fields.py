"""What the control socket says about a call and the phone: plain JSON-ready dicts.

One function per shape, so ``status``, every call action's result and every event carry
the same field names (README "Integration" lists them): :func:`call_fields` for a call,
:func:`report_fields` for a call report, :func:`phone_status` for the ``status`` snapshot.
They read only the public Phone/Session API (``status``, ``timer``, ``call_report``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol


class SessionLike(Protocol):
    """The part of a Session the control layer reads."""

    @property
    def call_id(self) -> str: ...
    @property
    def status(self) -> Any: ...
    @property
    def timer(self) -> Any: ...
    @property
    def is_ended(self) -> bool: ...


def _round(value: Any) -> float:
    return round(float(value or 0.0), 1)


def timer_fields(timer: Any) -> dict[str, float]:
    """The call's timers in seconds (SDK TimerType, one decimal)."""
    return {"ring": _round(getattr(timer, "ring_duration", 0.0)),
            "calling": _round(getattr(timer, "calling_duration", 0.0)),
            "talk": _round(getattr(timer, "call_duration", 0.0)),
            "hold": _round(getattr(timer, "hold_duration", 0.0))}


def call_fields(session: SessionLike) -> dict[str, Any]:
    """A call as the socket shows it (``status`` lists these; events carry them)."""
    status = session.status
    parent = getattr(status, "transfer_parent", None)
    return {
        "call_id": session.call_id,
        "direction": status.communication_type,
        "number": status.number,
        "name": status.name,
        "company": status.company,
        "queue": getattr(status, "queue", ""),
        "did": getattr(status, "did", ""),
        "call_status": status.call_status,
        "is_ring": status.is_ring,
        "is_hold": status.is_hold,
        "is_mute": status.is_mute,
        "remote_hold": getattr(status, "remote_hold", False),
        "record_status": status.record_status,
        "is_transfer": status.is_transfer,
        "transfer_parent": parent.call_id if parent is not None else None,
        "codec": getattr(status, "codec", ""),
        "start_time": status.call_start_time,
        "answer_time": status.answer_time,
        "timers": timer_fields(session.timer),
    }


def report_fields(report: Any) -> dict[str, Any]:
    """A call report (every 3 s while a call is up) as a dict of its fields."""
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        return dataclasses.asdict(report)
    return {}


def phone_status(phone: Any, *, auto_answer: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``status`` snapshot: registration, agent state, auto-answer, every call."""
    failure = getattr(phone, "last_failure", None)
    current = getattr(phone, "current_session", None)
    account = getattr(getattr(phone.config, "account", None), "aor", "")
    return {
        "account": account,
        "registered": bool(getattr(phone, "is_registered", False)),
        "registration_failure": ({"code": failure.code, "cause": failure.cause}
                                 if failure is not None else None),
        "agent_state": {"state": getattr(phone, "agent_state", "available"),
                        "reason": getattr(phone, "agent_reason", None)},
        "auto_answer": auto_answer,
        "current_call_id": current.call_id if current is not None else None,
        "calls": [call_fields(s) for s in list(phone.sessions.values()) if not s.is_ended],
    }


__all__ = ["SessionLike", "call_fields", "phone_status", "report_fields", "timer_fields"]
