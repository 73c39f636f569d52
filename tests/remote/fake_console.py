"""A stand-in for the console under a holder: it reports what a console would see.

Run on the holder's pty with the side channel in ``$AGENTCONSOLE_REMOTE_FD``. It prints
``ready``, then answers lines typed at its terminal — ``size`` (the pty's size as the
console would read it), ``detach`` (asks the holder to detach the terminal), ``exit N``
— and prints every side-channel message as ``side {json}`` (``history`` prints them all
again, for a terminal that was not attached when they came). A ``terminate`` message
makes it exit with 5, as a console shutting down cleanly would.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import socket
import struct
import sys
import termios


def size() -> str:
    rows, cols = struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))[:2]
    return f"size {rows}x{cols}"


def main() -> int:
    side = socket.socket(fileno=int(os.environ["AGENTCONSOLE_REMOTE_FD"]))
    print("ready", size(), flush=True)
    pending = b""
    seen: list[str] = []
    while True:
        ready, _, _ = select.select([0, side], [], [])
        if side in ready:
            pending += side.recv(65536)
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                message = json.loads(raw)
                seen.append(json.dumps(message, sort_keys=True))
                print("side", seen[-1], flush=True)
                if message.get("event") == "terminate":
                    return 5
        if 0 in ready:
            text = sys.stdin.readline()
            if not text:
                return 9
            words = text.split()
            if words[:1] == ["size"]:
                print(size(), flush=True)
            elif words[:1] == ["history"]:
                print("history", " | ".join(seen), "end", flush=True)
            elif words[:1] == ["detach"]:
                side.send(b'{"request":"detach"}\n')
            elif words[:1] == ["exit"]:
                return int(words[1])


if __name__ == "__main__":
    sys.exit(main())
