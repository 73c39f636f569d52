"""Typed configuration: YAML in, frozen dataclasses out, every problem reported at once.

This module is the schema: one frozen dataclass per section, each field carrying its
converter in its metadata, plus the cross-field checks (``_check``) no single converter can
make, and the entry points :func:`load_config` / :func:`parse_config`. The machinery those
declarations run on (the YAML walk that keeps key paths and lines, the converters, building a
dataclass from a mapping) lives in :mod:`agentconsole._validate`. Unknown keys anywhere are
errors; a duplicated key is an error rather than a silent overwrite.

The password is held in a :class:`Secret` and never appears in a repr, an error or a log.
Warnings (a world-readable file holding a password, TLS without verification ...) do not
stop loading; they are returned in :attr:`Config.warnings` for the caller to show.
Key contract: DESIGN.md §6.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import paths
from ._validate import (
    _BAD,
    _bool,
    _build,
    _choice,
    _Ctx,
    _dtmf_error,
    _env_secret,
    _f,
    _ice_error,
    _int,
    _ip_error,
    _join,
    _list,
    _nested,
    _num,
    _number_error,
    _path,
    _read_yaml,
    _secret,
    _sip_uri_error,
    _str,
    _str_map,
    _str_or_int,
)
from .config_integration import AutoAnswerConfig, ControlConfig, HookConfig
from .errors import ConfigError, ConfigProblem
from .sip.auth import Secret
from .sip.timers import TimerConfig
from .sip.uri import SipUri, parse_uri, unescape_user

__all__ = [
    "AccountConfig", "AgentConfig", "AudioConfig", "CallsConfig", "Config", "ConfigError",
    "ConfigProblem", "DirectoryEntry", "FeatureCodes", "MediaConfig", "NotifyConfig",
    "PulseConfig", "RecordingConfig", "RemoteConfig", "Secret", "SipConfig", "TlsConfig",
    "UiConfig", "WrapupConfig",
    "load_config", "parse_config",
]


TRANSPORTS = ("udp", "tcp", "tls", "ws", "wss")
CODECS = ("opus", "G722", "PCMU", "PCMA")
#: media.profile: what we offer (auto: WebRTC on WS/WSS, RTP on UDP/TCP, SRTP on TLS).
MEDIA_PROFILES = ("auto", "webrtc", "rtp", "srtp")


def _default_recording_dir() -> str:
    return str(paths.recordings_dir())


# ----- the schema ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsConfig:
    ca_file: str | None = _f(_path(must_exist=True), None)
    verify: bool = _f(_bool, True)


@dataclass(frozen=True)
class AccountConfig:
    """The SIP account (DESIGN §6). ``password`` is a :class:`Secret` (a str is wrapped)."""

    aor: str = _f(_str(check=_sip_uri_error))
    display_name: str | None = _f(_str(nullable=True), None)
    auth_user: str | None = _f(_str(nullable=True), None)
    password: Secret | None = _f(_secret, None)
    password_env: str | None = _f(_str(nullable=True), None)
    realm: str | None = _f(_str(nullable=True), None)
    transport: str = _f(_choice(TRANSPORTS), "udp")
    registrar: str | None = _f(_str(nullable=True, check=_sip_uri_error), None)
    outbound_proxy: str | None = _f(_str(nullable=True, check=_sip_uri_error), None)
    ws_url: str | None = _f(_str(nullable=True), None)
    expires: int = _f(_int(60, 86400), 600)
    register: bool = _f(_bool, True)
    tls: TlsConfig = _f(_nested(TlsConfig), factory=TlsConfig)
    user_agent: str = _f(_str(), "agentconsole/0.1")

    def __post_init__(self) -> None:
        if isinstance(self.password, str):
            object.__setattr__(self, "password", Secret(self.password))

    @property
    def aor_uri(self) -> SipUri:
        return _parse_sip("account.aor", self.aor)

    @property
    def registrar_uri(self) -> SipUri:
        """The registrar, by default ``sip:<domain of the aor>`` (RFC 3261 §10.2.6)."""
        if self.registrar:
            return _parse_sip("account.registrar", self.registrar)
        aor = self.aor_uri
        return SipUri(aor.scheme, aor.host, port=aor.port)

    @property
    def outbound_proxy_uri(self) -> SipUri | None:
        if not self.outbound_proxy:
            return None
        return _parse_sip("account.outbound_proxy", self.outbound_proxy)

    @property
    def effective_auth_user(self) -> str:
        if self.auth_user:
            return self.auth_user
        return unescape_user(self.aor_uri.user or "")

    @classmethod
    def _check(cls, kw: dict[str, Any], ctx: _Ctx, path: str) -> None:
        _check_account(kw, ctx, path)


def _parse_sip(key: str, text: str) -> SipUri:
    error = _sip_uri_error(text)
    uri = None if error else parse_uri(text)
    if not isinstance(uri, SipUri):
        raise ConfigError([ConfigProblem(key, None, error or "must be a SIP URI")])
    return uri


def _check_account(kw: dict[str, Any], ctx: _Ctx, path: str) -> None:
    aor = kw.get("aor")
    if isinstance(aor, str):
        uri = parse_uri(aor)
        if isinstance(uri, SipUri) and not uri.user:
            ctx.problem(_join(path, "aor"), "needs a user part (sip:user@domain)")
    transport = kw.get("transport", "udp")
    ws_url = kw.get("ws_url")
    if transport in ("ws", "wss"):
        if ws_url is None and _join(path, "ws_url") not in ctx.bad:
            ctx.problem(_join(path, "ws_url"), f"is required with transport {transport}")
        elif isinstance(ws_url, str):
            parts = urlsplit(ws_url)
            if parts.scheme.lower() != transport or not parts.hostname:
                ctx.problem(_join(path, "ws_url"), f"must be a {transport}:// URL")
    elif ws_url is not None:
        ctx.warn(_join(path, "ws_url"), f"is ignored with transport {transport}")
    _check_password(kw, ctx, path)
    tls = kw.get("tls")
    if isinstance(tls, TlsConfig) and not tls.verify and transport in ("tls", "wss"):
        ctx.warn(_join(path, "tls.verify"), "is false: the server certificate is not checked")


def _check_password(kw: dict[str, Any], ctx: _Ctx, path: str) -> None:
    found = _env_secret(kw, ctx, path, "password")
    if found is None and kw.get("register", True):
        if _join(path, "password") not in ctx.bad:
            ctx.problem(path, "needs password or password_env (or register: false)")
    elif found and kw.get("password_env") is None and ctx.file_mode is not None \
            and ctx.file_mode & 0o077:
        ctx.warn(_join(path, "password"),
                 "the file holding a password is readable by others (chmod 600, or use "
                 "password_env)")


@dataclass(frozen=True)
class SipConfig:
    local_host: str | None = _f(_str(nullable=True), None)
    local_port: int = _f(_int(0, 65535), 0)
    t1_ms: int = _f(_int(10, 60_000), 500)
    t2_ms: int = _f(_int(10, 600_000), 4000)
    t4_ms: int = _f(_int(10, 600_000), 5000)
    keepalive_s: float = _f(_num(0, 3600), 30.0)
    reconnect_min_s: float = _f(_num(0, 3600, open_lo=True), 2.0)
    reconnect_max_s: float = _f(_num(0, 86400, open_lo=True), 30.0)
    register_retry_s: float = _f(_num(0, 3600, open_lo=True), 30.0)
    max_message_size: int = _f(_int(4096, 16 * 1024 * 1024), 65536)
    # Session timers (RFC 4028): 1800 s is the recommended interval (§4) and 90 s the
    # smallest Min-SE allowed (§5).
    session_expires: int = _f(_int(90, 86400), 1800)
    min_se: int = _f(_int(90, 86400), 90)
    # Reliability bounds (README "Reliability bounds"): how fast a lost flow or binding
    # is found out and restored.
    reconnect_probe_s: float = _f(_num(0, 3600, open_lo=True), 4.0)
    reconnect_probe_window_s: float = _f(_num(0, 86400), 60.0)
    udp_register_refresh_s: float = _f(_num(0, 86400), 30.0)
    register_answer_timeout_s: float = _f(_num(0, 3600), 8.0)

    def timers(self) -> TimerConfig:
        """T1, T2 and T4 as the SIP core takes them (and the waits derived from them)."""
        return TimerConfig.from_ms(self.t1_ms, self.t2_ms, self.t4_ms)

    @classmethod
    def _check(cls, kw: dict[str, Any], ctx: _Ctx, path: str) -> None:
        if kw.get("t2_ms", 4000) < kw.get("t1_ms", 500):
            ctx.problem(_join(path, "t2_ms"), "must not be smaller than t1_ms")
        if kw.get("reconnect_max_s", 30.0) < kw.get("reconnect_min_s", 2.0):
            ctx.problem(_join(path, "reconnect_max_s"), "must not be smaller than reconnect_min_s")
        if 0 < kw.get("udp_register_refresh_s", 30.0) < 5:
            ctx.problem(_join(path, "udp_register_refresh_s"), "must be 0 (off) or at least 5")
        # Min-SE is the shortest interval we accept, so asking for less contradicts it.
        if kw.get("session_expires", 1800) < kw.get("min_se", 90):
            ctx.problem(_join(path, "session_expires"), "must not be smaller than min_se")


@dataclass(frozen=True)
class MediaConfig:
    ice_servers: tuple[str, ...] = _f(_list(_str(check=_ice_error)), ())
    host_addresses: tuple[str, ...] = _f(_list(_str(check=_ip_error), unique=True), ())
    codecs: tuple[str, ...] = _f(_list(_choice(CODECS), unique=True, nonempty=True), CODECS)
    dtmf_mode: str = _f(_choice(("auto", "rfc4733", "info")), "auto")
    # Plain RTP / SDES-SRTP beside WebRTC (issue 13): what we offer, and the RTP engine.
    profile: str = _f(_choice(MEDIA_PROFILES), "auto")
    rtp_port_min: int = _f(_int(1024, 65534), 16384)
    rtp_port_max: int = _f(_int(1025, 65535), 32767)
    symmetric_rtp: bool = _f(_bool, True)
    rtp_timeout_s: float = _f(_num(0, 3600), 30.0)
    rtp_timeout_hangup: bool = _f(_bool, False)

    @classmethod
    def _check(cls, kw: dict[str, Any], ctx: _Ctx, path: str) -> None:
        if kw.get("rtp_port_max", 32767) - kw.get("rtp_port_min", 16384) < 2:
            ctx.problem(_join(path, "rtp_port_max"),
                        "must leave room for an RTP/RTCP port pair above rtp_port_min")


@dataclass(frozen=True)
class PulseConfig:
    """``audio.pulse``: a PulseAudio/PipeWire server, typically the agent's own desktop
    reached through an SSH tunnel (README "Audio over SSH")."""

    server: str | None = _f(_str(nullable=True), None)  # null = $PULSE_SERVER
    latency_ms: int = _f(_int(10, 500), 40)
    rate: int = _f(_int(8000, 48000, choices=(8000, 16000, 24000, 48000)), 48000)


@dataclass(frozen=True)
class AudioConfig:
    backend: str = _f(_choice(("auto", "sounddevice", "pulse", "null", "tone", "file")),
                      "auto")
    input: str | int = _f(_str_or_int, "default")
    output: str | int = _f(_str_or_int, "default")
    ring: str | int = _f(_str_or_int, "default")
    ring_tone: str = _f(_choice(("us", "eu", "uk", "off")), "us")
    ringback_tone: str = _f(_choice(("us", "eu", "uk", "off")), "us")
    tone_hz: int = _f(_int(1, 20_000), 440)
    file_in: str | None = _f(_path(), None)
    file_out: str | None = _f(_path(), None)
    pulse: PulseConfig = _f(_nested(PulseConfig), factory=PulseConfig)

    @classmethod
    def _check(cls, kw: dict[str, Any], ctx: _Ctx, path: str) -> None:
        if kw.get("backend") == "file" and not kw.get("file_in"):
            ctx.problem(_join(path, "file_in"), "is required with backend: file")


@dataclass(frozen=True)
class FeatureCodes:
    start: str | None = _f(_str(nullable=True, check=_dtmf_error), None)
    stop: str | None = _f(_str(nullable=True, check=_dtmf_error), None)
    pause: str | None = _f(_str(nullable=True, check=_dtmf_error), None)
    resume: str | None = _f(_str(nullable=True, check=_dtmf_error), None)


@dataclass(frozen=True)
class RecordingConfig:
    mode: str = _f(_choice(("local", "feature_code")), "local")
    directory: str = _f(_path(), factory=_default_recording_dir)
    feature_codes: FeatureCodes = _f(_nested(FeatureCodes), factory=FeatureCodes)

    @classmethod
    def _check(cls, kw: dict[str, Any], ctx: _Ctx, path: str) -> None:
        codes = kw.get("feature_codes")
        if kw.get("mode") == "feature_code" and not (codes and codes.start):
            ctx.problem(_join(path, "feature_codes.start"), "is required with mode: feature_code")


@dataclass(frozen=True)
class CallsConfig:
    max_calls: int = _f(_int(1, 100), 2)
    auto_hold: bool = _f(_bool, True)
    reject_code: int = _f(_int(400, 699, choices=(486, 603, 480)), 486)
    no_answer_s: float = _f(_num(0, 86400), 300.0)
    dial_rate_limit_s: float = _f(_num(0, 60), 1.0)
    transfer_hangup_after: str = _f(_choice(("notify", "immediately")), "notify")
    trusted_refer_sources: tuple[str, ...] = _f(_list(_str()), ())


@dataclass(frozen=True)
class NotifyConfig:
    bell: bool = _f(_bool, True)
    osc9: bool = _f(_bool, False)


@dataclass(frozen=True)
class UiConfig:
    theme: str = _f(_str(), "agentconsole-dark")
    keymap: dict[str, str] = _f(_str_map, factory=dict)
    notify: NotifyConfig = _f(_nested(NotifyConfig), factory=NotifyConfig)


@dataclass(frozen=True)
class WrapupConfig:
    codes: tuple[str, ...] = _f(_list(_str(), unique=True), ())
    required: bool = _f(_bool, False)
    timeout_s: int | None = _f(_int(1, 86400, nullable=True), None)

    @classmethod
    def _check(cls, kw: dict[str, Any], ctx: _Ctx, path: str) -> None:
        if kw.get("required") and not kw.get("codes"):
            ctx.problem(_join(path, "required"), "is true but no wrap-up codes are listed")


@dataclass(frozen=True)
class AgentConfig:
    states: tuple[str, ...] = _f(
        _list(_str(), unique=True), ("Break", "Lunch", "Meeting", "Training")
    )
    dnd_code: int = _f(_int(400, 699, choices=(486, 480, 603, 600)), 486)
    away_code: int = _f(_int(400, 699, choices=(480, 486, 603, 600)), 480)
    #: After-call work turns new calls away like a queue would (486, so the PBX hunts
    #: on to the next agent); null lets calls ring during the wrap-up.
    acw_code: int | None = _f(_int(400, 699, nullable=True, choices=(486, 480, 603, 600)),
                              486)
    auto_away_on_missed: bool = _f(_bool, False)
    wrapup: WrapupConfig = _f(_nested(WrapupConfig), factory=WrapupConfig)


@dataclass(frozen=True)
class DirectoryEntry:
    name: str = _f(_str())
    number: str = _f(_str(check=_number_error))
    company: str | None = _f(_str(nullable=True), None)


@dataclass(frozen=True)
class RemoteConfig:
    """``remote``: the console detached from its terminal (agentconsole.remote)."""

    on_detach: str = _f(_choice(("away", "keep")), "away")


@dataclass(frozen=True)
class Config:
    """The whole configuration. Build it from YAML with :func:`load_config`, or in code."""

    account: AccountConfig = _f(_nested(AccountConfig))
    sip: SipConfig = _f(_nested(SipConfig), factory=SipConfig)
    media: MediaConfig = _f(_nested(MediaConfig), factory=MediaConfig)
    audio: AudioConfig = _f(_nested(AudioConfig), factory=AudioConfig)
    recording: RecordingConfig = _f(_nested(RecordingConfig), factory=RecordingConfig)
    calls: CallsConfig = _f(_nested(CallsConfig), factory=CallsConfig)
    ui: UiConfig = _f(_nested(UiConfig), factory=UiConfig)
    agent: AgentConfig = _f(_nested(AgentConfig), factory=AgentConfig)
    directory: tuple[DirectoryEntry, ...] = _f(_list(_nested(DirectoryEntry)), ())
    # The integration layer (agentconsole.config_integration, agentconsole.control).
    control: ControlConfig = _f(_nested(ControlConfig), factory=ControlConfig)
    hooks: tuple[HookConfig, ...] = _f(_list(_nested(HookConfig)), ())
    auto_answer: AutoAnswerConfig = _f(_nested(AutoAnswerConfig), factory=AutoAnswerConfig)
    # Detach and attach (agentconsole.remote).
    remote: RemoteConfig = _f(_nested(RemoteConfig), factory=RemoteConfig)
    # Not keys: where it came from and what was worth a warning.
    source: str | None = field(default=None, compare=False, repr=False)
    warnings: tuple[ConfigProblem, ...] = field(default=(), compare=False, repr=False)

    @staticmethod
    def default_path(env: Mapping[str, str] | None = None) -> Path:
        """``$AGENTCONSOLE_CONFIG``, else ``$XDG_CONFIG_HOME/agentconsole/config.yaml``."""
        return paths.default_config_path(env)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                     source: str | None = None) -> Config:
        """Validate plain Python data (as ``yaml.safe_load`` gives); lines are unknown."""
        ctx = _Ctx(os.environ if env is None else env, None, None)
        return _finish(ctx, dict(data), source)


def _finish(ctx: _Ctx, data: Any, source: str | None) -> Config:
    if data is not None and not isinstance(data, dict):
        ctx.problem("", "the config must be a mapping of sections (account:, sip:, ...)")
        raise ConfigError(ctx.problems, source)
    config = _build(Config, data if data is not None else {}, "", ctx)
    if ctx.problems or config is _BAD:
        problems = sorted(ctx.problems, key=lambda p: p.line if p.line is not None else 0)
        raise ConfigError(problems, source)
    result: Config = dataclasses.replace(config, source=source, warnings=tuple(ctx.warnings))
    return result


def parse_config(text: str, source: str = "<string>", *, env: Mapping[str, str] | None = None,
                 base_dir: Path | None = None, file_mode: int | None = None) -> Config:
    """Validate a YAML document; raise :class:`ConfigError` listing every problem."""
    ctx = _Ctx(os.environ if env is None else env, base_dir, file_mode)
    data = _read_yaml(text, source, ctx)
    return _finish(ctx, data, source)


def load_config(path: str | os.PathLike[str] | None = None, *,
                env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file (default: :meth:`Config.default_path`)."""
    file = Path(path) if path is not None else Config.default_path(env)
    source = str(file)
    try:
        raw = file.read_bytes()
        mode = file.stat().st_mode
    except OSError as exc:
        raise ConfigError([ConfigProblem("", None, f"cannot read: {exc.strerror}")], source) \
            from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem("", None, f"not UTF-8 text ({exc.reason})")], source) \
            from None
    return parse_config(text, source, env=env, base_dir=file.parent.resolve(), file_mode=mode)
