"""The wire formats of the detach layer: framed messages on the attach socket, JSON
lines on the console's side channel.

Attach socket (client <-> holder), one frame = kind (1 byte) + length (4 bytes, big
endian) + payload. Terminal bytes travel as they are; everything else is a small JSON
object. A frame longer than :data:`MAX_FRAME` is a protocol error and ends the
connection (nothing a terminal sends comes near it).

Side channel (holder <-> console), one JSON object per line over an inherited
socketpair; the holder reports ``attached`` / ``detached`` and the console asks for
``detach``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

#: client -> holder
HELLO = b"H"  # {"rows", "cols", "ssh", "tty", "pid"}: attach this terminal
STATUS = b"S"  # {}: answer with a STATUS_REPLY and close (attach --list, liveness)
INPUT = b"I"  # terminal input bytes
WINCH = b"W"  # {"rows", "cols"}: the terminal was resized
#: holder -> client
OUTPUT = b"O"  # terminal output bytes
EXIT = b"X"  # {"status"}: the console exited with this status
DETACHED = b"D"  # {"reason"}: this client is detached (detach key, another terminal)
STATUS_REPLY = b"J"  # {"config", "pid", "since", "attached", "tty"}

#: The environment variable naming the console's end of the side channel (a file
#: descriptor number the holder's child inherits).
SIDE_FD_ENV = "AGENTCONSOLE_REMOTE_FD"

KINDS = frozenset((HELLO, STATUS, INPUT, WINCH, OUTPUT, EXIT, DETACHED, STATUS_REPLY))
MAX_FRAME = 1 << 20
_HEAD = struct.Struct(">cI")


class ProtocolError(ValueError):
    """The other side sent something that is not a frame of this protocol."""


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return _HEAD.pack(kind, len(payload)) + payload


def json_frame(kind: bytes, obj: dict[str, Any]) -> bytes:
    return frame(kind, json.dumps(obj, separators=(",", ":")).encode())


def load(payload: bytes) -> dict[str, Any]:
    """A JSON frame's object; ProtocolError for anything else."""
    try:
        obj = json.loads(payload)
    except ValueError as exc:
        raise ProtocolError(f"bad JSON payload: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("JSON payload is not an object")
    return obj


@dataclass(frozen=True)
class Frame:
    kind: bytes
    payload: bytes


class FrameReader:
    """Incremental parser: ``feed(bytes)`` returns the complete frames so far."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= _HEAD.size:
            kind, size = _HEAD.unpack_from(self._buffer)
            if kind not in KINDS:
                raise ProtocolError(f"unknown frame kind {kind!r}")
            if size > MAX_FRAME:
                raise ProtocolError(f"frame of {size} bytes is too long")
            end = _HEAD.size + size
            if len(self._buffer) < end:
                break
            frames.append(Frame(kind, bytes(self._buffer[_HEAD.size:end])))
            del self._buffer[:end]
        return frames


def line(obj: dict[str, Any]) -> bytes:
    """One side-channel message."""
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


class LineReader:
    """Incremental parser of side-channel lines; bad lines are skipped, not fatal."""

    def __init__(self, limit: int = 65536) -> None:
        self._buffer = bytearray()
        self._limit = limit

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buffer += data
        out: list[dict[str, Any]] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self._limit:
                    self._buffer.clear()  # a line that never ends: drop it
                return out
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            try:
                out.append(load(raw))
            except ProtocolError:
                continue
