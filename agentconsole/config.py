"""Typed configuration: YAML in, frozen dataclasses out, every problem reported at once.

The YAML is composed into nodes (``yaml.compose`` with the safe loader) rather than loaded
straight to Python, so each problem can name its key path *and* line, and a duplicated key
is an error instead of a silent overwrite. Scalars are then constructed with the safe
constructor, i.e. exactly ``yaml.safe_load`` semantics. Validation is declarative: each
dataclass field carries a converter in its metadata; unknown keys anywhere are errors.

The password is held in a :class:`Secret` and never appears in a repr, an error or a log.
Warnings (a world-readable file holding a password, TLS without verification ...) do not
stop loading; they are returned in :attr:`Config.warnings` for the caller to show.
Key contract: DESIGN.md §6.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .errors import ConfigError, ConfigProblem
from .sip.auth import Secret
from .sip.errors import ParseError
from .sip.uri import SipUri, parse_uri, unescape_user

__all__ = [
    "AccountConfig", "AgentConfig", "AudioConfig", "CallsConfig", "Config", "ConfigError",
    "ConfigProblem", "DirectoryEntry", "FeatureCodes", "MediaConfig", "NotifyConfig",
    "RecordingConfig", "Secret", "SipConfig", "TlsConfig", "UiConfig", "WrapupConfig",
    "load_config", "parse_config",
]


TRANSPORTS = ("udp", "tcp", "tls", "ws", "wss")
CODECS = ("opus", "G722", "PCMU", "PCMA")
_BAD: Any = object()  # a converter's "already reported, no value" marker
_MAX_NODES = 100_000  # bounds alias expansion ("billion laughs")

Conv = Callable[["_Ctx", Any, str], Any]


# ----- validation context ---------------------------------------------------------------


class _Ctx:
    def __init__(self, env: Mapping[str, str], base_dir: Path | None, file_mode: int | None):
        self.env = env
        self.base_dir = base_dir
        self.file_mode = file_mode
        self.lines: dict[str, int] = {}
        self.raw: dict[str, str] = {}  # plain-scalar source text, for string fields
        self.problems: list[ConfigProblem] = []
        self.warnings: list[ConfigProblem] = []
        self.bad: set[str] = set()  # paths that already have a problem

    def line(self, path: str) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            cut = max(path.rfind("."), path.rfind("["))
            path = path[: max(cut, 0)]

    def problem(self, path: str, message: str) -> Any:
        self.problems.append(ConfigProblem(path, self.line(path), message))
        self.bad.add(path)
        return _BAD

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(ConfigProblem(path, self.line(path), message))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ----- converters ----------------------------------------------------------------------------


def _as_text(ctx: _Ctx, value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return value
    raw = ctx.raw.get(path)  # "password: 0123" stays "0123", not 83
    if raw is not None:
        return raw
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _str(*, nullable: bool = False, check: Callable[[str], str | None] | None = None) -> Conv:
    def conv(ctx: _Ctx, value: Any, path: str) -> Any:
        if value is None:
            return None if nullable else ctx.problem(path, "is required")
        text = _as_text(ctx, value, path)
        if text is None:
            return ctx.problem(path, "must be a string")
        if not text.strip():
            return ctx.problem(path, "must not be empty")
        error = check(text) if check else None
        return ctx.problem(path, error) if error else text

    return conv


def _secret(ctx: _Ctx, value: Any, path: str) -> Any:
    if value is None or isinstance(value, Secret):
        return value
    text = _as_text(ctx, value, path)
    if not text:
        return ctx.problem(path, "must be a non-empty string (quote it)")
    return Secret(text)


def _int(lo: int, hi: int, *, nullable: bool = False, choices: tuple[int, ...] = ()) -> Conv:
    def conv(ctx: _Ctx, value: Any, path: str) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            return ctx.problem(path, "must be a whole number")
        if choices and value not in choices:
            return ctx.problem(path, f"must be one of {', '.join(map(str, choices))}")
        if not lo <= value <= hi:
            return ctx.problem(path, f"must be between {lo} and {hi} (got {value})")
        return value

    return conv


def _num(lo: float, hi: float, *, open_lo: bool = False) -> Conv:
    def conv(ctx: _Ctx, value: Any, path: str) -> Any:
        if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
            return ctx.problem(path, "must be a number")
        if value < lo or value > hi or (open_lo and value == lo):
            low = f"greater than {lo:g}" if open_lo else f"at least {lo:g}"
            return ctx.problem(path, f"must be {low} and at most {hi:g} (got {value:g})")
        return float(value)

    return conv


def _bool(ctx: _Ctx, value: Any, path: str) -> Any:
    return value if isinstance(value, bool) else ctx.problem(path, "must be true or false")


def _choice(options: tuple[str, ...]) -> Conv:
    by_lower = {o.lower(): o for o in options}

    def conv(ctx: _Ctx, value: Any, path: str) -> Any:
        if isinstance(value, str) and value.lower() in by_lower:
            return by_lower[value.lower()]
        return ctx.problem(path, f"must be one of {', '.join(options)} (got {value!r})")

    return conv


def _list(item: Conv, *, unique: bool = False, nonempty: bool = False) -> Conv:
    def conv(ctx: _Ctx, value: Any, path: str) -> Any:
        if value is None:
            value = []
        if not isinstance(value, list):
            return ctx.problem(path, "must be a list")
        if nonempty and not value:
            return ctx.problem(path, "must not be empty")
        out: list[Any] = []
        for i, element in enumerate(value):
            converted = item(ctx, element, f"{path}[{i}]")
            if converted is _BAD:
                continue
            if unique and converted in out:
                ctx.problem(f"{path}[{i}]", f"{converted!r} is listed twice")
                continue
            out.append(converted)
        return tuple(out)

    return conv


def _str_or_int(ctx: _Ctx, value: Any, path: str) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip():
        return value
    return ctx.problem(path, "must be a device name or a non-negative index")


def _path(*, must_exist: bool = False) -> Conv:
    def conv(ctx: _Ctx, value: Any, path: str) -> Any:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            return ctx.problem(path, "must be a file path")
        resolved = Path(value).expanduser()
        if not resolved.is_absolute() and ctx.base_dir is not None:
            resolved = ctx.base_dir / resolved
        if must_exist and not resolved.is_file():
            return ctx.problem(path, f"file not found: {resolved}")
        return str(resolved)

    return conv


def _str_map(ctx: _Ctx, value: Any, path: str) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        return ctx.problem(path, "must be a mapping")
    out: dict[str, str] = {}
    for key, item in value.items():
        text = _str()(ctx, item, _join(path, str(key)))
        if text is not _BAD:
            out[str(key)] = text
    return out


def _nested(cls: type) -> Conv:
    def conv(ctx: _Ctx, value: Any, path: str) -> Any:
        return _build(cls, value, path, ctx)

    return conv


def _f(conv: Conv, default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING,
       repr: bool = True) -> Any:
    return field(default=default, default_factory=factory, repr=repr, metadata={"conv": conv})


def _sip_uri_error(text: str) -> str | None:
    try:
        uri = parse_uri(text)
    except ParseError as exc:
        # Never echo a URI that might carry a password in its userinfo.
        userinfo = text.partition(":")[2].rpartition("@")[0]
        return "is not a valid SIP URI" + ("" if ":" in userinfo else f" ({exc})")
    if not isinstance(uri, SipUri):
        return "must be a sip: or sips: URI"
    if uri.password is not None:
        return "must not contain a password (use account.password or password_env)"
    return None


def _dtmf_error(text: str) -> str | None:
    ok = re.fullmatch(r"[0-9*#A-Da-d]+", text)
    return None if ok else "must be DTMF digits (0-9 * # A-D); quote codes starting with *"


def _ice_error(text: str) -> str | None:
    ok = re.match(r"(stun|stuns|turn|turns):[^\s]+$", text)
    return None if ok else "must be a stun:, stuns:, turn: or turns: URL"


def _ip_error(text: str) -> str | None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return f"is not an IP address: {text!r}"
    return None


def _number_error(text: str) -> str | None:
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return "must not contain control characters"
    return None


def _default_recording_dir() -> str:
    data = os.environ.get("XDG_DATA_HOME") or str(Path("~/.local/share").expanduser())
    return str(Path(data) / "agentconsole" / "recordings")


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
    secret, env_name = kw.get("password"), kw.get("password_env")
    if secret is not None and env_name is not None:
        ctx.problem(_join(path, "password"), "give password or password_env, not both")
        return
    if env_name is not None:
        value = ctx.env.get(env_name)
        if not value:
            state = "empty" if value == "" else "not set"
            ctx.problem(_join(path, "password_env"), f"environment variable {env_name} is {state}")
        else:
            kw["password"] = Secret(value)
    elif secret is None and kw.get("register", True):
        if _join(path, "password") not in ctx.bad:
            ctx.problem(path, "needs password or password_env (or register: false)")
    elif secret is not None and ctx.file_mode is not None and ctx.file_mode & 0o077:
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

    @classmethod
    def _check(cls, kw: dict[str, Any], ctx: _Ctx, path: str) -> None:
        if kw.get("t2_ms", 4000) < kw.get("t1_ms", 500):
            ctx.problem(_join(path, "t2_ms"), "must not be smaller than t1_ms")
        if kw.get("reconnect_max_s", 30.0) < kw.get("reconnect_min_s", 2.0):
            ctx.problem(_join(path, "reconnect_max_s"), "must not be smaller than reconnect_min_s")


@dataclass(frozen=True)
class MediaConfig:
    ice_servers: tuple[str, ...] = _f(_list(_str(check=_ice_error)), ())
    host_addresses: tuple[str, ...] = _f(_list(_str(check=_ip_error), unique=True), ())
    codecs: tuple[str, ...] = _f(_list(_choice(CODECS), unique=True, nonempty=True), CODECS)
    dtmf_mode: str = _f(_choice(("auto", "rfc4733", "info")), "auto")


@dataclass(frozen=True)
class AudioConfig:
    backend: str = _f(_choice(("auto", "sounddevice", "null", "tone", "file")), "auto")
    input: str | int = _f(_str_or_int, "default")
    output: str | int = _f(_str_or_int, "default")
    ring: str | int = _f(_str_or_int, "default")
    tone_hz: int = _f(_int(1, 20_000), 440)
    file_in: str | None = _f(_path(), None)
    file_out: str | None = _f(_path(), None)

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
    wrapup: WrapupConfig = _f(_nested(WrapupConfig), factory=WrapupConfig)


@dataclass(frozen=True)
class DirectoryEntry:
    name: str = _f(_str())
    number: str = _f(_str(check=_number_error))
    company: str | None = _f(_str(nullable=True), None)


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
    # Not keys: where it came from and what was worth a warning.
    source: str | None = field(default=None, compare=False, repr=False)
    warnings: tuple[ConfigProblem, ...] = field(default=(), compare=False, repr=False)

    @staticmethod
    def default_path(env: Mapping[str, str] | None = None) -> Path:
        """``$AGENTCONSOLE_CONFIG``, else ``$XDG_CONFIG_HOME/agentconsole/config.yaml``."""
        env = os.environ if env is None else env
        explicit = env.get("AGENTCONSOLE_CONFIG")
        if explicit:
            return Path(explicit).expanduser()
        base = env.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
        return Path(base) / "agentconsole" / "config.yaml"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                     source: str | None = None) -> Config:
        """Validate plain Python data (as ``yaml.safe_load`` gives); lines are unknown."""
        ctx = _Ctx(os.environ if env is None else env, None, None)
        return _finish(ctx, dict(data), source)


# ----- building dataclasses from plain data -------------------------------------------------


def _build(cls: type, value: Any, path: str, ctx: _Ctx) -> Any:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return ctx.problem(path, "must be a mapping of keys")
    fields = {f.name: f for f in dataclasses.fields(cls) if "conv" in f.metadata}
    kw: dict[str, Any] = {}
    for key, item in value.items():
        sub = _join(path, str(key))
        spec = fields.get(key) if isinstance(key, str) else None
        if spec is None:
            hint = difflib.get_close_matches(str(key), list(fields), n=1)
            ctx.problem(sub, "unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
            continue
        converted = spec.metadata["conv"](ctx, item, sub)
        kw[key] = converted
    bad = {k for k, v in kw.items() if v is _BAD}
    kw = {k: v for k, v in kw.items() if v is not _BAD}
    for name, spec in fields.items():
        missing = dataclasses.MISSING
        required = spec.default is missing and spec.default_factory is missing
        if required and name not in kw and name not in bad:
            ctx.problem(_join(path, name), "is required")
            bad.add(name)
    check = getattr(cls, "_check", None)
    if check is not None:
        check(kw, ctx, path)
    if bad:
        return _BAD
    return cls(**kw)


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


# ----- YAML nodes -> plain data, with line numbers ------------------------------------------


def _yaml_problem(exc: yaml.YAMLError, text: str) -> ConfigProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    what = " ".join(p for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
    lines = text.splitlines()
    if line is not None and line <= len(lines) and "password" in lines[line - 1].lower():
        what = "YAML syntax error (details hidden: the line holds a password; quote its value)"
    return ConfigProblem("", line, what or "YAML syntax error")


class _Walker:
    def __init__(self, loader: yaml.SafeLoader, ctx: _Ctx) -> None:
        self.loader = loader
        self.ctx = ctx
        self.count = 0
        self.stack: set[int] = set()

    def walk(self, node: yaml.Node, path: str) -> Any:
        self.count += 1
        if self.count > _MAX_NODES:
            raise _TooBig
        self.ctx.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            value = self.loader.construct_object(node, deep=True)
            if node.style is None and not isinstance(value, str) and value is not None:
                self.ctx.raw[path] = node.value
            return value
        if id(node) in self.stack:
            return self.ctx.problem(path, "recursive alias")
        self.stack.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.walk(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self.walk_mapping(node, path)
        finally:
            self.stack.discard(id(node))

    def walk_mapping(self, node: yaml.MappingNode, path: str) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.loader.construct_object(key_node, deep=True)
            if isinstance(key, list | dict) or key in seen:
                sub = _join(path, str(key))
                self.ctx.lines[sub] = key_node.start_mark.line + 1
                self.ctx.problem(sub, "duplicate key" if key in seen else "bad key")
            seen.add(key if not isinstance(key, list | dict) else id(key))
        self.loader.flatten_mapping(node)  # "<<" merge keys, as safe_load does
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue
            sub = _join(path, str(key))
            self.ctx.lines[sub] = key_node.start_mark.line + 1
            out[key] = self.walk(value_node, sub)
        return out


class _TooBig(Exception):
    pass


def parse_config(text: str, source: str = "<string>", *, env: Mapping[str, str] | None = None,
                 base_dir: Path | None = None, file_mode: int | None = None) -> Config:
    """Validate a YAML document; raise :class:`ConfigError` listing every problem."""
    ctx = _Ctx(os.environ if env is None else env, base_dir, file_mode)
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = _Walker(loader, ctx).walk(node, "") if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(exc, text)], source) from None
    except (_TooBig, RecursionError):
        raise ConfigError([ConfigProblem("", None, "document too large or too deep")],
                          source) from None
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
