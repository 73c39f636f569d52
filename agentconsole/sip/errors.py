"""Protocol errors of the sans-IO SIP core.

Split as h11 does: a :class:`RemoteProtocolError` means the peer sent something we
cannot accept (answer 400 or drop it); a :class:`LocalProtocolError` means our own
code asked for something the protocol forbids (a bug or a misuse of the API).
"""

from __future__ import annotations


class SipError(Exception):
    """Base class of every error raised by :mod:`agentconsole.sip`."""


class RemoteProtocolError(SipError):
    """The peer sent bytes that are not a valid SIP message.

    ``status`` is the response code to answer with when the message was a request
    that can still be answered (400 by default, 505 for a bad version, ...).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ParseError(RemoteProtocolError):
    """A message, header or URI could not be parsed."""


class LocalProtocolError(SipError):
    """Our side tried to do something the protocol does not allow."""
