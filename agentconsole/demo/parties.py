"""The simulated people on the demo switch: each one a real, registered :class:`Phone`.

A demo and a test fixture. Every party is an ordinary :class:`~agentconsole.softphone.phone.Phone`
with its own audio backend, registered to the switch with digest like the agent, so
calls between them take exactly the agent's path (our SIP core, aiortc, ICE on
127.0.0.1). What makes them parties is a few listeners:

* :class:`Colleague` (2001–2003) answers after a short ring and talks (a tone per
  person) until hung up: the target of consults and transfers;
* :class:`EchoParty` (600) answers and plays back what it hears one second later;
* :class:`ReadbackParty` (601) answers, collects the digits it receives and, after a
  short pause, logs them, plays them as DTMF tones and sends them back as DTMF;
* customer lines (9001–9004) are driven by :class:`~.customers.CustomerCaller`.

Every party accepts a REFER (blind or attended transfer: the transferee's part) and
runs the record feature code (:class:`~.features.RecordFeature`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..errors import AgentConsoleError
from ..softphone.phone import Phone
from .audio import EchoBackend, ReadbackBackend
from .data import Account
from .features import RecordFeature

if TYPE_CHECKING:
    from ..media.audio_base import AudioBackend
    from ..softphone.session import Session
    from ..softphone.transfer_in import TransferRequest

logger = logging.getLogger(__name__)


def party_config(host: str, port: int, account: Account, *, transport: str = "udp",
                 audio: dict[str, Any] | None = None, calls: dict[str, Any] | None = None,
                 extra: dict[str, Any] | None = None, profile: str = "webrtc") -> Config:
    """The config of a phone registered to the demo switch at ``host:port``.

    ``profile`` is what the phone offers (``media.profile``): WebRTC by default, as the
    console's own demo; ``rtp`` or ``srtp`` for plain media, about ten times cheaper per
    call (what a long run of calls wants). Offers are answered in whatever profile they
    come in, so the parties talk to a console on any profile.
    """
    data: dict[str, Any] = {
        "account": {"aor": f"sip:{account.user}@{host}:{port}", "password": account.password,
                    "display_name": account.display_name, "transport": transport,
                    "expires": 600},
        "sip": {"local_host": host},
        # The switch relays signalling only: its parties' media runs end to end.
        "media": {"host_addresses": [host], "profile": profile},
        "audio": audio or {"backend": "null"},
        "calls": {"dial_rate_limit_s": 0, "max_calls": 4, "auto_hold": False,
                  "no_answer_s": 0, **(calls or {})},
    }
    for key, value in (extra or {}).items():
        data[key] = {**data.get(key, {}), **value}
    return Config.from_mapping(data, env={}, source=f"<demo party {account.user}>")


class Party:
    """One simulated person: a Phone on the switch plus the behaviour of subclasses."""

    answer_after: tuple[float, float] = (0.3, 0.3)

    def __init__(self, account: Account, config: Config, *,
                 backend: AudioBackend | None = None, rng: random.Random | None = None,
                 phone_class: type[Phone] = Phone) -> None:
        self.account = account
        self.rng = rng or random.Random()
        self.phone = phone_class(config, rng=random.Random(self.rng.getrandbits(64)))
        if backend is not None:
            self.phone.devices.use(backend)  # instead of config.audio
        self.record_features: dict[str, RecordFeature] = {}
        self.transfers_accepted = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.phone.on("new_session", self._on_new_session)
        self.phone.on("incoming", self._on_incoming)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.account.user}>"

    @property
    def user(self) -> str:
        return self.account.user

    async def start(self) -> None:
        await self.phone.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        try:
            await asyncio.wait_for(self.phone.stop(), 5.0)
        except (TimeoutError, AgentConsoleError) as exc:
            logger.info("%r did not stop cleanly: %s", self, exc)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro: Any) -> None:
        try:
            await coro
        except AgentConsoleError as exc:
            logger.info("%r: %s", self, exc)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a party's failure must not stop the demo
            logger.exception("%r failed", self)

    # ----- behaviour ------------------------------------------------------------------------
    def _on_new_session(self, session: Session) -> None:
        self.record_features[session.call_id] = RecordFeature(session)
        session.on("transfer_request", self._on_transfer_request)
        session.once("ended", lambda *_: self.record_features.pop(session.call_id, None))
        session.once("failed", lambda *_: self.record_features.pop(session.call_id, None))

    def _on_transfer_request(self, request: TransferRequest) -> None:
        """The transferee's part (RFC 3515): accept every REFER from the switch."""
        logger.info("%r: transferred to %s", self, request.target)
        self.transfers_accepted += 1
        self.spawn(request.accept())

    def _on_incoming(self, session: Session) -> None:
        if getattr(session.leg, "replaces", None) is not None:
            return  # an INVITE with Replaces: the phone answers it itself
        low, high = self.answer_after
        self.spawn(self._answer_later(session, self.rng.uniform(low, high)))

    async def _answer_later(self, session: Session, delay: float) -> None:
        await asyncio.sleep(delay)
        if not session.is_ended and session.status.is_ring:
            await session.answer()
            self.answered(session)

    def answered(self, session: Session) -> None:
        """Called once an inbound call is answered (subclasses add behaviour)."""


class Colleague(Party):
    """Answers after one to three seconds of ringing and stays until hung up."""

    answer_after = (1.0, 3.0)


class EchoParty(Party):
    """The echo test number: what it hears comes back one second later."""

    def __init__(self, account: Account, config: Config, *, delay: float = 1.0,
                 rng: random.Random | None = None) -> None:
        super().__init__(account, config, backend=EchoBackend(delay), rng=rng)


class ReadbackParty(Party):
    """Collects DTMF; after ``settle`` seconds without a new digit, reads them back."""

    def __init__(self, account: Account, config: Config, *, settle: float = 1.5,
                 rng: random.Random | None = None) -> None:
        self.backend = ReadbackBackend()
        super().__init__(account, config, backend=self.backend, rng=rng)
        self.settle = settle
        #: Every read-back so far, oldest first (what a test or a log reader checks).
        self.readbacks: list[str] = []
        self._pending: dict[str, str] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def answered(self, session: Session) -> None:
        session.on("dtmf_received", lambda info: self._on_digit(session, info))

    def _on_digit(self, session: Session, info: dict[str, Any]) -> None:
        call_id = session.call_id
        self._pending[call_id] = self._pending.get(call_id, "") + str(info.get("digit", ""))
        timer = self._timers.pop(call_id, None)
        if timer is not None:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timers[call_id] = loop.call_later(self.settle, self._read_back, session)

    def _read_back(self, session: Session) -> None:
        self._timers.pop(session.call_id, None)
        digits = self._pending.pop(session.call_id, "")
        if not digits or session.is_ended:
            return
        logger.info("demo read-back number heard %s", digits)
        self.readbacks.append(digits)
        self.backend.say_digits(digits)
        self.spawn(session.dtmf(digits))


__all__ = ["Colleague", "EchoParty", "Party", "ReadbackParty", "party_config"]
