"""The media engine of a new call: WebRTC (aiortc) or plain RTP / SDES-SRTP (ours).

An inbound call's engine follows the offer it came with (RFC 3264 §6: the answerer
takes the offerer's transport), an outbound one ``media.profile`` and the account's
transport (:func:`~agentconsole.media.profile.media_profile`). Both engines satisfy
:class:`~agentconsole.media.interface.MediaEngine`, so the Session never asks which one
it holds. The stacks are imported on first use: aiortc alone costs ~260 ms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..media.profile import SRTP, WEBRTC, media_profile

if TYPE_CHECKING:
    from ..config import Config
    from ..media.audio_base import AudioBackend
    from ..media.interface import MediaEngine


def new_media_engine(config: Config, backend: AudioBackend, *, local_host: str | None,
                     offer: bytes | None = None, profile: str | None = None) -> MediaEngine:
    """The engine for a call: ``offer`` is the SDP of an inbound INVITE or of a re-offer
    moving the call to another profile (None to offer ourselves, by ``profile``, default
    ``media.profile``); ``local_host`` is the SIP flow's local address, which a plain
    RTP offer names when ``media.host_addresses`` does not say."""
    kind = media_profile(profile or config.media.profile, config.account.transport, offer)
    if kind == WEBRTC:
        from ..media.peer import MediaSession

        return MediaSession(config.media, backend)
    from ..media.plain import PlainMediaSession

    return PlainMediaSession(config.media, backend, secure=kind == SRTP, local_host=local_host)
