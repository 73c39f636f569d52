"""Helpers for the plain-RTP interop tests: a loopback packet capture (what is really
on the wire), a pcap writer for SIPp's ``play_pcap_audio``, and the checks that tell
SRTP from plain RTP.

- :class:`LoopbackCapture` reads every frame on ``lo`` through an ``AF_PACKET`` socket
  (root or CAP_NET_RAW; the rig runs as root) on the event loop, no thread, no tcpdump,
  and keeps the UDP payloads whose source or destination port is in a range. Each
  packet shows up twice on loopback (sent and received); the checks do not mind.
- :func:`write_rtp_pcap` writes a libpcap file of Ethernet/IPv4/UDP/RTP packets of a
  PCMU tone, 20 ms apart: SIPp replays the RTP payloads to the address in the remote
  SDP with the pcap's timing.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agentconsole.media.rtp.packet import build_rtp, parse_rtp

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ETH_P_ALL = 0x0003


@dataclass
class Captured:
    source: tuple[str, int]
    target: tuple[str, int]
    payload: bytes


@dataclass
class LoopbackCapture:
    """UDP datagrams on ``lo`` with a port in [low, high] at either end."""

    low: int
    high: int
    packets: list[Captured] = field(default_factory=list)
    _sock: socket.socket | None = None

    def start(self) -> LoopbackCapture:
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.bind(("lo", 0))
        except (PermissionError, OSError) as exc:
            reason = f"no packet capture on lo ({exc}); run as root or with CAP_NET_RAW"
            if os.environ.get("AGENTCONSOLE_INTEROP_REQUIRED") == "1":
                pytest.fail(reason)
            pytest.skip(reason)
        sock.setblocking(False)
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._read)
        return self

    def _read(self) -> None:
        assert self._sock is not None
        while True:
            try:
                frame = self._sock.recv(65535)
            except BlockingIOError:
                return
            self._parse(frame)

    def _parse(self, frame: bytes) -> None:
        if len(frame) < 42 or frame[12:14] != b"\x08\x00":  # Ethernet, IPv4
            return
        ip = frame[14:]
        header = (ip[0] & 0x0F) * 4
        if ip[9] != 17:  # UDP
            return
        src = socket.inet_ntoa(ip[12:16])
        dst = socket.inet_ntoa(ip[16:20])
        sport, dport, length = struct.unpack_from("!HHH", ip, header)
        if not (self.low <= sport <= self.high or self.low <= dport <= self.high):
            return
        payload = ip[header + 8:header + length]
        self.packets.append(Captured((src, sport), (dst, dport), bytes(payload)))

    def stop(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def rtp_between(self, a_ports: range, b_ports: range) -> list[Captured]:
        """RTP (not RTCP) datagrams from a port in ``a_ports`` to one in ``b_ports``."""
        return [p for p in self.packets
                if p.source[1] in a_ports and p.target[1] in b_ports
                and len(p.payload) > 12 and not 192 <= p.payload[1] <= 223]


def pcmu_tone_hz(payload: bytes) -> float:
    """The dominant frequency of a PCMU payload decoded as plain G.711 (a real tone) or
    of what garbage decodes to (ciphertext: no stable tone)."""
    from agentconsole.media.tone import dominant_frequency

    pcm = audioop.ulaw2lin(payload, 2)
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    return dominant_frequency(samples, 8000, floor=1.0)


def looks_encrypted(packets: list[Captured], codec_bytes: int = 160,
                    tag_bytes: int = 10) -> bool:
    """SRTP: the RTP header is clear (version 2), the payload is the codec's size plus
    the authentication tag, and the payload bytes look uniformly random."""
    if not packets:
        return False
    for p in packets:
        parse_rtp(p.payload)  # the header stays readable
        body = p.payload[12:]
        if len(body) != codec_bytes + tag_bytes or len(set(body)) < 90:
            return False
    return True


def looks_plain_pcmu(packets: list[Captured], hz: float) -> bool:
    return bool(packets) and all(
        len(p.payload) == 172 and abs(pcmu_tone_hz(p.payload[12:]) - hz) <= 30
        for p in packets)


def write_rtp_pcap(path: Path, hz: float, seconds: float, *, ssrc: int = 0x1234ABCD) -> None:
    """A libpcap file of a PCMU tone: one 20 ms RTP packet per frame (Ethernet, IPv4,
    UDP 127.0.0.1:6999 → 127.0.0.1:7000; SIPp rewrites the destination)."""
    packets = int(seconds * 50)
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for n in range(packets):
        samples = [int(12000 * math.sin(2 * math.pi * hz * (n * 160 + i) / 8000))
                   for i in range(160)]
        payload = audioop.lin2ulaw(struct.pack(f"<{len(samples)}h", *samples), 2)
        rtp = build_rtp(0, n, n * 160, ssrc, payload, marker=n == 0)
        udp = struct.pack("!HHHH", 6999, 7000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                         socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1")) + udp
        frame = bytes(12) + b"\x08\x00" + ip
        seconds_at, micros = divmod(n * 20_000, 1_000_000)
        out += struct.pack("<IIII", 1_700_000_000 + seconds_at, micros, len(frame), len(frame))
        out += frame
    path.write_bytes(bytes(out))
