"""Events the sans-IO user agent hands to the layer above (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .message import Request, Response

if TYPE_CHECKING:
    from .invite import CallLeg

Address = tuple[str, int]


@dataclass(frozen=True)
class RegistrationStateChanged:
    """The binding changed: ``registered`` with the SIP ``status`` that caused it.

    ``expires`` is the granted interval on success; ``retry_in`` the back-off before the
    next attempt on failure (None when no retry is scheduled); ``final`` marks the end
    of an un-REGISTER.
    """

    registered: bool
    status: int
    reason: str
    expires: int | None = None
    retry_in: float | None = None
    final: bool = False


@dataclass(frozen=True)
class IncomingRequest:
    """A request the core did not answer by itself; the application must respond.

    ``transaction`` is the server transaction to respond on (opaque to the caller; pass
    it back to :meth:`UserAgent.send_response`).
    """

    request: Request
    transaction: object


@dataclass(frozen=True)
class MessageDropped:
    """Bytes from ``source`` that were dropped, and why (for the trace screen and tests)."""

    source: Address
    reason: str


# ----- calls (one INVITE dialog usage each; see :mod:`.invite`) -----------------------------
@dataclass(frozen=True)
class CallIncoming(IncomingRequest):
    """A new INVITE became a :class:`~.invite.CallLeg`; call ``ring``/``answer``/``reject``.

    It is an :class:`IncomingRequest` (``request`` is the INVITE, ``transaction`` its
    server transaction) so code that only knows that event still sees the INVITE; match
    ``CallIncoming`` first.
    """

    leg: CallLeg


@dataclass(frozen=True)
class CallProgress:
    """A provisional response to our INVITE (``sdp`` is early media, if any)."""

    leg: CallLeg
    status: int
    reason: str
    sdp: bytes | None = None


@dataclass(frozen=True)
class CallAnswered:
    """A 2xx to our INVITE; the core has already sent the ACK (RFC 3261 §13.2.2.4).
    ``response`` is that 2xx: its P-Asserted-Identity says who answered (RFC 3325)."""

    leg: CallLeg
    sdp: bytes | None
    response: Response | None = None


@dataclass(frozen=True)
class CallConfirmed:
    """The ACK to our 2xx arrived; ``sdp`` is the answer when our 2xx carried the offer.

    ``reinvite`` is True for the ACK of a re-INVITE (only reported when it has a body).
    """

    leg: CallLeg
    sdp: bytes | None
    reinvite: bool = False


@dataclass(frozen=True)
class CallFailed:
    """The call ended before it was established (no 2xx was sent or received).

    ``cause`` is one of the JsSIP cause strings (Busy, Rejected, Canceled, ...).
    """

    leg: CallLeg
    status: int
    reason: str
    cause: str


@dataclass(frozen=True)
class CallEnded:
    """An established call ended: ``cause`` is Terminated, No ACK, Dialog Error,
    Connection Error or Expires; ``status`` the SIP status involved, if any."""

    leg: CallLeg
    cause: str
    status: int | None = None
    by_remote: bool = False


@dataclass(frozen=True)
class ReinviteReceived:
    """A re-INVITE or UPDATE with an offer (or an offerless re-INVITE: ``sdp`` None).

    Answer it with :meth:`UserAgent.answer_reinvite`.
    """

    leg: CallLeg
    sdp: bytes | None
    method: str = "INVITE"


@dataclass(frozen=True)
class ReinviteResult:
    """The outcome of :meth:`UserAgent.reinvite`; a failure leaves the call up (§14.1)."""

    leg: CallLeg
    ok: bool
    status: int
    sdp: bytes | None = None


@dataclass(frozen=True)
class DialogRefreshed:
    """The peer's re-INVITE or UPDATE was accepted (2xx sent), a target refresh
    (RFC 3261 §12.2). ``request`` is what the peer sent, for the headers the layer above
    reads: a new P-Asserted-Identity (RFC 3325) or Remote-Party-ID after a PBX transferred
    the call, or a changed From, is the connected identity of RFC 4916.
    """

    leg: CallLeg
    request: Request


@dataclass(frozen=True)
class InfoReceived:
    """An INFO inside a call (answered 200 by the core)."""

    leg: CallLeg
    content_type: str
    body: bytes


# ----- transfer (REFER / NOTIFY, RFC 3515; see :mod:`.transfer`) ----------------------------
@dataclass(frozen=True)
class ReferAccepted:
    """Our REFER got a 2xx (usually 202). ``subscribed`` is False when the peer declined
    the implicit subscription (RFC 4488 ``Refer-Sub: false``): no progress will come."""

    leg: CallLeg
    status: int
    subscribed: bool = True


@dataclass(frozen=True)
class ReferFailed:
    """Our REFER was refused (or timed out: 408, transport error: 503); the call is
    untouched unless the status says the dialog is gone (481/408, RFC 3261 §12.2.1.2)."""

    leg: CallLeg
    status: int
    reason: str = ""


@dataclass(frozen=True)
class TransferProgress:
    """A NOTIFY of our REFER's subscription (answered 200 by the core): ``status`` and
    ``reason`` come from its sipfrag (0 when it had none); ``final`` when the
    subscription ended (``Subscription-State: terminated``, a final sipfrag status, or
    no NOTIFY in time: status 408)."""

    leg: CallLeg
    status: int
    reason: str
    final: bool


@dataclass(frozen=True)
class ReferReceived:
    """The peer asks us to call ``target`` (RFC 3515). Decide with
    :meth:`UserAgent.accept_refer` or :meth:`UserAgent.reject_refer`.

    ``refer_to`` is the Refer-To value as received; ``target`` its URI without the
    header part; ``replaces`` the embedded Replaces value, unescaped (put it in the new
    INVITE's Replaces header); ``referred_by`` the Referred-By value; ``source`` where
    the REFER came from.
    """

    leg: CallLeg
    refer_to: str
    replaces: str | None
    referred_by: str | None
    target: str = ""
    source: Address | None = None


CallEvent = (
    CallIncoming | CallProgress | CallAnswered | CallConfirmed | CallFailed | CallEnded
    | ReinviteReceived | ReinviteResult | InfoReceived | DialogRefreshed
    | ReferAccepted | ReferFailed | TransferProgress | ReferReceived
)

UAEvent = RegistrationStateChanged | IncomingRequest | MessageDropped | CallEvent
