"""Value types of a call: CallStatus, TimerType, TransferParent, and the timer arithmetic.

Field names are the SDK's in snake_case (``reference/sdk-parity.md`` §2). Every value a
Session event carries names its call, as the SDK's event payloads do (``{callId, ...}``):
``CallStatus``, ``StaticCallStatus`` and ``TimerType`` have a ``call_id`` field and the
``progress`` status code is a :class:`ProgressStatus`, an ``int`` with a ``call_id``, so
listeners written for the bare values keep working. The timer
rules are a pure function so they can be tested with a fake clock; where the SDK is
weak we do better and say so:

* ``ring_duration`` also counts an inbound call's ringing (the SDK counts only an
  outbound call's 180/183 time, so an agent never sees how long a caller waited);
* ``call_duration`` counts talking time and is *not* reset by a hold (the SDK resets
  it whenever the status leaves "talking"); ``hold_duration`` is the current hold
  spell, as in the SDK.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

CallState = Literal["ringing", "calling", "talking", "connecting", "ended"]
RecordStatus = Literal["stop", "recording", "pause", "unknown"]


@dataclass(frozen=True)
class TransferParent:
    """Snapshot of the parent call when a consult leg is placed (SDK TransferParentType)."""

    call_id: str
    name: str
    number: str
    avatar: str = ""
    call_duration: float = 0.0
    hold_duration: float = 0.0


@dataclass(frozen=True)
class StaticCallStatus:
    """What ``static_status_change(new, old)`` carries: the fields manual mode protects."""

    name: str = ""
    avatar: str = ""
    company: str = ""
    call_id: str = ""


@dataclass(frozen=True)
class CallStatus:
    """Everything the UI shows about a call. Immutable: changes make a new value."""

    call_id: str
    number: str
    communication_type: Literal["outbound", "inbound"]
    name: str = ""
    avatar: str = ""
    company: str = ""
    is_video: bool = False
    is_ring: bool = False
    is_hold: bool = False
    is_mute: bool = False
    call_status: CallState = "calling"
    call_start_time: int = 0  # ms epoch of creation (the SDK's meaning)
    answer_time: int | None = None  # ms epoch of the answer (what the SDK's docs promise)
    record_status: RecordStatus = "stop"
    is_transfer: bool = False
    transfer_parent: TransferParent | None = None
    is_conference: bool = False
    # beyond the SDK
    remote_hold: bool = False
    audio_device: str = ""
    queue: str = ""
    did: str = ""
    codec: str = ""

    def merged(self, **changes: Any) -> CallStatus:
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown CallStatus field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class TimerType:
    """Seconds (SDK TimerType), of the call ``call_id``."""

    ring_duration: float = 0.0
    calling_duration: float = 0.0
    call_duration: float = 0.0
    hold_duration: float = 0.0
    call_id: str = ""


class ProgressStatus(int):
    """The status code of a provisional response (180, 183): ``progress``'s payload.

    An ``int`` (``status in (180, 183)`` works) that also names its call and reason.
    """

    call_id: str
    reason: str

    def __new__(cls, status: int, call_id: str, reason: str = "") -> ProgressStatus:
        value = super().__new__(cls, status)
        value.call_id = call_id
        value.reason = reason
        return value

    @property
    def status_code(self) -> int:
        return int(self)


def advance_timer(timer: TimerType, status: CallStatus, dt: float) -> TimerType:
    """The timer after ``dt`` seconds spent in ``status``."""
    if dt <= 0:
        return timer
    ring = timer.ring_duration
    calling = timer.calling_duration
    talk = timer.call_duration
    hold = timer.hold_duration
    state = status.call_status
    if status.is_ring or state == "ringing":
        ring += dt
    if state == "calling":
        calling += dt
    if state == "talking":
        talk += dt
        hold = hold + dt if status.is_hold else 0.0
    else:
        hold = 0.0
    return TimerType(ring, calling, talk, hold, timer.call_id)


@dataclass
class SessionTicker:
    """Accumulates real elapsed time into a TimerType (catches up after a stall)."""

    started_at: float
    timer: TimerType = field(default_factory=TimerType)
    last: float = 0.0
    stopped: bool = False

    def __post_init__(self) -> None:
        self.last = self.started_at

    def tick(self, now: float, status: CallStatus) -> TimerType:
        if not self.stopped:
            self.timer = advance_timer(self.timer, status, now - self.last)
            self.last = now
        return self.timer
