"""In-call media features of a Session: DTMF and recording (filled in by the in-call issue)."""

from __future__ import annotations

from typing import Any


class SessionMediaMixin:
    """DTMF (RFC 4733 / SIP INFO) and recording for :class:`~agentconsole.session.Session`."""

    def _on_extra_event(self, event: Any) -> bool:
        """Handle a call event the Session core does not; True when handled."""
        parent = super()
        handler = getattr(parent, "_on_extra_event", None)
        return bool(handler(event)) if handler is not None else False
