"""A flood of malformed datagrams at the UA's UDP port while it is registered to Kamailio.

The UA must stay registered, keep answering OPTIONS, and never raise (issue #2's
"done when"; reliability.md F2 in small).
"""

from __future__ import annotations

import asyncio
import random
import socket

from agentconsole import Phone, parse_config

from .rig import Kamailio
from .test_register_kamailio import make_config


def options(port: int, branch: str) -> bytes:
    return (
        f"OPTIONS sip:1001@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{branch};rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\n"
        "To: <sip:1001@127.0.0.1>\r\nCall-ID: probe-{branch}\r\nCSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).replace("{branch}", branch).encode()


async def ask_options(sock: socket.socket, port: int, branch: str) -> bytes:
    loop = asyncio.get_running_loop()
    sock.sendto(options(port, branch), ("127.0.0.1", port))
    deadline = loop.time() + 2
    while loop.time() < deadline:
        try:
            data = sock.recv(65535)
        except BlockingIOError:
            await asyncio.sleep(0.01)
            continue
        if f"probe-{branch}".encode() in data:
            return data
    raise AssertionError("no answer to OPTIONS")


async def test_malformed_flood_leaves_ua_registered_and_answering(kamailio: Kamailio) -> None:
    phone = Phone(parse_config(make_config("udp")))
    await phone.start()
    try:
        assert phone.is_registered
        assert phone.transport is not None and phone.transport.local_address is not None
        port = phone.transport.local_address[1]
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        probe.setblocking(False)
        first = await ask_options(probe, port, "before")
        assert first.startswith(b"SIP/2.0 200")
        rng = random.Random(42)
        seeds = [options(port, "x"), b"INVITE sip:x SIP/2.0\r\n\r\n", b"\x00" * 200,
                 b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n\r\n"]
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(5000):
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 6)):
                pos = rng.randrange(len(data))
                data[pos] = rng.randrange(256)
            flood.sendto(bytes(data), ("127.0.0.1", port))
            if i % 200 == 0:
                await asyncio.sleep(0)  # let the UA's loop read
        flood.close()
        await asyncio.sleep(0.5)
        after = await ask_options(probe, port, "after")
        assert after.startswith(b"SIP/2.0 200")
        assert phone.is_registered
        assert len(kamailio.contacts("1001")) == 1
        probe.close()
    finally:
        await phone.stop()
