"""The phone's link to its SIP server: the sans-IO user agent, the transport, the driver.

:class:`SipConnection` builds the :class:`~agentconsole.sip.ua.UserAgent` and the
transport from the account's configuration, starts and stops the
:class:`~agentconsole.transport.driver.Driver` that joins them, runs actions on the
core (:meth:`SipConnection.signal`) and keeps the trace hooks. It knows nothing about
calls: every event of the core goes to the ``on_event`` callback (the Phone).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TypeVar

from ..config import Config
from ..errors import AgentConsoleError, PhoneError
from ..sip.events import RegistrationStateChanged, UAEvent
from ..sip.registration import RegState
from ..sip.ua import UAConfig, UserAgent
from ..transport.base import Transport, TransportError, TransportSettings, TransportState
from ..transport.driver import Driver, TraceHook
from ..transport.factory import create_transport

T = TypeVar("T")
logger = logging.getLogger(__name__)


class SipConnection:
    """One account's user agent and transport (see the module doc)."""

    def __init__(self, config: Config, *, instance_id: str, rng: random.Random,
                 on_event: Callable[[UAEvent], None],
                 on_transport_state: Callable[[TransportState, str], None],
                 trace: TraceHook | None = None) -> None:
        self.config = config
        self.instance_id = instance_id
        self._rng = rng
        self._on_event = on_event
        self._on_transport_state = on_transport_state
        self._trace_hooks: list[TraceHook] = [trace] if trace is not None else []
        self._driver: Driver | None = None

    @property
    def started(self) -> bool:
        return self._driver is not None

    @property
    def ua(self) -> UserAgent | None:
        return self._driver.ua if self._driver else None

    @property
    def transport(self) -> Transport | None:
        return self._driver.transport if self._driver else None

    @property
    def trace_hooks(self) -> list[TraceHook]:
        return list(self._trace_hooks)

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

    async def start(self) -> None:
        """Open the transport; raises AgentConsoleError (-201) when it cannot."""
        ua = UserAgent(self._ua_config(), rng=self._rng)
        driver = Driver(ua, self._make_transport(), on_event=self._on_event,
                        on_transport_state=self._on_transport_state)
        driver.trace_hooks = self._trace_hooks  # shared: hooks added later apply too
        self._driver = driver
        try:
            await driver.start()
        except TransportError as exc:
            self._driver = None
            raise AgentConsoleError(f"cannot reach the SIP server: {exc}",
                                    title="Connection failed",
                                    code=PhoneError.REGISTRY_FAILED) from exc

    async def stop(self) -> None:
        """Un-REGISTER and close the transport (it reports CLOSED)."""
        driver, self._driver = self._driver, None
        if driver is not None:
            await driver.stop()

    def signal(self, action: Callable[[UserAgent, float], T]) -> T:
        """Run ``action(ua, now)`` on the sans-IO core, then flush what it queued."""
        driver = self._driver
        if driver is None:
            raise AgentConsoleError.from_code(PhoneError.REGISTRY_FAILED,
                                              "the phone is not started")
        try:
            return action(driver.ua, driver.now())
        finally:
            driver.poke()

    def re_register(self) -> bool:
        """REGISTER now (a fresh attempt, the retry back-off starts over); False when
        registration is off or a REGISTER is already on its way."""
        if not self.config.account.register:
            return False

        def register(ua: UserAgent, now: float) -> bool:
            if ua.registration.state is RegState.REGISTERING:
                return False
            ua.register(now)
            return True

        return self.signal(register)

    # ----- wiring ---------------------------------------------------------------------
    def _ua_config(self) -> UAConfig:
        acc = self.config.account
        sip = self.config.sip
        password = acc.password.reveal() if acc.password is not None else None
        return UAConfig(
            aor=acc.aor_uri, registrar=acc.registrar_uri, transport=acc.transport,
            display_name=acc.display_name, auth_user=acc.effective_auth_user,
            password=password, realm=acc.realm, outbound_proxy=acc.outbound_proxy_uri,
            expires=acc.expires, register=acc.register, user_agent=acc.user_agent,
            timers=sip.timers(),
            instance_id=self.instance_id, accept_invites=True,
            retry_min_s=sip.register_retry_s, retry_max_s=max(sip.register_retry_s, 300.0),
            session_expires=sip.session_expires, min_se=sip.min_se,
            udp_refresh_s=sip.udp_register_refresh_s,
            register_answer_timeout_s=sip.register_answer_timeout_s,
            recover_min_s=sip.reconnect_min_s, recover_max_s=sip.reconnect_max_s,
            probe_s=sip.reconnect_probe_s, probe_window_s=sip.reconnect_probe_window_s,
        )

    def _make_transport(self) -> Transport:
        acc = self.config.account
        sip = self.config.sip
        settings = TransportSettings(
            local_host=sip.local_host, local_port=sip.local_port, keepalive_s=sip.keepalive_s,
            reconnect_min_s=sip.reconnect_min_s, reconnect_max_s=sip.reconnect_max_s,
            reconnect_probe_s=sip.reconnect_probe_s,
            reconnect_probe_window_s=sip.reconnect_probe_window_s,
            max_message_size=sip.max_message_size, tls_ca_file=acc.tls.ca_file,
            tls_verify=acc.tls.verify,
        )
        target = acc.outbound_proxy_uri or acc.registrar_uri
        default_port = 5061 if acc.transport == "tls" else 5060
        server = (target.host, target.port or default_port)
        return create_transport(acc.transport, server, settings, ws_url=acc.ws_url,
                                server_hostname=target.host)


class FirstOutcome:
    """The first registration outcome after start (what :meth:`Phone.start` waits for)."""

    def __init__(self) -> None:
        self._future: asyncio.Future[RegistrationStateChanged] = \
            asyncio.get_running_loop().create_future()

    def offer(self, event: RegistrationStateChanged) -> None:
        if not self._future.done() and not event.final:
            self._future.set_result(event)

    async def wait(self, timeout: float) -> RegistrationStateChanged | None:
        try:
            return await asyncio.wait_for(asyncio.shield(self._future), timeout)
        except TimeoutError:
            return None
