"""The jitter buffer and loss concealment, on a fake clock: packets are pushed with
invented arrival times and pulled at invented playout ticks (20 ms apart)."""

from __future__ import annotations

from array import array

from hypothesis import given
from hypothesis import strategies as st

from agentconsole.media.rtp.jitter import (
    EMPTY,
    EXCESS,
    FRAME,
    LOST,
    Concealer,
    JitterBuffer,
)

TICK = 0.02
UNITS = 160  # 20 ms at 8 kHz


def payload(seq: int) -> bytes:
    return (seq & 0xFFFF).to_bytes(2, "big")


class Feed:
    """A sender at 50 packets/s from seq ``first``; ``delay(seq)`` is each packet's extra
    network delay."""

    def __init__(self, buffer: JitterBuffer, first: int = 100) -> None:
        self.buffer = buffer
        self.first = first

    def send(self, seq: int, delay: float = 0.005) -> str:
        index = (seq - self.first) & 0xFFFF
        return self.buffer.push(seq & 0xFFFF, (index * UNITS) & 0xFFFFFFFF, payload(seq),
                                index * TICK + delay)


def played(buffer: JitterBuffer, ticks: int) -> list[object]:
    out: list[object] = []
    for _ in range(ticks):
        kind, _pt, data = buffer.pop()
        out.append(int.from_bytes(data, "big") if kind == FRAME else kind)
    return out


def test_in_order_packets_play_in_order_one_per_tick() -> None:
    jb = JitterBuffer(8000)
    feed = Feed(jb)
    got: list[object] = []
    for seq in range(100, 110):
        feed.send(seq)
        got += played(jb, 1)
    assert got == list(range(100, 110))
    assert jb.pop()[0] == EMPTY and jb.underruns == 1


def test_reordered_packets_are_put_back_in_order() -> None:
    jb = JitterBuffer(8000, min_depth=2)
    feed = Feed(jb)
    for seq in (100, 102, 101, 104, 103, 105):
        feed.send(seq)
    assert played(jb, 6) == [100, 101, 102, 103, 104, 105]
    assert jb.lost == jb.late == 0


def test_duplicates_are_dropped() -> None:
    jb = JitterBuffer(8000)
    feed = Feed(jb)
    assert feed.send(100) == "queued"
    assert feed.send(100) == "duplicate"
    feed.send(101)
    assert played(jb, 3) == [100, 101, EMPTY]
    assert jb.duplicates == 1


def test_a_missing_packet_is_concealed_when_a_later_one_is_due() -> None:
    jb = JitterBuffer(8000)
    feed = Feed(jb)
    for seq in (100, 101, 103, 104):
        feed.send(seq)
    assert played(jb, 5) == [100, 101, LOST, 103, 104]
    assert jb.lost == 1


def test_a_late_packet_is_dropped_and_the_buffer_grows() -> None:
    jb = JitterBuffer(8000)
    feed = Feed(jb)
    for seq in (100, 101, 103):
        feed.send(seq)
    assert played(jb, 3) == [100, 101, LOST]
    assert jb.target == 1
    assert feed.send(102, delay=0.07) == "late"
    assert jb.late == 1 and jb.target == 2  # it was late, not lost: buffer one more


def test_a_delayed_packet_on_an_empty_buffer_plays_late_instead_of_lost() -> None:
    jb = JitterBuffer(8000)
    feed = Feed(jb)
    feed.send(100)
    assert played(jb, 2) == [100, EMPTY]  # 101 is not here yet: nothing to conceal
    feed.send(101, delay=0.03)
    assert played(jb, 1) == [101]
    assert jb.lost == 0


def test_sequence_numbers_wrap() -> None:
    jb = JitterBuffer(8000, min_depth=2)
    feed = Feed(jb, first=65534)
    for seq in (65534, 65535, 65536 + 1, 65536):  # 0 and 1 reordered across the wrap
        feed.send(seq)
    assert played(jb, 4) == [65534, 65535, 0, 1]


def test_non_audio_sequence_numbers_are_skipped_not_concealed() -> None:
    jb = JitterBuffer(8000)
    feed = Feed(jb)
    feed.send(100)
    jb.skip(101, 0.025)  # a telephone-event packet
    feed.send(102)
    assert played(jb, 2) == [100, 102]
    assert jb.lost == 0


def test_target_depth_follows_the_jitter() -> None:
    steady = JitterBuffer(8000)
    feed = Feed(steady)
    for seq in range(100, 300):
        feed.send(seq, delay=0.005)
    assert steady.target == 1
    jittery = JitterBuffer(8000)
    feed = Feed(jittery)
    for seq in range(100, 300):  # every fifth packet 55 ms late
        feed.send(seq, delay=0.06 if seq % 5 == 0 else 0.005)
    assert jittery.target == 3


def test_a_fast_sender_clock_is_trimmed_back_to_the_target() -> None:
    """The far end's clock runs 0.25 % fast: one extra packet every 400. Each time the
    buffer stays EXCESS packets above target for EXCESS_POPS ticks, one is dropped."""
    jb = JitterBuffer(8000)
    arrivals = [(i * TICK * 0.9975, i) for i in range(3000)]
    depths, got = [], []
    for tick in range(3000):
        now = tick * TICK
        while arrivals and arrivals[0][0] <= now:
            _, i = arrivals.pop(0)
            jb.push(100 + i, i * UNITS, payload(100 + i), now)
        got += played(jb, 1)
        depths.append(jb.depth)
    extra = 3000 - round(3000 * 0.9975)  # packets the fast clock sent beyond our ticks
    assert jb.target == 1 and jb.lost == 0
    assert extra - EXCESS - 2 <= jb.dropped <= extra
    assert max(depths) <= jb.target + EXCESS + 2
    frames = [x for x in got if isinstance(x, int)]
    assert frames == sorted(frames) and len(frames) + jb.dropped >= len(got) - 2


def test_above_max_depth_the_oldest_is_dropped_at_once() -> None:
    jb = JitterBuffer(8000, max_depth=5)
    for seq in range(100, 110):  # a burst of ten
        jb.push(seq, (seq - 100) * UNITS, payload(seq), 0.2)
    assert played(jb, 1) == [105]
    assert jb.dropped == 5


def test_a_restart_of_the_sequence_resets_the_buffer() -> None:
    jb = JitterBuffer(8000)
    feed = Feed(jb)
    feed.send(100)
    assert played(jb, 1) == [100]
    assert jb.push(40000, 0, payload(40000), 1.0) == "restart"
    assert played(jb, 1) == [40000]


@given(st.permutations(list(range(30))), st.sets(st.integers(0, 29), max_size=8))
def test_any_arrival_order_plays_each_packet_at_most_once_in_order(
        order: list[int], dropped: set[int]) -> None:
    jb = JitterBuffer(8000, min_depth=3)
    for index in order:
        if index not in dropped:
            jb.push(1000 + index, index * UNITS, payload(1000 + index), 0.0)
    out = [x for x in played(jb, 40) if isinstance(x, int)]
    assert out == sorted(out) and len(out) == len(set(out))
    assert set(out) <= {1000 + i for i in range(30)} - {1000 + d for d in dropped}


def test_concealment_repeats_the_last_frame_fading_to_silence() -> None:
    plc = Concealer()
    frame = array("h", [1000] * 160).tobytes()
    assert plc.conceal(160) == bytes(320)  # nothing heard yet: silence
    plc.good(frame)
    levels = []
    for _ in range(6):
        samples = array("h")
        samples.frombytes(plc.conceal(160))
        levels.append(samples[0])
    assert levels == [800, 600, 400, 200, 0, 0]
    plc.good(frame)
    assert array("h", plc.conceal(320))[319] == 800  # longer packets are filled too
