"""Which media stack a call runs on: WebRTC (aiortc) or plain RTP / SDES-SRTP (ours).

- What we **offer** follows ``media.profile``: ``webrtc`` (``UDP/TLS/RTP/SAVPF``),
  ``rtp`` (``RTP/AVP``), ``srtp`` (``RTP/SAVP`` with SDES keys), or ``auto``, which reads
  the account's transport: a WebSocket (WS/WSS) means a WebRTC gateway is there, so
  WebRTC; UDP and TCP mean a classic SIP endpoint, so plain RTP; TLS means the
  signalling is protected, so the media keys it carries should be used: SRTP.
- What we **answer** follows the offer: a DTLS profile goes to aiortc, ``RTP/AVP(F)``
  and ``RTP/SAVP(F)`` to the plain engine, whatever the profile setting (RFC 3264 §6:
  the answerer takes the offerer's transport).

Cheap to import: no aiortc, no av.
"""

from __future__ import annotations

from .sdp import DTLS_PROTOS, SdpError, parse_sdp

WEBRTC, RTP, SRTP = "webrtc", "rtp", "srtp"
_AUTO = {"ws": WEBRTC, "wss": WEBRTC, "udp": RTP, "tcp": RTP, "tls": SRTP}


def offer_profile(profile: str, transport: str) -> str:
    """The profile of our offers: ``webrtc``, ``rtp`` or ``srtp``."""
    if profile != "auto":
        return profile
    return _AUTO.get(transport.lower(), RTP)


def answer_profile(offer: str) -> str | None:
    """The stack that answers ``offer``: ``webrtc``, ``rtp`` or ``srtp``; None when the
    offer has no audio or cannot be read (the check before it answers 488)."""
    try:
        session = parse_sdp(offer)
    except SdpError:
        return None
    audio = [m for m in session.media if m.kind == "audio" and m.port != 0]
    if not audio:
        return None
    for media in audio:
        if media.proto in DTLS_PROTOS:
            return WEBRTC
        if media.proto.startswith("RTP/"):
            secure = media.proto.startswith("RTP/SAVP") or bool(media.attribute("crypto"))
            return SRTP if secure else RTP
    return None


def webrtc_offer(offer: str) -> bool | None:
    """Whether ``offer`` is for the WebRTC stack (True) or the plain one (False); None
    when it cannot be read or has no audio (whichever stack holds the call refuses it).
    Each stack's ``serves`` asks this: a re-offer for the other one makes the call
    build the other engine (RFC 3264 §8, see :mod:`agentconsole.softphone.call_media`)."""
    found = answer_profile(offer)
    return None if found is None else found == WEBRTC


def media_profile(profile: str, transport: str, offer: bytes | str | None = None) -> str:
    """The stack for a new call: the offer's when there is one, else ours."""
    if offer:
        text = offer.decode("utf-8", "replace") if isinstance(offer, bytes) else offer
        found = answer_profile(text)
        if found is not None:
            return found
    return offer_profile(profile, transport)
