"""Reading a method's ``params`` object: typed getters that fail with -32602 and say why.

A method declares the names it takes; anything else is refused rather than ignored, so
a misspelt ``call_Id`` is an error instead of an action on the wrong call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .protocol import INVALID_PARAMS, RpcError


class Params:
    """``params`` of one request, checked against the names the method accepts."""

    def __init__(self, method: str, params: dict[str, Any], allowed: Iterable[str]) -> None:
        self.method = method
        self.raw = params
        allowed = tuple(allowed)
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            takes = ", ".join(allowed) if allowed else "no parameters"
            raise self.error(f"unknown parameter {unknown[0]!r} ({self.method} takes "
                             f"{takes})")

    def error(self, message: str) -> RpcError:
        return RpcError(INVALID_PARAMS, f"{self.method}: {message}")

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise self.error(f"{name} is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{name} must be a non-empty string")
        return value

    def required_text(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def flag(self, name: str) -> bool | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.error(f"{name} must be true or false")
        return value

    def number(self, name: str, lo: float, hi: float) -> float | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or not lo <= value <= hi:
            raise self.error(f"{name} must be a number from {lo:g} to {hi:g}")
        return float(value)

    def integer(self, name: str, choices: tuple[int, ...]) -> int | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value not in choices:
            raise self.error(f"{name} must be one of {', '.join(map(str, choices))}")
        return value

    def names(self, name: str, known: Iterable[str]) -> list[str] | None:
        """A list of names, each one of ``known``."""
        value = self.raw.get(name)
        if value is None:
            return None
        known = tuple(known)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(f"{name} must be a list of strings")
        unknown = [v for v in value if v not in known]
        if unknown:
            raise self.error(f"unknown {name[:-1] if name.endswith('s') else name} "
                             f"{unknown[0]!r} (known: {', '.join(known)})")
        return list(value)


__all__ = ["Params"]
