"""RTP and RTCP on the wire (RFC 3550 §5, §6), without I/O.

The hot path is one RTP packet in and one out per call every 20 ms, so the RTP side is
a pair of plain functions over ``struct`` with no object per packet: :func:`build_rtp`
packs the fixed 12-byte header in front of a payload and :func:`parse_rtp` returns a
tuple. RTCP is rare (one compound packet every few seconds) and gets small frozen
dataclasses.

Compound RTCP (§6.1): every packet we send starts with a sender or receiver report and
carries an SDES CNAME; a BYE is appended when the stream ends (§6.6). Incoming compound
packets are split by their length fields; report types we do not use (APP, feedback,
XR) are skipped, not refused.

RTP and RTCP on one port (RFC 5761 §4): the second byte of an RTCP packet is its type,
192–223, where an RTP packet has its marker bit and payload type; payload types 64–95
are therefore never used for audio.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

RTP_VERSION = 2
RTP_HEADER = struct.Struct("!BBHII")
RTCP_HEADER = struct.Struct("!BBH")
REPORT_BLOCK = struct.Struct("!IIIIII")
SR_INFO = struct.Struct("!IIIII")
RR, SR, SDES, BYE = 201, 200, 202, 203
SDES_CNAME = 1
#: Seconds from the NTP epoch (1900) to the Unix epoch (1970), RFC 5905 §6.
NTP_OFFSET = 2208988800


class PacketError(ValueError):
    """Bytes that are not a well-formed RTP or RTCP packet."""


def is_rtcp(data: bytes) -> bool:
    """RTCP on a multiplexed port: packet type 192–223 in the second byte (RFC 5761 §4)."""
    return len(data) > 1 and 192 <= data[1] <= 223


# ----- RTP ------------------------------------------------------------------------------------
def build_rtp(payload_type: int, seq: int, timestamp: int, ssrc: int, payload: bytes,
              marker: bool = False) -> bytes:
    """A version-2 RTP packet with no CSRC, extension or padding (RFC 3550 §5.1)."""
    return RTP_HEADER.pack(0x80, (0x80 if marker else 0) | payload_type, seq & 0xFFFF,
                           timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF) + payload


def parse_rtp(data: bytes) -> tuple[int, bool, int, int, int, bytes]:
    """``(payload type, marker, seq, timestamp, ssrc, payload)`` of an RTP packet.

    CSRC lists, header extensions (§5.3.1) and padding (§5.1 P bit) are skipped;
    anything inconsistent raises :class:`PacketError`.
    """
    if len(data) < 12:
        raise PacketError("shorter than an RTP header")
    first, second, seq, timestamp, ssrc = RTP_HEADER.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        raise PacketError("not RTP version 2")
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if len(data) < offset + 4:
            raise PacketError("truncated header extension")
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data)
    if first & 0x20:
        end -= data[-1]
    if offset > end:
        raise PacketError("header longer than the packet")
    return second & 0x7F, bool(second & 0x80), seq, timestamp, ssrc, data[offset:end]


# ----- time -----------------------------------------------------------------------------------
def ntp_time(unix_seconds: float) -> int:
    """64-bit NTP timestamp (RFC 3550 §4) of a wall-clock time."""
    value = int((unix_seconds + NTP_OFFSET) * (1 << 32))
    return value & 0xFFFFFFFFFFFFFFFF


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp: the LSR/DLSR unit, 1/65536 s (§6.4.1)."""
    return (ntp >> 16) & 0xFFFFFFFF


# ----- RTCP -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportBlock:
    """One reception report (RFC 3550 §6.4.1) about ``ssrc``'s stream."""

    ssrc: int
    fraction_lost: int  # 0..255, fraction of the last interval times 256
    cumulative_lost: int  # signed 24 bits
    highest_seq: int  # extended highest sequence number received
    jitter: int  # interarrival jitter, RTP timestamp units
    lsr: int  # middle 32 bits of the last SR's NTP time, 0 if none
    dlsr: int  # delay since that SR, 1/65536 s

    def pack(self) -> bytes:
        lost = (self.fraction_lost & 0xFF) << 24 | (self.cumulative_lost & 0xFFFFFF)
        return REPORT_BLOCK.pack(self.ssrc, lost, self.highest_seq & 0xFFFFFFFF,
                                 self.jitter & 0xFFFFFFFF, self.lsr, self.dlsr)

    @classmethod
    def unpack(cls, data: bytes, offset: int) -> ReportBlock:
        ssrc, lost, highest, jitter, lsr, dlsr = REPORT_BLOCK.unpack_from(data, offset)
        cumulative = lost & 0xFFFFFF
        if cumulative & 0x800000:  # two's complement, 24 bits
            cumulative -= 1 << 24
        return cls(ssrc, lost >> 24, cumulative, highest, jitter, lsr, dlsr)


@dataclass(frozen=True)
class SenderInfo:
    """The sender-info part of an SR (RFC 3550 §6.4.1)."""

    ntp: int
    rtp_timestamp: int
    packets: int
    octets: int


@dataclass(frozen=True)
class Rtcp:
    """What one compound RTCP packet told us; fields absent from it are None/empty."""

    ssrc: int | None = None  # the sender of the first SR/RR
    sender: SenderInfo | None = None
    reports: tuple[ReportBlock, ...] = ()
    cname: str | None = None
    bye: bool = False
    kinds: tuple[int, ...] = field(default=())


def _header(kind: int, count: int, body: bytes) -> bytes:
    """An RTCP header; ``body`` is padded to 32-bit words (§6.4.1 length = words − 1)."""
    if len(body) % 4:
        body += bytes(4 - len(body) % 4)
    return RTCP_HEADER.pack(0x80 | (count & 0x1F), kind, len(body) // 4) + body


def build_sr(ssrc: int, info: SenderInfo, reports: tuple[ReportBlock, ...] = ()) -> bytes:
    body = struct.pack("!I", ssrc) + SR_INFO.pack(
        info.ntp >> 32, info.ntp & 0xFFFFFFFF, info.rtp_timestamp & 0xFFFFFFFF,
        info.packets & 0xFFFFFFFF, info.octets & 0xFFFFFFFF)
    return _header(SR, len(reports), body + b"".join(r.pack() for r in reports))


def build_rr(ssrc: int, reports: tuple[ReportBlock, ...] = ()) -> bytes:
    body = struct.pack("!I", ssrc) + b"".join(r.pack() for r in reports)
    return _header(RR, len(reports), body)


def build_sdes(ssrc: int, cname: str) -> bytes:
    """One chunk with the CNAME item, ended by a null item and padded (§6.5)."""
    text = cname.encode("utf-8")[:255]
    chunk = struct.pack("!IBB", ssrc, SDES_CNAME, len(text)) + text + b"\x00"
    if len(chunk) % 4:
        chunk += bytes(4 - len(chunk) % 4)
    return _header(SDES, 1, chunk)


def build_bye(ssrc: int) -> bytes:
    return _header(BYE, 1, struct.pack("!I", ssrc))


def _sdes_cname(body: bytes) -> str | None:
    """The first CNAME item of the first chunk, None if there is none."""
    offset = 4
    while offset + 2 <= len(body):
        item, length = body[offset], body[offset + 1]
        if item == 0:
            return None
        if item == SDES_CNAME:
            return body[offset + 2:offset + 2 + length].decode("utf-8", "replace")
        offset += 2 + length
    return None


def parse_rtcp(data: bytes) -> Rtcp:
    """Split a compound RTCP packet (§6.1) and keep what the statistics use.

    Raises :class:`PacketError` for a malformed compound packet.
    """
    offset = 0
    kinds: list[int] = []
    ssrc = sender = cname = None
    reports: list[ReportBlock] = []
    bye = False
    while offset < len(data):
        if len(data) - offset < 4:
            raise PacketError("truncated RTCP header")
        first, kind, words = RTCP_HEADER.unpack_from(data, offset)
        if first >> 6 != RTP_VERSION:
            raise PacketError("not RTCP version 2")
        end = offset + 4 * (words + 1)
        if end > len(data):
            raise PacketError("RTCP length beyond the packet")
        body = data[offset + 4:end]
        count = first & 0x1F
        kinds.append(kind)
        if kind in (SR, RR) and len(body) >= 4:
            start = 24 if kind == SR else 4
            if len(body) < start + 24 * count:
                raise PacketError("RTCP report blocks beyond the packet")
            if ssrc is None:
                ssrc = struct.unpack_from("!I", body)[0]
                if kind == SR:
                    hi, lo, rtp_ts, packets, octets = SR_INFO.unpack_from(body, 4)
                    sender = SenderInfo(hi << 32 | lo, rtp_ts, packets, octets)
                reports += [ReportBlock.unpack(body, start + 24 * i) for i in range(count)]
        elif kind == SDES and cname is None and len(body) >= 4:
            cname = _sdes_cname(body)
        elif kind == BYE:
            bye = True
        offset = end
    return Rtcp(ssrc, sender, tuple(reports), cname, bye, tuple(kinds))
