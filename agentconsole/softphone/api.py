"""The softphone as its clients see it: the console, a control socket, a detach layer.

:class:`PhoneAPI` and :class:`SessionAPI` name exactly what a client of the library
uses of :class:`~.phone.Phone` and :class:`~.session.Session`, so a client holds a
typed object (mypy checks every call) and a test can drive it with a fake that
satisfies the same protocols. The real classes satisfy them by construction: the
assignments at the bottom of this module are checked by mypy.

The value types a client reads (call status, timer, call report, devices, SIP trace
entries, an INVITE's headers) are re-exported here so clients never import the layers
below the softphone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..media.audio_base import DeviceInfo
from ..media.stats import Report
from ..sip.message import Headers
from ..transport.driver import TraceEntry, TraceHook
from .agent import Agent, AgentState, AgentStatus
from .devices import AudioRoute, LevelMeter
from .status import CallStatus, StaticCallStatus, TimerType, TransferParent

if TYPE_CHECKING:
    from .phone import RegistrationFailure

__all__ = [
    "Agent", "AgentState", "AgentStatus", "AudioRoute", "CallStatus", "DeviceInfo",
    "DevicesAPI", "Headers", "LevelMeter", "PhoneAPI", "Report", "SessionAPI",
    "StaticCallStatus", "TimerType", "TraceEntry", "TraceHook", "TransferParent",
]


class Emitter(Protocol):
    """pyee's listener API, as clients use it."""

    def on(self, event: str, f: Callable[..., Any]) -> Any: ...

    def remove_listener(self, event: str, f: Callable[..., Any]) -> None: ...


class SessionAPI(Emitter, Protocol):
    """One call, as a client drives it (see :class:`~.session.Session`)."""

    @property
    def call_id(self) -> str: ...

    @property
    def status(self) -> CallStatus: ...

    @property
    def timer(self) -> TimerType: ...

    @property
    def call_report(self) -> Report: ...

    @property
    def established(self) -> bool: ...

    @property
    def is_ended(self) -> bool: ...

    @property
    def end_code(self) -> int | None: ...

    @property
    def request_headers(self) -> Headers: ...

    @property
    def source(self) -> tuple[str, int] | None: ...

    async def answer(self) -> object: ...

    def reject(self, code: int | None = None) -> bool: ...

    def hangup(self) -> bool: ...

    async def hold(self) -> object: ...

    async def unhold(self) -> object: ...

    def mute(self) -> object: ...

    def unmute(self) -> object: ...

    async def dtmf(self, digits: str) -> bool: ...

    async def blind_transfer(self, target: str) -> bool: ...

    async def attended_transfer(self) -> bool: ...

    async def cancel_transfer(self) -> None: ...

    async def swap(self) -> None: ...

    async def start_record(self) -> bool: ...

    async def pause_record(self) -> bool: ...

    async def resume_record(self) -> bool: ...

    async def stop_record(self) -> bool: ...

    def set_static_status(self, *, name: str | None = None, avatar: str | None = None,
                          company: str | None = None, manual: bool = False) -> object: ...


class DevicesAPI(Protocol):
    """The phone's sound devices (see :class:`~.devices.AudioDevices`)."""

    @property
    def description(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def route(self) -> AudioRoute | None: ...

    @property
    def silent(self) -> bool: ...

    def available(self) -> list[DeviceInfo]: ...

    def choose(self, input: str | int | None = None, output: str | int | None = None,
               ring: str | int | None = None) -> None: ...

    def rescan(self, *, calls_up: bool = False) -> list[DeviceInfo]: ...

    def play_test_tone(self, device: DeviceInfo, seconds: float = 1.0) -> None: ...

    def open_meter(self, device: DeviceInfo) -> LevelMeter: ...

    async def beep(self) -> None: ...

    async def restore_ring(self) -> None: ...


class PhoneAPI(Emitter, Protocol):
    """One account and its calls, as a client drives it (see :class:`~.phone.Phone`)."""

    @property
    def sessions(self) -> Mapping[str, SessionAPI]: ...

    @property
    def current_session(self) -> SessionAPI | None: ...

    @property
    def incoming_list(self) -> Sequence[SessionAPI]: ...

    def get_session(self, call_id: str) -> SessionAPI: ...

    @property
    def is_registered(self) -> bool: ...

    @property
    def last_failure(self) -> RegistrationFailure | None: ...

    @property
    def audio_notice(self) -> str | None: ...

    @property
    def agent(self) -> Agent: ...

    @property
    def devices(self) -> DevicesAPI: ...

    async def start(self) -> object: ...

    async def stop(self) -> None: ...

    async def call(self, number: str, *, transfer_parent: str | None = None) -> SessionAPI: ...

    def add_trace_hook(self, hook: TraceHook) -> None: ...


if TYPE_CHECKING:  # the library's classes satisfy the protocols (checked by mypy)
    from .phone import Phone
    from .session import Session

    def _phone(phone: Phone) -> PhoneAPI:
        return phone

    def _session(session: Session) -> SessionAPI:
        return session
