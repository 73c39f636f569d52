"""The media of one call over plain RTP or SDES-SRTP, behind the Session's media interface.

:class:`PlainMediaSession` offers, answers and re-negotiates ``RTP/AVP`` and
``RTP/SAVP`` audio (:mod:`.rtp.negotiate`) and runs it on the engine of :mod:`.rtp`.
It has the same methods, properties and callbacks as :class:`.peer.MediaSession`, so a
Session works with either; which one a call gets is decided by the profile
(:mod:`.profile`).

Connection states reported through ``on_connection_state`` (the Session's
``stream_added`` / ``client_error`` follow them): "connecting" after our offer,
"connected" once a negotiation gave us somewhere to send (plain RTP has no handshake),
"timeout" when nothing came for ``media.rtp_timeout_s`` while the far end should be
sending (hold and ``inactive`` do not count), "connected" again when packets resume,
and "closed".

A re-INVITE may move the media (another address or port, new SRTP keys, another codec,
RTP/AVP ↔ RTP/SAVP): it is answered on the same sockets and the stream follows
(:meth:`.rtp.stream.RtpStream.apply`; new ``a=crypto`` keys make a new SRTP context,
RFC 4568 §7.1.4). A move to WebRTC media (``UDP/TLS/RTP/SAVPF``) needs an ICE/DTLS
stack this object does not have: :meth:`PlainMediaSession.serves` says so, and the
call's media part answers it with a new :class:`.peer.MediaSession` instead
(:mod:`agentconsole.softphone.call_media`); given one anyway, it is refused with 488.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config import MediaConfig
from .common import CloseHooks, play_digits
from .dtmf import DEFAULT_DURATION_MS, DEFAULT_GAP_MS, DtmfError, plan
from .profile import RTP, SRTP, webrtc_offer
from .ringback import Ringback
from .rtp.clock import MediaClock
from .rtp.endpoint import RtpEndpoint, route_source
from .rtp.negotiate import LocalMedia, Negotiated, answer_offer, apply_answer, build_offer
from .rtp.srtp import Crypto, offer_cryptos
from .rtp.stream import RtpStream
from .rtp.stun import stun_servers
from .sdp import (
    DTLS_PROTOS,
    MediaDescription,
    MediaNegotiationError,
    SdpError,
    SessionDescription,
    parse_sdp,
)
from .stats import Report, build_report

if TYPE_CHECKING:
    import av

    from .audio_base import AudioBackend, PcmSource
    from .ringer import RingTone

log = logging.getLogger(__name__)

Tap = Callable[["av.AudioFrame"], None]
#: Ticks between two timeout checks (one second).
TIMEOUT_CHECK_TICKS = 50


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _negotiation_error(exc: Exception, what: str) -> MediaNegotiationError:
    if isinstance(exc, MediaNegotiationError):
        return exc
    return MediaNegotiationError(f"unusable SDP {what}: {exc}")


class PlainMediaSession:
    """One call's plain RTP / SDES-SRTP media; the interface of :class:`.peer.MediaSession`."""

    def __init__(self, media: MediaConfig, backend: AudioBackend, *, secure: bool = False,
                 local_host: str | None = None,
                 on_remote_frame: Tap | None = None,
                 on_connection_state: Callable[[str], None] | None = None,
                 rng: random.Random | None = None) -> None:
        from .rtp.codecs import CODECS

        self.media = media
        self.backend = backend
        self.secure = secure
        self.on_remote_frame = on_remote_frame
        self.on_connection_state = on_connection_state
        self.on_dtmf: Callable[[str, int], None] | None = None
        self.call_id = ""
        self.extension = ""
        self.frames_received = 0
        self._rng = rng or random.Random()
        self._local_host = local_host
        self._codecs = [CODECS[name.lower()] for name in media.codecs]
        self._source: PcmSource | None = None  # opened at the first codec's rate
        self._endpoint: RtpEndpoint | None = None
        self._stream: RtpStream | None = None
        self._local: LocalMedia | None = None
        self._offer: SessionDescription | None = None  # our last offer
        self._offer_pending = False
        self._cryptos: list[Crypto] = []  # the crypto lines of our last offer
        self._answer_text: str | None = None  # the remote answer applied last
        self._layout: list[MediaDescription] = []
        self._audio_index = 0
        self._negotiated: Negotiated | None = None
        self._want_sending = True
        self._muted = False
        self._remote_taps: list[Tap] = []
        self._local_taps: list[Tap] = []  # shared with the sender once it exists
        self._previous: tuple[SessionDescription | None, str | None] = (None, None)
        self._close_hooks = CloseHooks()
        self._ringback = Ringback(backend)
        self._close_hooks.add(self._ringback.answered)  # the first hook: ringback stops first
        self._last_report: Report | None = None
        self._state = "new"
        self._ticks = 0
        self._pts = 0
        self._closed = False

    # ----- properties ------------------------------------------------------------------
    @property
    def profile(self) -> str:
        """"srtp" once SDES keys are agreed (or offered: ``secure``), else "rtp"."""
        return SRTP if self.encrypted or (self._negotiated is None and self.secure) else RTP

    @property
    def codec(self) -> str | None:
        """The codec we send with ("PCMU", "PCMA", "G722", "opus"), None before."""
        return self._negotiated.send_codec.name if self._negotiated else None

    @property
    def connected(self) -> bool:
        return self._state in ("connected", "timeout")

    @property
    def remote_direction(self) -> str:
        return self._negotiated.remote_direction if self._negotiated else "sendrecv"

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def dtmf_payload_type(self) -> int | None:
        return self._negotiated.event_send_pt if self._negotiated else None

    @property
    def encrypted(self) -> bool:
        """True when the media runs SRTP (SDES keys agreed)."""
        return self._negotiated is not None and self._negotiated.srtp is not None

    @property
    def stream(self) -> RtpStream | None:
        """The RTP engine of this call (statistics, latches), None before negotiation."""
        return self._stream

    @property
    def ringback(self) -> Ringback:
        return self._ringback

    # ----- helpers ------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        if state == self._state:
            return
        self._state = state
        log.debug("plain media %s", state)
        if self.on_connection_state is not None:
            self.on_connection_state(state)

    async def _ensure_local(self, toward: str | None) -> LocalMedia:
        """Bind the call's ports; the SDP names them, or their NAT mapping when
        ``media.ice_servers`` has a STUN server (:mod:`.rtp.stun`)."""
        if self._local is not None:
            return self._local
        host = self._choose_host(toward)
        endpoint = self._endpoint = RtpEndpoint.bind(host, self.media.rtp_port_min,
                                                     self.media.rtp_port_max, self._rng)
        address, rtp_port, rtcp_port = host, endpoint.rtp_port, endpoint.rtcp_port
        servers = stun_servers(self.media.ice_servers)
        mapped = await endpoint.public_addresses(servers) if servers else None
        if mapped is not None:
            (address, rtp_port), (_, rtcp_port) = mapped
            log.info("media %s:%d is seen as %s:%d", host, endpoint.rtp_port, address, rtp_port)
        self._local = LocalMedia(address, rtp_port, rtcp_port, list(self._codecs))
        return self._local

    def _choose_host(self, toward: str | None) -> str:
        """The address our SDP names: the configured one, the SIP flow's, or the route."""
        want_v6 = toward is not None and ":" in toward
        for address in self.media.host_addresses:
            if (":" in address) == want_v6 or toward is None:
                return address
        local = self._local_host
        if local and local not in ("0.0.0.0", "::") and (":" in local) == want_v6:
            return local
        if toward:
            routed = route_source(toward)
            if routed:
                return routed
        return "::1" if want_v6 else "127.0.0.1"

    async def _start(self, negotiated: Negotiated) -> None:
        """Apply a negotiation; the first one creates the stream and joins the clock."""
        assert self._endpoint is not None
        self._negotiated = negotiated
        if self._stream is None:
            self._source = self.backend.pcm_source(negotiated.send_codec.sample_rate)
            self._stream = RtpStream(self._endpoint, self._source, self._play,
                                     on_dtmf=self._on_dtmf, symmetric=self.media.symmetric_rtp,
                                     clock=asyncio.get_running_loop().time, rng=self._rng)
            self._stream.sender.taps = self._local_taps
            self._stream.apply(negotiated)  # before the await: a later answer applies last
            self._apply_sending()
            await self._endpoint.start()
            MediaClock.for_loop().add(self)
            self.tick(asyncio.get_running_loop().time())  # the first packet now, not next tick
        else:
            self._stream.apply(negotiated)
        self._apply_sending()
        if self._state not in ("connected", "timeout"):
            self._set_state("connected")

    def _apply_sending(self) -> None:
        if self._stream is None:
            return
        n = self._negotiated
        self._stream.sender.sending = bool(self._want_sending and n is not None and n.sending)
        self._stream.sender.muted = self._muted

    @staticmethod
    def _parse(sdp: str, what: str) -> SessionDescription:
        try:
            return parse_sdp(sdp)
        except SdpError as exc:
            raise _negotiation_error(exc, what) from exc

    # ----- negotiation -------------------------------------------------------------------
    def serves(self, offer: str) -> bool:
        """Every offer but a WebRTC one (``UDP/TLS/RTP/SAVPF``): plain and SDES-SRTP
        media, and what nobody can serve (answered 488 here)."""
        return webrtc_offer(offer) is not True

    async def create_offer(self) -> str:
        """Our initial offer: every configured codec, telephone-event, and for the
        ``srtp`` profile ``RTP/SAVP`` with two SDES keys."""
        local = await self._ensure_local(None)
        self._cryptos = offer_cryptos() if self.secure else []
        offer = build_offer(local, direction="sendrecv", secure=self.secure,
                            cryptos=self._cryptos)
        self._offer, self._offer_pending = offer, True
        self._layout, self._audio_index = offer.media, 0
        self._answer_text = None
        self._set_state("connecting")
        return offer.to_text()

    async def accept_answer(self, sdp: str) -> None:
        """Apply the answer to our (re-)offer; an early answer (183) may come again in
        the 200, changed or not: the same answer twice is applied once."""
        if self._closed:
            return
        self._ringback.answered()
        if self._offer is None:
            raise MediaNegotiationError("an answer without an offer")
        if sdp == self._answer_text and not self._offer_pending:
            if self._stream is not None:  # the 200 after early media: a new media phase
                self._stream.relatch()
            return
        answer = self._parse(sdp, "answer")
        negotiated = apply_answer(self._offer, answer, self._audio_index, self._cryptos)
        self._offer_pending = False
        self._answer_text = sdp
        await self._start(negotiated)

    async def accept_offer(self, sdp: str) -> str:
        """Answer an INVITE's offer; other m-lines are declined (port 0). Raises
        :class:`MediaNegotiationError` (488 + Warning text) for what we cannot serve."""
        offer = self._parse(sdp, "offer")
        audio = next((m for m in offer.media if m.kind == "audio" and m.port != 0), None)
        if audio is not None and audio.proto in DTLS_PROTOS:
            raise MediaNegotiationError(
                f"the offer moves this call to WebRTC media ({audio.proto}); this call "
                "runs plain RTP")
        toward = None
        if audio is not None:
            line = audio.connection or offer.connection or ""
            toward = line.split()[2] if len(line.split()) >= 3 else None
        local = await self._ensure_local(toward)
        keep = self._current_crypto()
        wish = "sendrecv" if self._want_sending else "sendonly"
        answer, negotiated, index = answer_offer(offer, local, wish=wish, keep=keep)
        self._layout, self._audio_index = offer.media, index
        self._offer, self._offer_pending, self._cryptos = None, False, []
        await self._start(negotiated)
        return answer.to_text()

    def _current_crypto(self) -> Crypto | None:
        srtp = self._negotiated.srtp if self._negotiated else None
        return Crypto(1, srtp.suite, srtp.local_key) if srtp else None

    async def accept_reoffer(self, sdp: str) -> str:
        """Answer a re-INVITE (RFC 3264 §8): hold/resume, or the media moving."""
        return await self.accept_offer(sdp)

    async def create_reoffer(self, direction: str) -> str:
        """A re-INVITE offer with ``direction`` (hold/unhold), keeping our address, the
        m-line layout, and our SRTP key (RFC 4568 §7.1.4)."""
        local = await self._ensure_local(None)
        current = self._current_crypto()
        secure = self.secure or current is not None
        self._cryptos = [current] if current else (offer_cryptos() if secure else [])
        self._previous = (self._offer, self._answer_text)
        offer = build_offer(local, direction=direction, secure=secure and self._secure_proto(),
                            cryptos=self._cryptos, layout=self._layout,
                            audio_index=self._audio_index)
        self._offer, self._offer_pending, self._answer_text = offer, True, None
        return offer.to_text()

    def _secure_proto(self) -> bool:
        n = self._negotiated
        return n is None or n.proto in ("RTP/SAVP", "RTP/SAVPF")

    async def rollback(self) -> None:
        """Forget our pending re-offer when the re-INVITE failed: the session stays as
        it was (RFC 3261 §14.1)."""
        if not self._offer_pending:
            return
        self._offer, self._answer_text = self._previous
        self._offer_pending = False
        self._apply_sending()

    # ----- local controls --------------------------------------------------------------
    def set_muted(self, muted: bool) -> None:
        self._muted = muted
        self._apply_sending()

    def set_sending(self, sending: bool) -> None:
        self._want_sending = sending
        self._apply_sending()

    # ----- early media -------------------------------------------------------------------
    def start_ringback(self, tone: RingTone | None) -> None:
        """Local ringback (a 180 without SDP) until an answer, early media or close."""
        self._ringback.start(tone)

    def stop_ringback(self) -> None:
        self._ringback.answered()

    # ----- the tick (MediaClock member) ------------------------------------------------
    def tick(self, now: float) -> None:
        stream = self._stream
        if stream is None:
            return
        stream.tick(now)
        self._ticks += 1
        if self._ticks % TIMEOUT_CHECK_TICKS == 0:
            self._check_timeout(now)

    def skip(self, ticks: int) -> None:
        if self._stream is not None:
            self._stream.skip(ticks)

    def _check_timeout(self, now: float) -> None:
        limit = self.media.rtp_timeout_s
        stream, n = self._stream, self._negotiated
        if not limit or stream is None or n is None:
            return
        silent = stream.silent_for(now)
        if self._state == "connected" and n.remote_sends and silent >= limit:
            log.warning("call %s: no RTP for %.0f s", self.call_id, silent)
            self._set_state("timeout")
        elif self._state == "timeout" and (silent < 1.0 or not n.remote_sends):
            self._set_state("connected")

    def _play(self, pcm: bytes, rate: int) -> None:
        """The far end's next 20 ms: to the backend, and as a frame to whoever listens
        (built only when someone does: the recorder, a first-frame hook)."""
        self.frames_received += 1
        try:
            if self.on_remote_frame is None and not self._remote_taps:
                self.backend.play_pcm(pcm, rate)
                return
            from .tracks import make_frame

            frame = make_frame(pcm, self._pts, rate)
            self._pts += len(pcm) // 2
            self.backend.play(frame)
            if self.on_remote_frame is not None:
                self.on_remote_frame(frame)
            for tap in self._remote_taps:
                tap(frame)
        except Exception:  # a bad device or callback must not end the call
            log.exception("playing received audio failed")

    # ----- DTMF ------------------------------------------------------------------------
    def _on_dtmf(self, digit: str, duration_ms: int) -> None:
        if self.on_dtmf is not None:
            self.on_dtmf(digit, duration_ms)

    async def send_dtmf(self, digits: str, *, duration_ms: int = DEFAULT_DURATION_MS,
                        gap_ms: int = DEFAULT_GAP_MS) -> None:
        """Play ``digits`` as RFC 4733 events in the RTP stream (',' = 2 s pause)."""
        schedule = plan(digits, duration_ms=duration_ms, gap_ms=gap_ms)
        stream = self._stream
        if stream is None or self.dtmf_payload_type is None or self._closed:
            raise DtmfError("the remote did not negotiate telephone-event (RFC 4733)")
        if not stream.sender.sending:
            raise DtmfError("the call is on hold: no media is being sent")
        loop = asyncio.get_running_loop()

        async def play(digit: str) -> None:
            done: asyncio.Future[None] = loop.create_future()
            stream.sender.start_event(digit, duration_ms, loop.time(),
                                      functools.partial(_resolve, done))
            await done

        await play_digits(schedule, play)

    # ----- taps and hooks ---------------------------------------------------------------
    def add_local_tap(self, tap: Tap) -> None:
        """``tap(frame)`` for each 20 ms the agent sends (silence while muted, none on hold)."""
        self._local_taps.append(tap)

    def remove_local_tap(self, tap: Tap) -> None:
        if tap in self._local_taps:
            self._local_taps.remove(tap)

    def add_remote_tap(self, tap: Tap) -> None:
        self._remote_taps.append(tap)

    def remove_remote_tap(self, tap: Tap) -> None:
        if tap in self._remote_taps:
            self._remote_taps.remove(tap)

    def add_close_hook(self, hook: Callable[[], None]) -> None:
        self._close_hooks.add(hook)

    # ----- stats -----------------------------------------------------------------------
    async def report(self, previous: Report | None = None) -> Report:
        """The next call-quality report from our RTP/RTCP statistics (same fields as the
        WebRTC path: loss and jitter both ways from RTCP, RTT, MOS)."""
        stats = self._stream.stats() if self._stream is not None else {}
        n = self._negotiated
        self._last_report = build_report(
            stats, previous if previous is not None else self._last_report, now=time.time(),
            call_id=self.call_id, extension=self.extension, codec=self.codec,
            clock_rate=n.send_codec.clock_rate if n else None,
            ice_result="host" if n else "", network_type=self._network_type())
        return self._last_report

    def _network_type(self) -> str:
        if self._local is None:
            return ""
        from .netinfo import network_type

        return network_type(self._local.address)

    async def close(self) -> None:
        """Stop the media, send RTCP BYE, release the sockets; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._close_hooks.run()
        MediaClock.for_loop().remove(self)
        if self._stream is not None:
            self._stream.close()
        elif self._endpoint is not None:
            self._endpoint.close()
        if self._source is not None:
            self._source.close()
        self._set_state("closed")
