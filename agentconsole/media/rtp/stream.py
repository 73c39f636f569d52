"""One call's RTP session: sockets, SRTP, symmetric latching, RTCP and timeouts.

:class:`RtpStream` joins an :class:`~.endpoint.RtpEndpoint` to an
:class:`~.sender.AudioSender` and an :class:`~.receiver.AudioReceiver`. It is ticked
by the process's :class:`~.clock.MediaClock` every 20 ms and is fed datagrams by the
endpoint; everything it decides is also reachable without sockets (``tick``,
``datagram``), which is how the tests drive it.

- **SRTP** (RFC 3711 via libsrtp): with negotiated SDES keys every packet is protected
  before it leaves and unprotected on arrival; a packet that fails authentication is
  dropped and counted, and never moves the latch.
- **Symmetric RTP** (RFC 4961): RTP and RTCP each have a :class:`~.latch.Latch`.
- **RTCP** (RFC 3550 §6): a compound SR (or RR while we send nothing) + SDES CNAME on
  the :class:`~.statistics.RtcpTimer`'s schedule, a BYE at the end; received SRs and
  reception reports feed the statistics (RTT, the far end's view of our stream).
- **Timeout**: :meth:`silent_for` is how long nothing (RTP or RTCP) came; the media
  session decides what that means.

How the WebRTC path could run on this engine: aiortc's ICE transport (aioice) delivers
datagrams and its DTLS transport yields SRTP keys (RFC 5764 §4.2 keying material).
An :class:`RtpEndpoint` whose ``send``/``on_*`` go through the ICE connection instead
of two sockets, with an :class:`~.srtp.SrtpContext` built from the DTLS-exported keys
(the AES_CM_128_HMAC_SHA1_80 profile, or GCM through the same pylibsrtp policy) and
``rtcp_mux`` forced on (RFC 8843 §9), is all that differs; sender, receiver, jitter
buffer, statistics and DTMF stay as they are, and aiortc's per-call tasks, track
hand-offs and resamplers go away.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from ..audio_base import PcmSource
from .endpoint import Address, RtpEndpoint
from .latch import Latch
from .negotiate import Negotiated, Srtp
from .packet import (
    PacketError,
    SenderInfo,
    build_bye,
    build_rr,
    build_sdes,
    build_sr,
    ntp_time,
    parse_rtcp,
)
from .receiver import AudioReceiver, OnDtmf, Play
from .sender import AudioSender
from .srtp import SrtpContext, SrtpError
from .statistics import RtcpTimer, stats_entries

log = logging.getLogger(__name__)


class RtpStream:
    """The media of one plain-RTP call (see the module doc)."""

    def __init__(self, endpoint: RtpEndpoint, source: PcmSource, play: Play, *,
                 on_dtmf: OnDtmf | None = None, symmetric: bool = True, cname: str = "",
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        rng = rng or random.Random()
        self.endpoint = endpoint
        self.sender = AudioSender(source, rng=rng)
        self.receiver = AudioReceiver(play, on_dtmf=on_dtmf)
        self.rtp_latch = Latch(None, enabled=symmetric, what="RTP")
        self.rtcp_latch = Latch(None, enabled=symmetric, what="RTCP")
        self.rtcp_timer = RtcpTimer(rng=rng)
        self.cname = cname or f"agentconsole-{self.sender.ssrc:08x}"
        self.srtp: SrtpContext | None = None
        self.negotiated: Negotiated | None = None
        self.auth_failures = 0
        self.invalid_packets = 0
        self._clock = clock
        self._wall = wall
        self._last_rx: float | None = None
        self._since: float | None = None
        self._packets_at_last_report = 0
        self._answered_sr = False
        self._closed = False
        endpoint.on_rtp = self._on_rtp
        endpoint.on_rtcp = self._on_rtcp

    # ----- negotiation -----------------------------------------------------------------
    def apply(self, negotiated: Negotiated) -> None:
        """Start or change the session: codec, payload types, addresses, keys, direction.

        A new remote address resets the latches (the far end moved its media, RFC 3264
        §8.3.1); new keys make a new SRTP context, unchanged keys keep it (and its
        replay state and rollover counters).
        """
        now = self._clock()
        old = self.negotiated
        self.negotiated = negotiated
        self.sender.configure(negotiated.send_codec, negotiated.send_pt, negotiated.ptime_ms,
                              negotiated.event_send_pt, negotiated.event_clock)
        self.receiver.configure(negotiated.receive, negotiated.event_receive_pts,
                                negotiated.event_clock)
        if old is None or old.remote_rtp != negotiated.remote_rtp:
            self.rtp_latch.reset(negotiated.remote_rtp)
            self._last_rx = None
            self._since = now
        if old is None or old.remote_rtcp != negotiated.remote_rtcp:
            self.rtcp_latch.reset(negotiated.remote_rtcp)
        self._apply_srtp(negotiated.srtp)
        if self.rtcp_timer.next_at is None:
            self.rtcp_timer.start(now)

    def relatch(self) -> None:
        """Send to the negotiated addresses again until packets say otherwise: the
        final answer after early media (RFC 3960 §3: early and final media may come
        from different sources; the early-media source may not even listen)."""
        if self.negotiated is not None:
            self.rtp_latch.reset(self.negotiated.remote_rtp)
            self.rtcp_latch.reset(self.negotiated.remote_rtcp)

    def _apply_srtp(self, keys: Srtp | None) -> None:
        if keys is None:
            self.srtp = None
            return
        current = self.srtp
        if current is not None and (current.suite, current.local_key, current.remote_key) == (
                keys.suite, keys.local_key, keys.remote_key):
            return
        self.srtp = SrtpContext(keys.suite, keys.local_key, keys.remote_key)

    @property
    def rtcp_mux(self) -> bool:
        return self.negotiated is not None and self.negotiated.rtcp_mux

    # ----- the tick ------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        if self._closed:
            return
        target = self.rtp_latch.target
        for packet in self.sender.tick(now):
            if target is not None:
                self._send_rtp(packet, target)
        self.receiver.tick(now)
        if self.rtcp_timer.due(now):
            self.send_rtcp()

    def skip(self, ticks: int) -> None:
        self.sender.skip(ticks)

    def _send_rtp(self, packet: bytes, target: Address) -> None:
        if self.srtp is not None:
            packet = self.srtp.protect(packet)
        self.endpoint.send_rtp(packet, target)

    # ----- datagrams in ----------------------------------------------------------------------
    def _on_rtp(self, data: bytes, source: Address) -> None:
        self.datagram(data, source, self._clock(), rtcp=False)

    def _on_rtcp(self, data: bytes, source: Address) -> None:
        self.datagram(data, source, self._clock(), rtcp=True)

    def datagram(self, data: bytes, source: Address, now: float, *, rtcp: bool) -> None:
        """One datagram from the network (also the tests' way in)."""
        if self._closed or self.negotiated is None:
            return
        if self.srtp is not None:
            try:
                data = self.srtp.unprotect_rtcp(data) if rtcp else self.srtp.unprotect(data)
            except SrtpError:
                self.auth_failures += 1
                return
        if rtcp:
            self._handle_rtcp(data, source, now)
            return
        if not self.receiver.on_packet(data, now):
            self.invalid_packets += 1
            return
        self._last_rx = now
        self.rtp_latch.seen(source, now)
        if self.rtcp_mux:
            self.rtcp_latch.seen(source, now)

    def _handle_rtcp(self, data: bytes, source: Address, now: float) -> None:
        try:
            report = parse_rtcp(data)
        except PacketError:
            self.invalid_packets += 1
            return
        self._last_rx = now
        if not self.rtcp_mux:
            self.rtcp_latch.seen(source, now)
        if report.sender is not None:
            self.receiver.stats.on_sender_report(report.sender, now)
            if not self._answered_sr:  # the far end learns the RTT from our next report
                self._answered_sr = True
                self.rtcp_timer.hurry(now, 0.2)
        wall = self._wall()
        for block in report.reports:
            self.sender.stats.on_report(block, wall)

    # ----- RTCP out ------------------------------------------------------------------------
    def _compound(self, now: float, bye: bool = False) -> bytes:
        stats = self.sender.stats
        block = self.receiver.stats.report_block(now)
        blocks = (block,) if block is not None else ()
        if stats.packets > self._packets_at_last_report:  # an active sender: SR (§6.4.1)
            self._packets_at_last_report = stats.packets
            info = SenderInfo(ntp_time(self._wall()), self.sender.timestamp, stats.packets,
                              stats.octets)
            head = build_sr(self.sender.ssrc, info, blocks)
        else:
            head = build_rr(self.sender.ssrc, blocks)
        packet = head + build_sdes(self.sender.ssrc, self.cname)
        return packet + build_bye(self.sender.ssrc) if bye else packet

    def send_rtcp(self, bye: bool = False) -> None:
        target = self.rtcp_latch.target
        if target is None or self.negotiated is None:
            return
        packet = self._compound(self._clock(), bye)
        if self.srtp is not None:
            packet = self.srtp.protect_rtcp(packet)
        self.endpoint.send_rtcp(packet, target, self.rtcp_mux)

    # ----- state -----------------------------------------------------------------------------
    def silent_for(self, now: float) -> float:
        """Seconds since the last valid RTP or RTCP packet (or since the media started)."""
        last = self._last_rx if self._last_rx is not None else self._since
        return 0.0 if last is None else now - last

    @property
    def receiving(self) -> bool:
        return self._last_rx is not None

    def stats(self) -> dict[str, object]:
        return stats_entries(self.receiver.stats, self.sender.stats)

    def close(self) -> None:
        """Send a BYE (RFC 3550 §6.6) and release the sockets."""
        if self._closed:
            return
        try:
            self.send_rtcp(bye=True)
        except Exception as exc:  # the socket may already be gone
            log.debug("RTCP BYE not sent: %s", exc)
        self._closed = True
        self.receiver.flush_events()
        self.sender.cancel_event()
        self.endpoint.close()
