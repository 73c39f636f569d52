"""One aiortc peer connection per call: offer/answer, hold, mute, stats, clean close.

The SIP dialog (session.py) owns the signalling; this class turns SDP bodies into
media. Points where aiortc needed help, each handled here once:

- ICE servers come from the config and default to none: ``RTCConfiguration()`` alone
  would contact a public STUN server.
- Host candidates: configured addresses for this call only (:mod:`.netinfo`).
- Non-browser peers (baresip): DTLS also offers ECDHE-RSA suites (:mod:`.dtls`); an
  answer without ``a=mid`` gets the offer's mids. Early media: see accept_answer.
- Declining video: aiortc answers every m-line it is given, so the offer it sees is
  reduced to the audio m-line, and the declined m-lines (port 0) are put back into
  our answer and our re-offers (RFC 3264 §6 and §8: same number and order).
- Threads: aiortc's encoders get single-threaded resamplers (:mod:`.tracks`).
- DTMF: telephone-event is negotiated and RFC 4733 packets are spliced into and out
  of the audio stream by :mod:`.rtp_hooks` (the only place touching aiortc's RTP
  internals); the event codec is always last so it is never used to encode audio.
- Taps: the agent's sent audio (after mute) and the customer's decoded audio are
  offered to callbacks (the recorder); with none attached nothing extra is done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import MediaConfig
from .audio import AudioBackend
from .common import CloseHooks, play_digits
from .dtmf import DEFAULT_DURATION_MS, DEFAULT_GAP_MS, DtmfError, EventReceiver, plan
from .netinfo import HOST_ADDRESSES, install_host_hook, network_type
from .profile import WEBRTC, webrtc_offer
from .ringback import Ringback
from .rtp_hooks import RtpHooks, install_telephone_event, is_telephone_event, negotiated_codecs
from .sdp import (
    STATIC_PT,
    MediaDescription,
    MediaNegotiationError,
    SdpError,
    add_missing_mids,
    audio_direction,
    audio_only,
    check_webrtc_offer,
    codec_name,
    first_audio_of,
    first_codec,
    parse_sdp,
    restore_layout,
)
from .stats import Report, build_report

if TYPE_CHECKING:
    import av
    from aiortc import RTCPeerConnection, RTCRtpTransceiver
    from aiortc.mediastreams import MediaStreamTrack

    from .ringer import RingTone
    from .tracks import ControlledTrack

log = logging.getLogger(__name__)

_SENDING_DIRECTIONS = ("sendrecv", "sendonly")


#: How long a DTMF send waits for the media to connect (ICE + DTLS after the answer).
DTMF_CONNECT_WAIT_S = 5.0

class MediaSession:
    """The media of one call (one ``RTCPeerConnection``).

    ``on_remote_frame`` sees every decoded frame of the caller's audio (after it went
    to the backend); ``on_connection_state`` gets aiortc's connection states
    ("connecting", "connected", "failed", "closed"); ``on_dtmf(digit, duration_ms)``
    gets each RFC 4733 digit received, once.
    """

    def __init__(
        self,
        media: MediaConfig,
        backend: AudioBackend,
        *,
        on_remote_frame: Callable[[av.AudioFrame], None] | None = None,
        on_connection_state: Callable[[str], None] | None = None,
    ) -> None:
        from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

        from .dtls import accept_rsa_peers
        from .tracks import ControlledTrack, install_lean_resamplers

        install_lean_resamplers()
        install_telephone_event()
        install_host_hook()
        self.media = media
        self.backend = backend
        self.on_remote_frame = on_remote_frame
        self.on_connection_state = on_connection_state
        self.call_id = ""
        self.extension = ""
        servers = [RTCIceServer(urls=url) for url in media.ice_servers]
        self._pc: RTCPeerConnection = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        accept_rsa_peers(self._pc)  # before any transceiver: baresip's DTLS cert is RSA
        self._track: ControlledTrack = ControlledTrack(backend.source_track())
        self._transceiver: RTCRtpTransceiver | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._layout: list[MediaDescription] = []
        self._audio_index = 0
        self._codec: str | None = None
        self._clock_rate: int | None = None
        self._remote_direction = "sendrecv"
        self._want_sending = True
        self._direction_before: str | None = None
        self._last_report: Report | None = None
        self._closed = False
        self.frames_received = 0
        self.on_dtmf: Callable[[str, int], None] | None = None
        self._hooks: RtpHooks | None = None
        self._event_pt: int | None = None
        self._events_in = EventReceiver()
        self._remote_taps: list[Callable[[av.AudioFrame], None]] = []
        self._close_hooks = CloseHooks()
        self._ringback = Ringback(backend)
        self._close_hooks.add(self._ringback.answered)  # the first hook: ringback stops first
        self._offer_text: str | None = None  # our last offer, until its answer came
        self._answer_text: str | None = None  # the answer applied to it
        self._connected = asyncio.Event()
        self._pc.on("connectionstatechange", self._on_state)
        self._pc.on("track", self._on_track)

    # ----- properties ------------------------------------------------------------------
    @property
    def profile(self) -> str:
        """Always "webrtc" (ICE + DTLS-SRTP): a plain offer gets the other stack."""
        return WEBRTC

    @property
    def codec(self) -> str | None:
        """Negotiated audio codec ("opus", "G722", "PCMU", "PCMA"), None before."""
        return self._codec

    @property
    def connected(self) -> bool:
        return self._pc.connectionState == "connected"

    @property
    def remote_direction(self) -> str:
        """Direction of the remote's last SDP ("sendonly"/"inactive" = we are held)."""
        return self._remote_direction

    @property
    def muted(self) -> bool:
        return self._track.muted

    @property
    def dtmf_payload_type(self) -> int | None:
        """Negotiated telephone-event payload type (RFC 4733 §7.1.1), None if not agreed."""
        return self._event_pt

    # ----- events ----------------------------------------------------------------------
    def _on_state(self) -> None:
        state = self._pc.connectionState
        log.debug("media connection %s", state)
        if state == "connected":
            self._connected.set()
        else:
            self._connected.clear()
        if self.on_connection_state is not None:
            self.on_connection_state(state)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio" or self._closed:
            return
        task = asyncio.ensure_future(self._read_remote(track))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_remote(self, track: MediaStreamTrack) -> None:
        from aiortc.mediastreams import MediaStreamError

        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.frames_received += 1
            try:
                self.backend.play(frame)  # type: ignore[arg-type]
                if self.on_remote_frame is not None:
                    self.on_remote_frame(frame)  # type: ignore[arg-type]
                for tap in self._remote_taps:
                    tap(frame)  # type: ignore[arg-type]
            except Exception:  # a bad device or callback must not end the call
                log.exception("playing received audio failed")

    # ----- negotiation -----------------------------------------------------------------
    def _ensure_transceiver(self) -> RTCRtpTransceiver:
        if self._transceiver is None:
            self._transceiver = self._pc.addTransceiver(self._track, direction="sendrecv")
            self._prefer(list(self.media.codecs))
        return self._transceiver

    def _prefer(self, names: list[str]) -> None:
        """Codec order for the transceiver: configured codecs only, in ``names`` order."""
        from aiortc import RTCRtpSender

        assert self._transceiver is not None
        allowed = {name.lower() for name in self.media.codecs}
        wanted = [n.lower() for n in names if n.lower() in allowed]
        caps = RTCRtpSender.getCapabilities("audio").codecs
        prefs = sorted(
            (c for c in caps if c.mimeType.split("/")[1].lower() in wanted),
            key=lambda c: wanted.index(c.mimeType.split("/")[1].lower()),
        )
        prefs += [c for c in caps if is_telephone_event(c)]  # always last: never encoded
        if prefs:
            self._transceiver.setCodecPreferences(prefs)

    def _follow_answer_order(self, answer: str) -> None:
        """Send with the answer's first codec (RFC 3264 §6.1 "SHOULD use the first").

        aiortc would re-sort the answer by our own preference, so our order is set to
        the answer's before it is applied; re-offers then keep the codec in use.
        """
        media = first_audio_of(answer)
        if media is None:
            return
        rtpmap = media.rtpmap()
        names = [codec_name(rtpmap.get(f) or STATIC_PT.get(f, "")) for f in media.formats]
        self._prefer([n for n in names if n])

    async def _set_local(self, description: Any) -> str:
        """setLocalDescription (where aiortc gathers) with this call's host addresses."""
        token = HOST_ADDRESSES.set(tuple(self.media.host_addresses) or None)
        try:
            await self._pc.setLocalDescription(description)
        finally:
            HOST_ADDRESSES.reset(token)
        local = self._pc.localDescription
        assert local is not None
        return local.sdp

    async def _set_remote(self, sdp: str, kind: str) -> None:
        """Apply the remote SDP reduced to its audio m-line; remember the m-line layout."""
        from aiortc import RTCSessionDescription

        try:
            session = parse_sdp(sdp)
            reduced, index = audio_only(session)
        except SdpError as exc:
            raise MediaNegotiationError(f"unusable SDP {kind}: {exc}") from exc
        if kind == "offer":
            self._layout, self._audio_index = session.media, index
        try:
            await self._pc.setRemoteDescription(
                RTCSessionDescription(sdp=reduced.to_text(), type=kind)
            )
        except Exception as exc:  # aiortc raises ValueError/OperationError/...
            raise MediaNegotiationError(
                f"cannot use the remote audio: {exc}; allow one of "
                f"{', '.join(self.media.codecs)} with ICE and DTLS-SRTP on the PBX"
            ) from exc
        self._remote_direction = audio_direction(sdp)
        self._after_negotiation()

    def _after_negotiation(self) -> None:
        """Refuse event-only media; (re)configure the DTMF hooks for the agreed codecs."""
        transceiver = self._transceiver
        if transceiver is None:
            return
        codecs = negotiated_codecs(transceiver)
        if codecs and is_telephone_event(codecs[0]):
            raise MediaNegotiationError(
                f"the remote offered no audio codec we share; allow one of "
                f"{', '.join(self.media.codecs)} on the PBX")
        if self._hooks is None:
            self._hooks = RtpHooks(transceiver, self._on_event_payload)
        self._event_pt = self._hooks.configure(transceiver)

    def _learn_codec(self, answer: str) -> None:
        found = first_codec(answer)
        if found is not None:
            self._codec, self._clock_rate = found

    def _apply_sending(self) -> None:
        """Pull audio only when we want to send and the negotiation lets us."""
        transceiver = self._transceiver
        negotiated = transceiver.currentDirection if transceiver else None
        self._track.set_sending(self._want_sending and negotiated in _SENDING_DIRECTIONS)

    def serves(self, offer: str) -> bool:
        """WebRTC offers, and what nobody can serve (answered 488 here); a plain or
        SDES-SRTP offer is for the other stack."""
        return webrtc_offer(offer) is not False

    async def create_offer(self) -> str:
        """Our initial offer: audio only, all candidates inline (no trickle)."""
        self._ensure_transceiver()
        sdp = await self._set_local(await self._pc.createOffer())
        self._layout, self._audio_index = parse_sdp(sdp).media, 0
        self._offer_text, self._answer_text = sdp, None
        return sdp

    async def accept_answer(self, sdp: str) -> None:
        """Apply the remote's answer to our (re-)offer.

        An early answer (a 183 with SDP) usually comes again in the 200: the same
        answer is applied once. A different one cannot be applied by aiortc once the
        offer/answer is complete (no new offer went out); it is logged and the first
        one stays. An answer without ``a=mid`` (baresip) gets the offer's mids.
        """
        self._ringback.answered()
        if self._answer_text is not None:  # set before the await: a 183/200 race too
            if sdp != self._answer_text:
                log.warning("a second, different answer to the same offer was ignored")
            return
        self._answer_text = sdp
        if self._offer_text is not None:
            sdp = add_missing_mids(sdp, self._offer_text)
        self._follow_answer_order(sdp)
        await self._set_remote(sdp, "answer")
        self._learn_codec(sdp)
        self._apply_sending()

    # ----- early media -------------------------------------------------------------------
    def start_ringback(self, tone: RingTone | None) -> None:
        """Local ringback (a 180 without SDP) until an answer, early media or close."""
        self._ringback.start(tone)

    def stop_ringback(self) -> None:
        self._ringback.answered()

    async def _answer(self, sdp: str) -> str:
        check_webrtc_offer(sdp)
        self._ensure_transceiver()
        await self._set_remote(sdp, "offer")
        try:
            answer = await self._set_local(await self._pc.createAnswer())
        except Exception as exc:
            raise MediaNegotiationError(f"cannot answer the offer: {exc}") from exc
        self._learn_codec(answer)
        self._apply_sending()
        return restore_layout(self._layout, self._audio_index, answer)

    async def accept_offer(self, sdp: str) -> str:
        """Answer an incoming INVITE's offer; video and other m-lines are declined.

        Raises :class:`MediaNegotiationError` (488 + Warning text) when the offer is
        not WebRTC media or shares no codec with us.
        """
        return await self._answer(sdp)

    async def accept_reoffer(self, sdp: str) -> str:
        """Answer a re-INVITE (RFC 3264 §8): remote sendonly → we answer recvonly, etc.

        Our own wish (sending unless we hold) is restored first: after an unhold
        offered while the peer held us (a=recvonly), the transceiver would otherwise
        keep answering recvonly when the peer resumes, and the agent would go unheard.
        """
        self._ensure_transceiver().direction = "sendrecv" if self._want_sending else "sendonly"
        return await self._answer(sdp)

    async def create_reoffer(self, direction: str) -> str:
        """A re-INVITE offer on the same ICE/DTLS session with ``direction`` (hold/unhold)."""
        transceiver = self._ensure_transceiver()
        self._direction_before = transceiver.direction
        transceiver.direction = direction
        sdp = await self._set_local(await self._pc.createOffer())
        self._offer_text, self._answer_text = sdp, None
        return restore_layout(self._layout, self._audio_index, sdp)

    async def rollback(self) -> None:
        """Forget our pending re-offer when the re-INVITE failed (RFC 3261 §14.1: the
        session stays as it was; JSEP rollback, RFC 8829 §4.1.10).

        aiortc accepts the "rollback" type but does not implement it: the transceiver
        direction is restored and the pending local description dropped here.
        """
        if self._closed or self._pc.signalingState != "have-local-offer":
            return
        if self._transceiver is not None and self._direction_before is not None:
            self._transceiver.direction = self._direction_before
        pc_vars = vars(self._pc)
        pending = "_RTCPeerConnection__pendingLocalDescription"
        if pending in pc_vars:
            pc_vars[pending] = None
        set_state = "_RTCPeerConnection__setSignalingState"
        getattr(self._pc, set_state)("stable")
        self._apply_sending()

    # ----- local controls --------------------------------------------------------------
    def set_muted(self, muted: bool) -> None:
        """Send silence instead of the agent's audio; no signalling (like the seed)."""
        self._track.muted = muted

    def set_sending(self, sending: bool) -> None:
        """Stop/resume pulling and sending local audio (hold); nothing is encoded meanwhile."""
        self._want_sending = sending
        self._apply_sending()

    # ----- DTMF ------------------------------------------------------------------------
    def _on_event_payload(self, timestamp: int, payload: bytes) -> None:
        for got in self._events_in.feed(timestamp, payload):
            if self.on_dtmf is not None:
                self.on_dtmf(got.digit, got.duration_ms)

    async def send_dtmf(self, digits: str, *, duration_ms: int = DEFAULT_DURATION_MS,
                        gap_ms: int = DEFAULT_GAP_MS) -> None:
        """Play ``digits`` as RFC 4733 events in the audio stream (',' = 2 s pause).

        Raises :class:`~.dtmf.DtmfError` for bad digits or when the remote did not
        agree to telephone-event.
        """
        schedule = plan(digits, duration_ms=duration_ms, gap_ms=gap_ms)
        hooks, pt = self._hooks, self._event_pt
        if hooks is None or pt is None or self._closed:
            raise DtmfError("the remote did not negotiate telephone-event (RFC 4733)")
        if not self._connected.is_set():
            # The call is up at the 200 OK, the media a moment later (ICE, DTLS): a digit
            # or feature code sent in between waits for it instead of being lost.
            try:
                await asyncio.wait_for(self._connected.wait(), DTMF_CONNECT_WAIT_S)
            except TimeoutError:
                raise DtmfError("the media is not connected") from None
        await play_digits(schedule, lambda digit: hooks.play_event(
            digit, pt, duration_ms=duration_ms))

    # ----- taps (recording) -------------------------------------------------------------
    def add_local_tap(self, tap: Callable[[av.AudioFrame], None]) -> None:
        """``tap(frame)`` for each frame the agent sends (silence while muted, none on hold)."""
        self._track.taps.append(tap)

    def remove_local_tap(self, tap: Callable[[av.AudioFrame], None]) -> None:
        if tap in self._track.taps:
            self._track.taps.remove(tap)

    def add_remote_tap(self, tap: Callable[[av.AudioFrame], None]) -> None:
        """``tap(frame)`` for each decoded frame of the customer's audio."""
        self._remote_taps.append(tap)

    def remove_remote_tap(self, tap: Callable[[av.AudioFrame], None]) -> None:
        if tap in self._remote_taps:
            self._remote_taps.remove(tap)

    def add_close_hook(self, hook: Callable[[], None]) -> None:
        """``hook()`` runs once when the media closes (e.g. to finish a recording)."""
        self._close_hooks.add(hook)

    # ----- stats -----------------------------------------------------------------------
    def _ice_info(self) -> tuple[str, str]:
        try:
            assert self._transceiver is not None
            ice = self._transceiver.sender.transport.transport
            pair = ice._connection._nominated.get(1)  # aiortc/aioice expose no public API
            if pair is None:
                return "", ""
            local = pair.local_candidate
            return str(local.type), network_type(str(local.host))
        except Exception:
            return "", ""

    async def report(self, previous: Report | None = None) -> Report:
        """The next call-quality report; max/avg jitter are tracked from ``previous``
        (default: the last report this method returned)."""
        stats = await self._pc.getStats() if not self._closed else {}
        ice_result, network_type = self._ice_info()
        self._last_report = build_report(
            stats, previous if previous is not None else self._last_report,
            now=time.time(), call_id=self.call_id,
            extension=self.extension, codec=self._codec, clock_rate=self._clock_rate,
            ice_result=ice_result, network_type=network_type,
        )
        return self._last_report

    async def close(self) -> None:
        """Release the connection, tracks and tasks; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._close_hooks.run()
        for got in self._events_in.flush():
            if self.on_dtmf is not None:
                self.on_dtmf(got.digit, got.duration_ms)
        self._track.stop()
        await self._pc.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
