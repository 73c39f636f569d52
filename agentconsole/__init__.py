"""agentconsole: a terminal softphone for call-centre agents.

The public API mirrors a WebRTC softphone SDK: :class:`Phone` (one account) and, with
the calls layer, ``Session`` (one call). Importing this package stays light: the
Textual console and aiortc load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import Config, load_config, parse_config
from .errors import AgentConsoleError, ConfigError, PhoneError

if TYPE_CHECKING:
    from .softphone.phone import Phone

__version__ = "0.1.0"

__all__ = [
    "AgentConsoleError",
    "Config",
    "ConfigError",
    "Phone",
    "PhoneError",
    "load_config",
    "parse_config",
]


def __getattr__(name: str) -> Any:
    if name == "Phone":
        from .softphone.phone import Phone

        return Phone
    raise AttributeError(name)
