"""``Phone``: the softphone object scripts, integrations and the console use.

It mirrors the SDK's PhoneOperator (``start``/``stop``, ``is_registered`` and the
``connected``/``disconnected``/``registered``/``registration_failed`` events) on top of
the sans-IO user agent, one transport and the driver that joins them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from pyee.asyncio import AsyncIOEventEmitter

from .calls import CallsMixin
from .config import Config
from .errors import AgentConsoleError, PhoneError
from .phone_transfer import PhoneTransferMixin
from .sip.events import IncomingRequest, MessageDropped, RegistrationStateChanged, UAEvent
from .sip.message import make_response
from .sip.timers import TimerConfig
from .sip.ua import UAConfig, UserAgent
from .sip.uri import SipUri, parse_uri
from .transport.base import Transport, TransportError, TransportSettings, TransportState
from .transport.driver import Driver, TraceHook
from .transport.factory import create_transport

if TYPE_CHECKING:
    from .media.audio import AudioBackend, DeviceInfo, DeviceSelection, LevelListener
    from .media.peer import MediaSession

T = TypeVar("T")
logger = logging.getLogger(__name__)

#: Final statuses that mean "your credentials or account are wrong" (not transient).
AUTH_FAILURES = frozenset({401, 403, 404, 407})


@dataclass(frozen=True)
class RegistrationFailure:
    """Payload of ``registration_failed``: the SIP code and a readable cause."""

    code: int
    cause: str
    retry_in: float | None = None


class Phone(PhoneTransferMixin, CallsMixin, AsyncIOEventEmitter):
    """One SIP account and its calls (the SDK's PhoneOperator).

    Events: ``connected`` (the transport is up), ``disconnected`` (reason: str),
    ``registered`` (expires: int), ``registration_failed`` (RegistrationFailure),
    ``unregistered``, ``new_session`` (Session), ``incoming`` (Session),
    ``delete_session`` ({"call_id", "cause"}), ``refused`` ({"call_id", "number", "name",
    "code", "reason"}: turned away before any Session), ``missed`` ({"call_id", "number",
    "name", "cause"}: an inbound call ended unanswered), ``agent_state_change`` (state,
    reason), ``audio_notice`` (str).
    """

    def __init__(self, config: Config, *, trace: TraceHook | None = None,
                 rng: random.Random | None = None) -> None:
        super().__init__()
        self.config = config
        self._trace_hooks: list[TraceHook] = [trace] if trace is not None else []
        self._rng = rng or random.Random()
        self._is_registered = False
        self._driver: Driver | None = None
        self._first_outcome: asyncio.Future[RegistrationStateChanged] | None = None
        self.instance_id = f"urn:uuid:{uuid.UUID(int=self._rng.getrandbits(128), version=4)}"
        self.last_failure: RegistrationFailure | None = None
        self.audio_backend: AudioBackend | None = None
        self._level_listeners: list[LevelListener] = []
        self._init_calls()

    # ----- state ----------------------------------------------------------------------
    @property
    def is_registered(self) -> bool:
        return self._is_registered

    @property
    def ua(self) -> UserAgent | None:
        return self._driver.ua if self._driver else None

    @property
    def transport(self) -> Transport | None:
        return self._driver.transport if self._driver else None

    def add_trace_hook(self, hook: TraceHook) -> None:
        """Observe every SIP message sent and received (credentials redacted)."""
        self._trace_hooks.append(hook)

    def remove_trace_hook(self, hook: TraceHook) -> None:
        """Stop calling ``hook`` (compared by ``==``, so a bound method works); unknown
        hooks are ignored. The list is replaced, not mutated, so a hook may remove
        itself while the driver is calling the hooks."""
        hooks = [h for h in self._trace_hooks if h != hook]
        self._trace_hooks = hooks
        if self._driver is not None:
            self._driver.trace_hooks = hooks

    # ----- lifecycle ------------------------------------------------------------------
    async def start(self, timeout: float = 10.0) -> Phone:
        """Open the transport and REGISTER; return once the first outcome is known.

        Raises :class:`AgentConsoleError` (code -201 REGISTRY_FAILED) when the
        registrar refuses our credentials or the transport cannot be opened. A
        transient failure (timeout, 5xx) does not raise: the phone keeps retrying and
        emits ``registration_failed`` each time.
        """
        self._open_audio()
        ua = UserAgent(self._ua_config(), rng=self._rng)
        transport = self._make_transport()
        self._driver = Driver(ua, transport, on_event=self._on_ua_event,
                              on_transport_state=self._on_transport_state)
        self._driver.trace_hooks = self._trace_hooks  # shared: hooks added later apply too
        loop = asyncio.get_running_loop()
        self._first_outcome = loop.create_future()
        try:
            await self._driver.start()
        except TransportError as exc:
            self._driver = None
            raise AgentConsoleError(f"cannot reach the SIP server: {exc}",
                                    title="Connection failed",
                                    code=PhoneError.REGISTRY_FAILED) from exc
        if not self.config.account.register:
            return self
        try:
            outcome = await asyncio.wait_for(asyncio.shield(self._first_outcome), timeout)
        except TimeoutError:
            return self
        if not outcome.registered and outcome.status in AUTH_FAILURES:
            raise AgentConsoleError(
                f"registration refused: {outcome.status} {outcome.reason}",
                title="Registration failed", code=PhoneError.REGISTRY_FAILED)
        return self

    async def stop(self) -> None:
        """Un-REGISTER and close the transport."""
        await self._end_all_calls()
        if self._ringer is not None:
            await self._ringer.close()
            self._ringer = None
        driver, self._driver = self._driver, None
        if driver is not None:
            await driver.stop()  # the transport reports CLOSED → "disconnected"
        self._is_registered = False
        if self.audio_backend is not None:
            await self.audio_backend.close()
            self.audio_backend = None

    # ----- wiring ---------------------------------------------------------------------
    def _ua_config(self) -> UAConfig:
        acc = self.config.account
        sip = self.config.sip
        password = acc.password.reveal() if acc.password is not None else None
        return UAConfig(
            aor=acc.aor_uri,
            registrar=acc.registrar_uri,
            transport=acc.transport,
            display_name=acc.display_name,
            auth_user=acc.effective_auth_user,
            password=password,
            realm=acc.realm,
            outbound_proxy=acc.outbound_proxy_uri,
            expires=acc.expires,
            register=acc.register,
            timers=TimerConfig.from_ms(sip.t1_ms, sip.t2_ms, sip.t4_ms),
            user_agent=acc.user_agent,
            instance_id=self.instance_id,
            retry_min_s=sip.register_retry_s,
            retry_max_s=max(sip.register_retry_s, 300.0),
            accept_invites=True,
            session_expires=sip.session_expires,
            min_se=sip.min_se,
            udp_refresh_s=sip.udp_register_refresh_s,
            register_answer_timeout_s=sip.register_answer_timeout_s,
            recover_min_s=sip.reconnect_min_s,
            recover_max_s=sip.reconnect_max_s,
            probe_s=sip.reconnect_probe_s,
            probe_window_s=sip.reconnect_probe_window_s,
        )

    def _make_transport(self) -> Transport:
        acc = self.config.account
        sip = self.config.sip
        settings = TransportSettings(
            local_host=sip.local_host,
            local_port=sip.local_port,
            keepalive_s=sip.keepalive_s,
            reconnect_min_s=sip.reconnect_min_s,
            reconnect_max_s=sip.reconnect_max_s,
            reconnect_probe_s=sip.reconnect_probe_s,
            reconnect_probe_window_s=sip.reconnect_probe_window_s,
            max_message_size=sip.max_message_size,
            tls_ca_file=acc.tls.ca_file,
            tls_verify=acc.tls.verify,
        )
        target = acc.outbound_proxy_uri or acc.registrar_uri
        default_port = 5061 if acc.transport == "tls" else 5060
        server = (target.host, target.port or default_port)
        return create_transport(acc.transport, server, settings, ws_url=acc.ws_url,
                                server_hostname=target.host)

    def _on_transport_state(self, state: TransportState, reason: str) -> None:
        if state == TransportState.CONNECTED:
            self.emit("connected")
        elif state in (TransportState.DISCONNECTED, TransportState.CLOSED):
            self.emit("disconnected", reason)

    def _on_ua_event(self, event: UAEvent) -> None:
        if isinstance(event, RegistrationStateChanged):
            self._on_registration(event)
        elif getattr(event, "leg", None) is not None:  # every call event carries its leg
            self._dispatch_call_event(event)
        elif isinstance(event, IncomingRequest):
            self._on_incoming(event)
        elif isinstance(event, MessageDropped):
            logger.debug("dropped a message from %s: %s", event.source, event.reason)

    def _on_registration(self, event: RegistrationStateChanged) -> None:
        if self._first_outcome is not None and not self._first_outcome.done() \
                and not event.final:
            self._first_outcome.set_result(event)
        if event.registered:
            self._is_registered = True
            self.last_failure = None
            self.emit("registered", event.expires)
        elif event.final:
            self._is_registered = False
            self.emit("unregistered")
        else:
            self._is_registered = False
            failure = RegistrationFailure(event.status, _cause(event.status, event.reason),
                                          event.retry_in)
            self.last_failure = failure
            self.emit("registration_failed", failure)

    def _on_incoming(self, event: IncomingRequest) -> None:
        """Requests the core passed up that no layer handles yet (MESSAGE ...)."""
        response = make_response(event.request, 501, to_tag=uuid.uuid4().hex[:10])
        self._ua_do(lambda ua, now: ua.send_response(event.transaction,  # type: ignore[arg-type]
                                                     response, now))

    # ----- hooks for the calls layer ------------------------------------------------------
    def clock(self) -> float:
        """Monotonic seconds (the loop's clock): timers and rate limits use it."""
        return asyncio.get_running_loop().time()

    def _ua_do(self, action: Callable[[UserAgent, float], T]) -> T:
        """Run ``action(ua, now)`` on the sans-IO core, then flush what it queued."""
        driver = self._driver
        if driver is None:
            raise AgentConsoleError.from_code(PhoneError.REGISTRY_FAILED,
                                              "the phone is not started")
        try:
            return action(driver.ua, driver.now())
        finally:
            driver.poke()

    def _open_audio(self) -> None:
        if self.audio_backend is None:
            from .media.audio import open_backend  # sounddevice loads only when needed

            self.audio_backend = open_backend(self.config.audio)
            for listener in self._level_listeners:
                self.audio_backend.add_level_listener(listener)
            notice = self.audio_backend.notice
            if notice:
                logger.warning("%s", notice)
                self.emit("audio_notice", notice)

    @property
    def audio_notice(self) -> str | None:
        """Why there is no audio (e.g. no sound card), for the UI to show; None if fine."""
        return self.audio_backend.notice if self.audio_backend is not None else None

    # ----- audio devices and levels --------------------------------------------------------
    def audio_devices(self) -> list[DeviceInfo]:
        """Every sound device PortAudio sees; empty without PortAudio or a sound card."""
        from .media.audio_sd import list_devices

        return list_devices()

    def audio_selection(self) -> DeviceSelection:
        """The devices in use (all None unless the backend is a sound card)."""
        self._open_audio()
        assert self.audio_backend is not None
        return self.audio_backend.selected_devices()

    def set_audio_devices(self, input: str | int | None = None, output: str | int | None = None,
                          ring: str | int | None = None) -> None:
        """Switch the microphone, speaker or ring device (None keeps it) while calls run.

        Calls in progress keep going on the new devices. Raises
        :class:`~agentconsole.media.audio.AudioDeviceError` when no device matches (the
        previous devices stay) or the backend is not a sound card (null, tone, file).
        Blocks while PortAudio reopens its streams, typically tens of milliseconds.
        """
        self._open_audio()
        assert self.audio_backend is not None
        self.audio_backend.set_devices(input, output, ring)

    def rescan_audio(self) -> list[DeviceInfo]:
        """Re-read the device list (a headset plugged in) and return it.

        A sound-card backend reopens its streams. A phone that fell back to ``null`` for
        want of a sound card (``audio.backend`` auto or sounddevice) tries the card again
        when no call is up, so the headset works without a restart. Blocking (PortAudio
        re-initialisation): a UI calls it from a worker thread.
        """
        from .media import audio_sd

        backend = self.audio_backend
        if backend is not None and isinstance(backend, audio_sd.SounddeviceBackend):
            return backend.rescan()
        try:
            audio_sd.reinitialize()
        except Exception as exc:  # no PortAudio: the list is just empty
            logger.debug("PortAudio re-init failed: %s", exc)
        fell_back = backend is not None and backend.name == "null" and bool(backend.notice)
        if fell_back and self.config.audio.backend in ("auto", "sounddevice") \
                and not self.sessions:
            self._retry_sound_card()
        return audio_sd.list_devices()

    def _retry_sound_card(self) -> None:
        from .media import audio_sd

        audio = self.config.audio
        card, notice = audio_sd.open_sounddevice(audio.input, audio.output, audio.ring)
        if card is None:
            logger.info("still no sound card: %s", notice)
            return
        # The null backend being replaced holds no device: nothing to close.
        self.audio_backend = card
        for listener in self._level_listeners:
            card.add_level_listener(listener)
        if self._ringer is not None:
            self._ringer.set_backend(card)
        logger.info("audio: %s", card.description)

    def add_level_listener(self, listener: LevelListener) -> None:
        """``listener("input" | "output", dbfs)`` about 10 times a second per stream, from
        whatever audio backend the phone uses now or later (see
        :meth:`AudioBackend.add_level_listener`)."""
        if listener not in self._level_listeners:
            self._level_listeners.append(listener)
        if self.audio_backend is not None:
            self.audio_backend.add_level_listener(listener)

    def remove_level_listener(self, listener: LevelListener) -> None:
        if listener in self._level_listeners:
            self._level_listeners.remove(listener)
        if self.audio_backend is not None:
            self.audio_backend.remove_level_listener(listener)

    def _new_media(self) -> MediaSession:
        from .media.peer import MediaSession  # aiortc costs ~260 ms: load it on first call

        self._open_audio()
        assert self.audio_backend is not None
        return MediaSession(self.config.media, self.audio_backend)


def _sip_uri(value: str | None) -> SipUri | None:
    if not value:
        return None
    uri = parse_uri(value)
    return uri if isinstance(uri, SipUri) else None


def _cause(status: int, reason: str) -> str:
    """A readable cause, in the seed's vocabulary where one exists."""
    if status in (401, 407):
        return f"Authentication Error ({status} {reason})".strip()
    if status == 403:
        return f"Rejected ({status} {reason})"
    if status == 408:
        return "Request Timeout"
    if status == 503 and "transport" in reason.lower():
        return "Connection Error"
    return f"{status} {reason}".strip()
