"""RFC 4475 / RFC 5118 torture messages on the wire (reliability.md target P2).

A real UA (sans-IO core + driver + UDP transport on 127.0.0.1) gets each ``.dat`` as a
datagram and must answer with the verdict's status, or stay silent for what must be
dropped; afterwards it still answers OPTIONS.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from agentconsole.sip.message import Response
from agentconsole.sip.parser import parse_message
from agentconsole.sip.ua import UserAgent
from agentconsole.transport.base import TransportSettings
from agentconsole.transport.driver import Driver
from agentconsole.transport.udp import UdpTransport
from tests.sip.torture import CASES, IPV6_CASES, Verdict, load_fixture
from tests.sip.uahelpers import make_ua
from tests.waiting import wait_until

ALL = {**CASES, **IPV6_CASES}


_markers = itertools.count()


def is_final_for(reply: bytes, call_id: bytes) -> bool:
    return not reply.startswith(b"SIP/2.0 1") and b"Call-ID: " + call_id + b"\r\n" in reply


class Peer:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)

    async def exchange(self, data: bytes, port: int, timeout: float = 5.0) -> list[bytes]:
        """Send ``data``; return the replies up to the first final one.

        Silence (a dropped message) is proven, not waited out: an OPTIONS marker follows
        ``data`` on the same socket, and the UA handles datagrams in order, so once the
        marker is answered every reply to ``data`` has been sent. Replies to the marker
        are not returned; ``timeout`` only bounds a hang.
        """
        loop = asyncio.get_running_loop()
        while True:  # drain anything left over
            try:
                self.sock.recv(65535)
            except BlockingIOError:
                break
        marker = f"marker-{next(_markers)}"
        self.sock.sendto(data, ("127.0.0.1", port))
        self.sock.sendto(options_probe(marker), ("127.0.0.1", port))
        replies: list[bytes] = []
        async with asyncio.timeout(timeout):
            while True:
                reply = await loop.sock_recv(self.sock, 65535)
                if is_final_for(reply, marker.encode()):
                    return replies
                if b"Call-ID: " + marker.encode() + b"\r\n" in reply:
                    continue  # a provisional answer to the marker
                if not replies or replies[-1].startswith(b"SIP/2.0 1"):
                    replies.append(reply)  # up to the first final reply, as before


@dataclass
class RunningUa:
    ua: UserAgent
    port: int
    delivered: int = 0  # datagrams the transport handed to the UA


@pytest.fixture
async def running_ua() -> AsyncIterator[RunningUa]:
    ua = make_ua(password=None)
    ua.config.register = False
    transport = UdpTransport(TransportSettings(local_host="127.0.0.1"))
    driver = Driver(ua, transport, on_event=lambda event: None)
    await driver.start()
    assert transport.local_address is not None
    running = RunningUa(ua, transport.local_address[1])
    handler = transport.on_message

    def counting(data: bytes, peer: tuple[str, int]) -> None:
        running.delivered += 1
        handler(data, peer)

    transport.on_message = counting
    yield running
    await driver.stop()


def options_probe(tag: str) -> bytes:
    return (
        f"OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{tag};rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:1001@127.0.0.1>\r\n"
        f"Call-ID: {tag}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def statuses(replies: list[bytes], sent: bytes | None = None) -> list[int]:
    """Final statuses among ``replies`` that answer ``sent`` (not Timer G resends of an
    earlier case's answer, which arrive later on UDP)."""
    out = []
    for data in replies:
        message = parse_message(data)
        assert isinstance(message, Response)
        if sent is not None and message.call_id.encode("utf-8", "surrogateescape") not in sent:
            continue
        if message.status >= 200:
            out.append(message.status)
    return out


def check(name: str, verdict: Verdict, got: list[int]) -> None:
    allowed = {verdict.status, *verdict.alternatives} - {None}
    if verdict.kind == "drop":
        assert got == [], f"{name}: must be dropped, got {got}"
    elif verdict.kind in ("reject", "semantic"):
        if name == "insuf":  # no Call-ID/From/To: nothing to build a response from
            assert got in ([], [400]), f"{name}: {got}"
        else:
            assert got and set(got) <= allowed, f"{name}: expected {allowed}, got {got}"
    elif verdict.kind == "accept":
        assert all(code not in (400, 500, 505) for code in got), f"{name}: {got}"
    else:  # liberal: anything but a server error
        assert all(code < 500 or code == 501 for code in got), f"{name}: {got}"


async def test_every_torture_case_on_the_wire(running_ua: RunningUa) -> None:
    ua, port = running_ua.ua, running_ua.port
    peer = Peer()
    results = {}
    for name, verdict in ALL.items():
        # Several RFC 4475 messages share a branch and sent-by, so each would look like a
        # retransmission of the one before (§17.2.3): start every case from a clean table.
        for tx in list(ua.transactions):
            ua.transactions.remove(tx)
        data = load_fixture(name)
        got = statuses(await peer.exchange(data, port), data)
        results[name] = got
        check(name, verdict, got)
    assert len(results) == len(ALL) >= 59
    assert results["unkscm"] == [416] and results["bext01"] == [420]
    assert results["invut"] == [415] and results["badvers"] == [505]
    probe = options_probe("live")
    assert statuses(await peer.exchange(probe, port)) == [200]


async def test_bit_flipped_torture_seeds_never_stop_the_ua(running_ua: RunningUa) -> None:
    port = running_ua.port
    rng = random.Random(33)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    seeds = [load_fixture(name) for name in ALL]
    for i in range(2000):
        data = bytearray(rng.choice(seeds))
        if rng.random() < 0.33:  # one random bit flip in a third of the datagrams
            pos = rng.randrange(len(data))
            data[pos] ^= 1 << rng.randrange(8)
        sender.sendto(bytes(data), ("127.0.0.1", port))
        if i % 100 == 99:  # let the UA take in each batch before the next one
            await wait_until(lambda: running_ua.delivered >= i + 1,  # noqa: B023
                             5, f"{i + 1} datagrams handed to the UA")
    sender.close()
    peer = Peer()
    probe = options_probe("after")
    assert statuses(await peer.exchange(probe, port)) == [200]
