"""An adaptive jitter buffer and a packet-loss concealer, without I/O or clocks.

:class:`JitterBuffer` takes packets with their arrival times (``push``) and gives them
back in sequence order, one per playout tick (``pop``): a test feeds packets with
invented arrival times and pulls at invented playout times, with no socket and no
sleep.

How it decides (the rules a test can check):

- **Order**: packets are kept by extended sequence number (RFC 3550 A.1, wrap at
  65536); reordered packets take their place, duplicates are dropped (counted).
- **Late**: a packet whose turn has passed is dropped and counted; if its slot was
  concealed as lost, it came late rather than never, so the target depth grows by one
  packet at once (fast attack).
- **Loss**: when the next packet is missing but a later one is there, its playout time
  has come: ``pop`` returns :data:`LOST` (the caller conceals it) and moves on.
- **Underrun**: when nothing is buffered, ``pop`` returns :data:`EMPTY` without moving
  on and playout restarts once ``target`` packets are buffered again; a packet that
  was only delayed then plays, late, instead of being concealed. Silence suppression,
  hold and DTMF events (sequence numbers marked with ``skip``) go the same way.
- **Target depth**: from the spread of the packets' relative delays (arrival minus
  media time) over the last :data:`WINDOW` packets, its 98th percentile, in packets,
  clamped to [``min_depth``, ``max_depth``]. When the buffer holds more than the target
  plus :data:`EXCESS` packets for :data:`EXCESS_POPS` ticks in a row, one packet is
  dropped (latency comes back down after a spike); above ``max_depth`` at once.

:class:`Concealer` fills a lost packet's time with the last good audio, attenuated
step by step, and fades to silence after a few packets (the repetition-with-decay
scheme of G.711 Appendix I, without its pitch search).
"""

from __future__ import annotations

import math
from collections import deque

from .codecs import scale

FRAME = "frame"
LOST = "lost"
EMPTY = "empty"
#: Packets whose relative delay the target depth is computed from (about 4 s at 20 ms).
WINDOW = 200
#: The buffer may run this many packets above its target before it trims.
EXCESS = 2
#: ... for this many playout ticks in a row (one second at 20 ms).
EXCESS_POPS = 50
#: A jump of the sequence number larger than this starts a new stream (RFC 3550 A.1).
RESTART_JUMP = 3000
#: A relative delay this far from the previous one is a new timing base, not jitter.
REBASE_S = 1.0
_MISSING = object()

Popped = tuple[str, int, bytes]  # (FRAME | LOST | EMPTY, payload type, payload)


class JitterBuffer:
    """Reorders, times and trims one stream's packets; see the module doc for the rules."""

    def __init__(self, clock_rate: int, *, packet_s: float = 0.02, min_depth: int = 1,
                 max_depth: int = 25) -> None:
        self.clock_rate = clock_rate
        self.packet_s = packet_s
        self.min_depth = min_depth
        self.max_depth = max_depth
        self.target = min_depth
        self.duplicates = self.late = self.lost = self.dropped = self.underruns = 0
        self._slots: dict[int, tuple[int, bytes] | None] = {}  # ext seq -> (PT, payload)
        self._next: int | None = None
        self._highest: int | None = None
        self._playing = False
        self._excess_pops = 0
        self._delays: deque[float] = deque(maxlen=WINDOW)
        self._since_estimate = 0
        self._concealed: deque[int] = deque(maxlen=64)
        self._ts_last: int | None = None
        self._ts_ext = 0

    # ----- state -------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Packets (and gaps) between the next one to play and the newest one."""
        if self._next is None or self._highest is None:
            return 0
        return max(0, self._highest - self._next + 1)

    @property
    def playing(self) -> bool:
        return self._playing

    def reset(self) -> None:
        """Forget the stream (a new SSRC, a new remote): the next packet starts afresh."""
        self._slots.clear()
        self._next = self._highest = None
        self._playing = False
        self._excess_pops = 0
        self._concealed.clear()
        self._delays.clear()
        self._ts_last = None

    # ----- input -------------------------------------------------------------------------
    def _extend(self, seq: int) -> int:
        if self._highest is None:
            return seq
        delta = ((seq - self._highest + 0x8000) & 0xFFFF) - 0x8000
        return self._highest + delta

    def push(self, seq: int, timestamp: int, payload: bytes, arrival: float,
             payload_type: int = 0) -> str:
        """Queue one audio packet; returns "queued", "duplicate", "late" or "restart"."""
        return self._add(seq, (payload_type, payload), arrival, timestamp)

    def skip(self, seq: int, arrival: float) -> str:
        """A packet of the stream that carries no audio (telephone-event, comfort noise):
        its sequence number is neither waited for nor concealed."""
        return self._add(seq, None, arrival, 0)

    def _add(self, seq: int, item: tuple[int, bytes] | None, arrival: float,
             timestamp: int) -> str:
        ext = self._extend(seq)
        outcome = "queued"
        if self._highest is not None and (ext > self._highest + RESTART_JUMP or (
                self._next is not None and ext < self._next - RESTART_JUMP)):
            self.reset()
            ext, outcome = seq, "restart"
        if self._next is not None and ext < self._next:
            if self._playing:
                self.late += 1
                if ext in self._concealed:  # it was not lost, only late: buffer more
                    self.target = min(self.max_depth, self.target + 1)
                return "late"
            self._next = ext  # reordered before playout started
        if ext in self._slots:
            self.duplicates += 1
            return "duplicate"
        self._slots[ext] = item
        if self._highest is None or ext > self._highest:
            self._highest = ext
        if self._next is None:
            self._next = ext
        if item is not None:
            self._note_delay(timestamp, arrival)
        return outcome

    def _note_delay(self, timestamp: int, arrival: float) -> None:
        """Relative delay of one packet, on an unwrapped timestamp (RFC 3550 §5.1: the
        timestamp wraps at 2^32). A jump of more than :data:`REBASE_S` (a sender that
        restarted its clock) starts the window afresh rather than poisoning it."""
        if self._ts_last is None:
            self._ts_ext = 0
        else:
            self._ts_ext += ((timestamp - self._ts_last + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        self._ts_last = timestamp
        delay = arrival - self._ts_ext / self.clock_rate
        if self._delays and abs(delay - self._delays[-1]) > REBASE_S:
            self._delays.clear()
        self._delays.append(delay)
        self._since_estimate += 1
        if self._since_estimate >= 10:
            self._since_estimate = 0
            self._estimate()

    def _estimate(self) -> None:
        """Target depth from the 98th percentile of the relative delays' spread."""
        if len(self._delays) < 10:
            return
        ordered = sorted(self._delays)
        spread = ordered[int(0.98 * (len(ordered) - 1))] - ordered[0]
        wanted = max(self.min_depth, math.ceil(spread / self.packet_s - 1e-9))
        if wanted >= self.target:
            self.target = min(self.max_depth, wanted)
        else:  # come down one packet at a time
            self.target = max(wanted, self.target - 1)

    # ----- output ------------------------------------------------------------------------
    def pop(self) -> Popped:
        """The packet for this playout tick: FRAME, LOST (conceal it) or EMPTY."""
        if self._next is None or self._highest is None:
            return EMPTY, 0, b""
        if not self._playing:
            if self.depth < self.target:
                return EMPTY, 0, b""
            self._playing = True
            self._excess_pops = 0
        self._trim()
        while self._next <= self._highest:
            item = self._slots.pop(self._next, _MISSING)
            ext = self._next
            self._next += 1
            if item is None:
                continue
            if item is _MISSING:
                self.lost += 1
                self._concealed.append(ext)
                return LOST, 0, b""
            assert isinstance(item, tuple)
            return FRAME, item[0], item[1]
        self._playing = False
        self.underruns += 1
        return EMPTY, 0, b""

    def _trim(self) -> None:
        """Drop the oldest packet when the buffer stays above target + EXCESS."""
        assert self._next is not None
        if self.depth > self.max_depth:
            while self.depth > self.max_depth:
                self._drop_oldest()
            return
        depth = self.depth
        if depth > self.target + EXCESS:
            self._excess_pops += 1
            if self._excess_pops >= EXCESS_POPS:
                self._excess_pops = 0
                self._drop_oldest()
        else:
            self._excess_pops = 0

    def _drop_oldest(self) -> None:
        assert self._next is not None
        self._slots.pop(self._next, None)
        self._next += 1
        self.dropped += 1


class Concealer:
    """Packet-loss concealment on 16-bit mono PCM: repeat the last good frame with a
    per-frame gain (0.8, 0.6, 0.4, 0.2), then silence."""

    GAINS = (0.8, 0.6, 0.4, 0.2)

    def __init__(self) -> None:
        self._last: bytes = b""
        self._missing = 0

    def good(self, pcm: bytes) -> None:
        self._last = pcm
        self._missing = 0

    def conceal(self, samples: int) -> bytes:
        """``samples`` of stand-in audio for one lost packet."""
        gain = self.GAINS[self._missing] if self._missing < len(self.GAINS) else 0.0
        self._missing += 1
        if gain == 0.0 or not self._last:
            return bytes(2 * samples)
        data = scale(self._last, gain)
        need = 2 * samples
        if len(data) < need:
            data = (data * (need // max(1, len(data)) + 1))
        return data[:need]
