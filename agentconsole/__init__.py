"""agentconsole: a terminal softphone for call-centre agents.

The public API mirrors a WebRTC softphone SDK: :class:`Phone` (one account, the SDK's
PhoneOperator) and :class:`Session` (one call), both from :mod:`agentconsole.softphone`.
Importing this package stays light: the softphone, the Textual console and aiortc load
only when a name that needs them is first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .config import Config, load_config, parse_config
from .errors import AgentConsoleError, ConfigError, PhoneError

if TYPE_CHECKING:
    from .softphone.agent import AgentState, AgentStatus
    from .softphone.phone import Phone, RegistrationFailure
    from .softphone.session import Session
    from .softphone.status import CallStatus, StaticCallStatus, TimerType, TransferParent
    from .softphone.transfer_in import TransferRequest

__version__ = "0.1.0"

#: Public names loaded on first use, and the module each comes from.
_LAZY = {
    "Phone": "softphone.phone",
    "RegistrationFailure": "softphone.phone",
    "Session": "softphone.session",
    "TransferRequest": "softphone.transfer_in",
    "CallStatus": "softphone.status",
    "StaticCallStatus": "softphone.status",
    "TimerType": "softphone.status",
    "TransferParent": "softphone.status",
    "AgentState": "softphone.agent",
    "AgentStatus": "softphone.agent",
}

__all__ = [
    "AgentConsoleError",
    "AgentState",
    "AgentStatus",
    "CallStatus",
    "Config",
    "ConfigError",
    "Phone",
    "PhoneError",
    "RegistrationFailure",
    "Session",
    "StaticCallStatus",
    "TimerType",
    "TransferParent",
    "TransferRequest",
    "load_config",
    "parse_config",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentconsole' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
