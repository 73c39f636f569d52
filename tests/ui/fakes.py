"""A fake Phone and Session with the library's API and events, for deterministic UI tests.

They keep the same attribute names (``sessions``, ``incoming_list``, ``current_session``,
``status``, ``timer``, ``call_report``) and emit the same pyee events, so the console
cannot tell them from the real thing; nothing here touches a network or a clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyee.asyncio import AsyncIOEventEmitter

from agentconsole.config import Config
from agentconsole.errors import AgentConsoleError, PhoneError
from agentconsole.media.audio_sd import DeviceInfo
from agentconsole.media.stats import Report
from agentconsole.sip.message import Headers
from agentconsole.softphone.agent import Agent
from agentconsole.softphone.api import AudioRoute, DevicesAPI, PhoneAPI, SessionAPI
from agentconsole.softphone.status import (
    CallStatus,
    RecordStatus,
    StaticCallStatus,
    TimerType,
    TransferParent,
)

if TYPE_CHECKING:
    from agentconsole.softphone.phone import RegistrationFailure


class FakeSession(AsyncIOEventEmitter):
    """One call. ``actions`` records every method the console called, in order."""

    def __init__(self, phone: FakePhone, status: CallStatus) -> None:
        super().__init__()
        self.phone = phone
        self._status = status
        self.timer = TimerType()
        self.call_report = Report.empty(status.call_id, status.number)
        self.established = False
        self.actions: list[tuple[str, tuple[Any, ...]]] = []
        self.end_code: int | None = None
        self.is_ended = False
        self.request_headers = Headers()
        self.source: tuple[str, int] | None = None

    @property
    def call_id(self) -> str:
        return self._status.call_id

    @property
    def status(self) -> CallStatus:
        return self._status

    def _update(self, **changes: Any) -> None:
        old, self._status = self._status, self._status.merged(**changes)
        self.emit("status_change", self._status, old)

    # ----- the Session API ------------------------------------------------------------
    def set_static_status(self, *, name: str | None = None, company: str | None = None,
                          avatar: str | None = None, manual: bool = False) -> FakeSession:
        self.actions.append(("set_static_status", (name, company)))
        changes = {k: v for k, v in (("name", name), ("company", company)) if v is not None}
        before = StaticCallStatus(self._status.name, self._status.avatar, self._status.company)
        self._status = self._status.merged(**changes)
        after = StaticCallStatus(self._status.name, self._status.avatar, self._status.company)
        self.emit("static_status_change", after, before)  # what the real Session emits
        return self

    async def answer(self) -> FakeSession:
        self.actions.append(("answer", ()))
        for other in self.phone.sessions.values():  # the library's auto-hold policy
            if other is not self and other.established and not other.status.is_hold:
                await other.hold()
        self.established = True
        self._update(is_ring=False, call_status="talking", answer_time=1, codec="opus")
        self.phone.current_id = self.call_id
        self.emit("accepted", self)
        self.emit("confirmed", self)
        return self

    def reject(self, code: int | None = None) -> bool:
        self.actions.append(("reject", (code,)))
        self.end_code = code or 486
        self.finish("failed", "Rejected")
        return True

    def hangup(self) -> bool:
        self.actions.append(("hangup", ()))
        self.finish("ended" if self.established else "failed", "Terminated")
        return True

    async def hold(self) -> FakeSession:
        self.actions.append(("hold", ()))
        self._update(is_hold=True)
        return self

    async def unhold(self) -> FakeSession:
        self.actions.append(("unhold", ()))
        self._update(is_hold=False)
        return self

    def mute(self) -> FakeSession:
        self.actions.append(("mute", ()))
        self._update(is_mute=True)
        return self

    def unmute(self) -> FakeSession:
        self.actions.append(("unmute", ()))
        self._update(is_mute=False)
        return self


    async def blind_transfer(self, target: str) -> bool:
        self.actions.append(("blind_transfer", (target,)))
        return True

    async def attended_transfer(self) -> bool:
        self.actions.append(("attended_transfer", ()))
        return True

    async def cancel_transfer(self) -> None:
        self.actions.append(("cancel_transfer", ()))

    async def swap(self) -> None:
        self.actions.append(("swap", ()))

    async def dtmf(self, digits: str) -> bool:
        self.actions.append(("dtmf", (digits,)))
        return True

    async def start_record(self) -> bool:
        return self._record("start_record", "recording")

    async def pause_record(self) -> bool:
        return self._record("pause_record", "pause")

    async def resume_record(self) -> bool:
        return self._record("resume_record", "recording")

    async def stop_record(self) -> bool:
        return self._record("stop_record", "stop")

    def _record(self, action: str, state: RecordStatus) -> bool:
        self.actions.append((action, ()))
        self._update(record_status=state)
        return True

    # ----- driving the fake from a test -------------------------------------------------
    def remote_answer(self) -> None:
        self.established = True
        self._update(call_status="talking", answer_time=1, codec="PCMU")
        self.emit("accepted", self)

    def set_timer(self, **values: float) -> None:
        self.timer = TimerType(**{**self.timer.__dict__, **values})

    def report(self, mos: float, loss: float = 0.0, jitter: float = 0.0) -> None:
        self.call_report = Report(call_id=self.call_id, audio_codec=self._status.codec,
                                  mos=mos, audio_rx_lost=loss, audio_rx_avg_jitter=jitter)
        self.emit("call_report", self.call_report)

    def finish(self, kind: str, cause: str) -> None:
        if self.is_ended:
            return
        self.is_ended = True
        self._update(call_status="ended", is_ring=False)
        payload = {"call_id": self.call_id, "cause": cause}
        self.emit(kind, payload if kind == "ended" else {**payload, "code": self.end_code})
        self.phone.remove(self, cause)


class FakePhone(AsyncIOEventEmitter):
    def __init__(self, config: Config, *, session_class: type[FakeSession] = FakeSession,
                 register_on_start: bool = True) -> None:
        super().__init__()
        self.config = config
        self.session_class = session_class
        self.register_on_start = register_on_start
        self.sessions: dict[str, FakeSession] = {}
        self.current_id: str | None = None
        self.is_registered = False
        self.last_failure: RegistrationFailure | None = None
        self.audio_notice: str | None = None
        self.started = self.stopped = False
        self.dialled: list[tuple[str, str | None]] = []
        self.refused: list[dict[str, Any]] = []
        self.trace_hooks: list[Any] = []
        self.agent = Agent(config.agent, self.emit)  # the library's own model
        self.devices = FakeDevices()
        self._seq = 0

    def add_trace_hook(self, hook: Any) -> None:
        self.trace_hooks.append(hook)

    def trace(self, direction: str, data: bytes, *, remote: tuple[str, int] = ("10.0.0.5", 5060),
              transport: str = "udp", timestamp: float = 1_741_940_813.25) -> None:
        """A SIP message "crosses the wire" (the entry the library's hook would pass)."""
        from agentconsole.transport.driver import TraceEntry

        for hook in self.trace_hooks:
            hook(TraceEntry(timestamp, direction, transport, remote, data))

    @property
    def incoming_list(self) -> list[FakeSession]:
        return [s for s in self.sessions.values() if s.status.is_ring]

    @property
    def current_session(self) -> FakeSession | None:
        return self.sessions.get(self.current_id) if self.current_id else None

    def get_session(self, call_id: str) -> FakeSession:
        if call_id not in self.sessions:
            raise AgentConsoleError.from_code(PhoneError.NOT_FOUND_CALL_ID)
        return self.sessions[call_id]

    def set_current_session(self, call_id: str) -> None:
        self.current_id = self.get_session(call_id).call_id

    async def start(self) -> FakePhone:
        self.started = True
        self.emit("connected")
        if self.register_on_start:
            self.is_registered = True
            self.emit("registered", 600)
        return self

    async def stop(self) -> None:
        self.stopped = True
        for session in list(self.sessions.values()):
            session.hangup()
        self.is_registered = False
        self.emit("disconnected", "stopped")

    async def call(self, number: str, *, transfer_parent: str | None = None) -> FakeSession:
        if not number.strip():
            raise AgentConsoleError.from_code(PhoneError.INVALID_NUMBER)
        self.dialled.append((number, transfer_parent))
        for other in self.sessions.values():
            if other.established and not other.status.is_hold:
                await other.hold()
        parent = self.sessions.get(transfer_parent) if transfer_parent else None
        status = CallStatus(
            call_id=self._next_id(), number=number, name=number,
            communication_type="outbound", call_status="calling",
            is_transfer=parent is not None,
            transfer_parent=TransferParent(parent.call_id, parent.status.name,
                                           parent.status.number) if parent else None)
        session = self.session_class(self, status)
        self._add(session)
        self.current_id = session.call_id
        return session

    # ----- driving the fake ---------------------------------------------------------------
    def ring(self, number: str, name: str = "", company: str = "", queue: str = "",
             did: str = "", ring_s: float = 0.0) -> FakeSession:
        """An inbound call arrives (``new_session`` then ``incoming``, as the Phone does).

        The agent's state may turn it away first, as the Phone's does: then ``refused``
        is emitted and the call recorded in ``refused``; the test gets an error.
        """
        code = self.agent.refusal_code()
        if code is not None:
            info = {"call_id": self._next_id(), "number": number, "name": name or number,
                    "code": code, "reason": self.agent.state.refusal_reason()}
            self.refused.append(info)
            self.emit("refused", info)
            raise Refused(info)
        status = CallStatus(call_id=self._next_id(), number=number, name=name or number,
                            company=company, queue=queue, did=did,
                            communication_type="inbound", call_status="connecting",
                            is_ring=True)
        session = self.session_class(self, status)
        session.set_timer(ring_duration=ring_s)
        self._add(session)
        self.emit("incoming", session)
        return session

    def fail_registration(self, cause: str) -> None:
        from agentconsole.softphone.phone import RegistrationFailure

        self.is_registered = False
        self.last_failure = RegistrationFailure(403, cause)
        self.emit("registration_failed", self.last_failure)

    def _next_id(self) -> str:
        self._seq += 1
        return f"call-{self._seq}"

    def _add(self, session: FakeSession) -> None:
        self.sessions[session.call_id] = session
        self.emit("new_session", session)

    def remove(self, session: FakeSession, cause: str) -> None:
        self.sessions.pop(session.call_id, None)
        if self.current_id == session.call_id:
            self.current_id = next(iter(self.sessions), None)
        self.emit("delete_session", {"call_id": session.call_id, "cause": cause})


class Refused(Exception):
    """The fake phone turned a call away (the agent's state): ``args[0]`` the event."""


class FakeDevices:
    """The phone's devices (``phone.devices``) without a sound card."""

    def __init__(self, devices: list[DeviceInfo] | None = None) -> None:
        self.devices = list(devices or [])
        self.rescans = 0
        self.tones: list[str] = []
        self.meters: list[FakeMeter] = []
        self.chosen: list[dict[str, str | int | None]] = []
        self.after_rescan: list[DeviceInfo] | None = None
        self.description = ""
        self.notice: str | None = None
        self.beeps = 0
        self.name = "sounddevice"
        #: Where the audio goes (a sound server through an SSH tunnel), None: a card.
        self.route: AudioRoute | None = None
        self.silent = False

    def available(self) -> list[DeviceInfo]:
        return list(self.devices)

    def choose(self, input: str | int | None = None, output: str | int | None = None,
               ring: str | int | None = None) -> None:
        self.chosen.append({"input": input, "output": output, "ring": ring})

    def rescan(self, *, calls_up: bool = False) -> list[DeviceInfo]:
        self.rescans += 1
        if self.after_rescan is not None:
            self.devices = self.after_rescan
        return list(self.devices)

    def play_test_tone(self, device: DeviceInfo, seconds: float = 1.0) -> None:
        self.tones.append(device.name)

    def open_meter(self, device: DeviceInfo) -> FakeMeter:
        meter = FakeMeter(device.name)
        self.meters.append(meter)
        return meter

    async def beep(self) -> None:
        self.beeps += 1

    async def restore_ring(self) -> None:
        pass


class FakeMeter:
    def __init__(self, name: str) -> None:
        self.name = name
        self.value: float | None = None
        self.closed = False

    def level(self) -> float | None:
        return self.value

    def close(self) -> None:
        self.closed = True


def sound_card() -> list[DeviceInfo]:
    """A laptop with a USB headset plugged in."""
    return [
        DeviceInfo(0, "HDA Intel PCH: ALC257 Analog", "ALSA", 2, 2, 48000.0, True, True),
        DeviceInfo(1, "Jabra EVOLVE 20 MS: USB Audio", "ALSA", 1, 2, 16000.0),
        DeviceInfo(2, "HDMI 0", "ALSA", 0, 8, 48000.0),
    ]


async def answered_then_ended(phone: FakePhone, pilot: Any, cause: str = "Normal"
                              ) -> FakeSession:
    """Carol (5551) rings, the agent answers with ``a``, Carol hangs up: the state every
    wrap-up test starts from."""
    session = phone.ring("5551", "Carol")
    await pilot.pause()
    await pilot.press("a")
    await pilot.pause()
    session.finish("ended", cause)
    await pilot.pause()
    return session


if TYPE_CHECKING:  # the fakes satisfy the console's contract (checked by test_contract.py)
    def _phone(phone: FakePhone) -> PhoneAPI:
        return phone

    def _session(session: FakeSession) -> SessionAPI:
        return session

    def _devices(devices: FakeDevices) -> DevicesAPI:
        return devices
