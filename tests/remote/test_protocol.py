"""The attach socket's frames and the side channel's lines: parsed whole however the
bytes arrive, and refused clearly when they are not ours."""

from __future__ import annotations

import pytest

from agentconsole.remote.protocol import (
    HELLO,
    INPUT,
    MAX_FRAME,
    FrameReader,
    LineReader,
    ProtocolError,
    frame,
    json_frame,
    line,
    load,
)


def test_frames_survive_any_split() -> None:
    data = frame(INPUT, b"\x1b[A") + json_frame(HELLO, {"rows": 24, "cols": 80}) + \
        frame(INPUT, b"")
    for cut in range(len(data) + 1):
        reader = FrameReader()
        got = reader.feed(data[:cut]) + reader.feed(data[cut:])
        assert [(f.kind, f.payload) for f in got][0] == (INPUT, b"\x1b[A")
        assert load(got[1].payload) == {"rows": 24, "cols": 80}
        assert len(got) == 3


@pytest.mark.parametrize("bad", [b"Z\x00\x00\x00\x00", b"I" + (MAX_FRAME + 1).to_bytes(4, "big")])
def test_unknown_or_huge_frames_are_protocol_errors(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        FrameReader().feed(bad)


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]"])
def test_json_payloads_must_be_objects(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        load(payload)


def test_side_channel_lines_skip_garbage_and_wait_for_the_end() -> None:
    reader = LineReader()
    assert reader.feed(b'{"event": "att') == []
    assert reader.feed(b'ached"}\nnonsense\n' + line({"event": "detached"})) == [
        {"event": "attached"}, {"event": "detached"}]


def test_a_line_that_never_ends_is_dropped() -> None:
    reader = LineReader(limit=16)
    assert reader.feed(b"x" * 64) == []
    assert reader.feed(b'\n{"a": 1}\n') == [{"a": 1}]
