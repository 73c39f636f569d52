"""Reconnect back-off for dropped flows: the sans-IO :class:`~agentconsole.sip.backoff.Backoff`
(doubling, a cap, 50–100 % randomization per RFC 5626 §4.5, and a probing phase that
keeps retrying at least every ``probe_s`` during the first minute of an outage).

The registration state machine uses the same schedule after a registrar stopped
answering, so a flow and a binding come back on the same bounds.
"""

from __future__ import annotations

from ..sip.backoff import Backoff

__all__ = ["Backoff"]
