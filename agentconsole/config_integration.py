"""Config sections of the integration layer: ``control:``, ``hooks:``, ``auto_answer:``.

Declared like the rest of the schema (:mod:`agentconsole.config`, converters from
:mod:`agentconsole._validate`) and kept in their own module so the main schema stays
small. What the keys do is documented in ``config.example.yaml`` and the README's
"Integration" section.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import paths
from ._validate import (
    _bool,
    _choice,
    _Ctx,
    _env_secret,
    _f,
    _int,
    _join,
    _list,
    _nested,
    _num,
    _path,
    _secret,
    _str,
    _str_map,
)
from .hook_templates import template_error
from .sip.auth import Secret

#: Events a hook can be attached to.
HOOK_EVENTS = ("incoming", "confirmed", "ended", "wrapup", "agent_state")
#: The WebSocket endpoint's default port (``control.websocket.port``).
DEFAULT_WS_PORT = 8765


def _origin_error(text: str) -> str | None:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname \
            or parts.path not in ("", "/") or parts.query or parts.fragment:
        return "must be an origin such as https://crm.example.com (scheme, host, port only)"
    return None


def _url_template_error(text: str) -> str | None:
    error = template_error(text)
    if error:
        return error
    if urlsplit(text).scheme.lower() not in ("http", "https"):
        return "must be an http:// or https:// URL"
    return None


@dataclass(frozen=True)
class WebSocketConfig:
    """The optional WebSocket endpoint for browser CRMs (off by default)."""

    enabled: bool = _f(_bool, False)
    host: str = _f(_str(), "127.0.0.1")
    port: int = _f(_int(0, 65535), DEFAULT_WS_PORT)  # 0: any free port (tests)
    token: Secret | None = _f(_secret, None, repr=False)
    token_env: str | None = _f(_str(nullable=True), None)
    origins: tuple[str, ...] = _f(_list(_str(check=_origin_error), unique=True), ())

    @classmethod
    def _check(cls, kw: dict[str, Any], ctx: _Ctx, path: str) -> None:
        if not kw.get("enabled"):
            return  # a token_env left in a config with the endpoint off is no problem
        found = _env_secret(kw, ctx, path, "token")
        if found is None and _join(path, "token") not in ctx.bad:
            ctx.problem(path, "needs token or token_env when enabled (clients must "
                              "present it)")
        host = kw.get("host", "127.0.0.1")
        if isinstance(host, str) and not _is_loopback(host):
            ctx.warn(_join(path, "host"), f"is {host}: the endpoint is reachable beyond "
                                          "this machine")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ControlConfig:
    """The control socket (on by default, for this user only)."""

    enabled: bool = _f(_bool, True)
    socket: str | None = _f(_path(), None)
    websocket: WebSocketConfig = _f(_nested(WebSocketConfig), factory=WebSocketConfig)

    @property
    def socket_path(self) -> Path:
        """``control.socket``, else ``$XDG_RUNTIME_DIR/agentconsole/control.sock``."""
        return Path(self.socket) if self.socket else paths.control_socket_path()


@dataclass(frozen=True)
class HookConfig:
    """One hook: on ``event``, run a program (``run``: argv) or request ``url``."""

    event: str = _f(_choice(HOOK_EVENTS))
    run: tuple[str, ...] | None = _f(_list(_str(check=template_error), nonempty=True), None)
    url: str | None = _f(_str(nullable=True, check=_url_template_error), None)
    method: str = _f(_choice(("GET", "POST")), "GET")
    headers: dict[str, str] = _f(_str_map, factory=dict, repr=False)
    timeout_s: float = _f(_num(0, 300, open_lo=True), 10.0)

    @classmethod
    def _check(cls, kw: dict[str, Any], ctx: _Ctx, path: str) -> None:
        has_run, has_url = kw.get("run") is not None, kw.get("url") is not None
        bad = {_join(path, "run"), _join(path, "url")} & ctx.bad
        if has_run == has_url and not bad:
            ctx.problem(path, "give either run (a program and its arguments) or url")
        if has_run and (kw.get("method", "GET") != "GET" or kw.get("headers")):
            ctx.problem(_join(path, "method"), "method and headers apply to url hooks only")
        for name, value in (kw.get("headers") or {}).items():
            error = template_error(value)
            if error:
                ctx.problem(_join(path, f"headers.{name}"), error)


@dataclass(frozen=True)
class AutoAnswerConfig:
    """Answering without the agent's key: on request from a trusted PBX, or every queue
    call after ``delay_s`` (the agent's mode, toggled from the console and the socket)."""

    agent_mode: bool = _f(_bool, False)
    delay_s: float = _f(_num(0, 60), 3.0)
    queue_calls_only: bool = _f(_bool, True)
    beep: bool = _f(_bool, True)
    requests_from: tuple[str, ...] = _f(_list(_str(), unique=True), ())


__all__ = ["DEFAULT_WS_PORT", "HOOK_EVENTS", "AutoAnswerConfig", "ControlConfig",
           "HookConfig", "WebSocketConfig"]
