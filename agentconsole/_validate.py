"""Config validation machinery: YAML nodes to plain data, plain data to frozen dataclasses.

:mod:`agentconsole.config` declares the schema (one dataclass per section, each field
carrying a converter in its metadata); this module holds everything that schema is built
from and run by, and knows nothing about the sections themselves:

* :class:`_Ctx` collects every problem and warning with its key path and source line, so a
  file is reported in one go rather than one error per run;
* the converters (``_str``, ``_int``, ``_list``, ``_path``, ``_nested`` ...) and ``_f``,
  which attaches one to a dataclass field; plus the small value checks (SIP URI, DTMF,
  ICE URL, IP address);
* :func:`_build`, which turns a mapping into a dataclass, rejecting unknown keys;
* :func:`_read_yaml`, which composes the YAML with the safe loader and walks the nodes
  itself, so each value keeps its line and a duplicated key is an error rather than a
  silent overwrite, while scalars get exactly ``yaml.safe_load`` semantics.

A converter reports a problem through the context and returns ``_BAD``; it never raises.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, ConfigProblem
from .sip.auth import Secret
from .sip.errors import ParseError
from .sip.uri import SipUri, parse_uri

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


def _env_secret(kw: dict[str, Any], ctx: _Ctx, path: str, key: str) -> bool | None:
    """A secret given as ``key`` or as ``<key>_env`` (the environment variable holding it),
    which is read into ``kw[key]``. Reports giving both, or a variable unset or empty, and
    returns False then; True when ``kw[key]`` holds the secret; None when neither is given."""
    secret, env_name = kw.get(key), kw.get(f"{key}_env")
    if secret is not None and env_name is not None:
        ctx.problem(_join(path, key), f"give {key} or {key}_env, not both")
        return False
    if env_name is None:
        return True if secret is not None else None
    value = ctx.env.get(env_name)
    if not value:
        state = "empty" if value == "" else "not set"
        ctx.problem(_join(path, f"{key}_env"), f"environment variable {env_name} is {state}")
        return False
    kw[key] = Secret(value)
    return True


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


def _read_yaml(text: str, source: str, ctx: _Ctx) -> Any:
    """The YAML document as plain data, its lines recorded in ``ctx``.

    Raises :class:`ConfigError` on a syntax error, or when alias expansion or nesting
    makes the document too large or too deep to walk.
    """
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            return _Walker(loader, ctx).walk(node, "") if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(exc, text)], source) from None
    except (_TooBig, RecursionError):
        raise ConfigError([ConfigProblem("", None, "document too large or too deep")],
                          source) from None
