"""What a :class:`~.ua.UserAgent` is configured with, and what it hands the driver."""

from __future__ import annotations

from dataclasses import dataclass, field

from .message import Request, Response
from .registration import RegistrationSettings
from .timers import TimerConfig
from .uri import SipUri

Address = tuple[str, int]


@dataclass(frozen=True)
class Outgoing:
    """Bytes for the driver to send; ``dest`` None means "on the current flow"."""

    data: bytes
    dest: Address | None
    message: Request | Response


@dataclass
class UAConfig:
    aor: SipUri
    registrar: SipUri
    transport: str = "udp"  # udp | tcp | tls | ws | wss
    display_name: str | None = None
    auth_user: str | None = None
    password: str | None = field(default=None, repr=False)
    realm: str | None = None
    outbound_proxy: SipUri | None = None
    expires: int = 600
    register: bool = True
    timers: TimerConfig = field(default_factory=TimerConfig)
    user_agent: str = "agentconsole"
    instance_id: str | None = None
    retry_min_s: float = 30.0
    retry_max_s: float = 300.0
    accept_invites: bool = False
    session_expires: int = 1800  # RFC 4028 Session-Expires we ask for / accept at most
    min_se: int = 90  # RFC 4028 Min-SE: shorter intervals get 422
    #: UDP only: re-REGISTER at least this often (0: only before expiry); see
    #: :mod:`.registration` for why UDP needs it.
    udp_refresh_s: float = 0.0
    #: A REGISTER unanswered this long reports the phone unregistered (0: at Timer F).
    register_answer_timeout_s: float = 0.0
    #: Retry schedule after the registrar did not answer at all (:mod:`.backoff`).
    recover_min_s: float = 2.0
    recover_max_s: float = 30.0
    probe_s: float = 4.0
    probe_window_s: float = 60.0

    @property
    def reliable(self) -> bool:
        return self.transport != "udp"

    def registration_settings(self) -> RegistrationSettings:
        return RegistrationSettings(
            aor=self.aor,
            registrar=self.registrar,
            display_name=self.display_name,
            expires=self.expires,
            retry_min_s=self.retry_min_s,
            retry_max_s=self.retry_max_s,
            user_agent=self.user_agent,
            instance_id=self.instance_id,
            refresh_max_s=self.udp_refresh_s if not self.reliable else 0.0,
            answer_timeout_s=self.register_answer_timeout_s,
            recover_min_s=self.recover_min_s,
            recover_max_s=self.recover_max_s,
            probe_s=self.probe_s,
            probe_window_s=self.probe_window_s,
        )


__all__ = ["Address", "Outgoing", "UAConfig"]
