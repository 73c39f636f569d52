"""The ring tone: a cadence on the ring device while an inbound call waits.

The signal is the usual telephone ringback of the agent's region (ITU-T E.180
Supplement 2 lists them per country): North America 440+480 Hz, 2 s on / 4 s off;
most of Europe 425 Hz, 1 s on / 4 s off; the UK 400+450 Hz, 0.4/0.2/0.4 on, 2 s off.
:class:`RingSignal` makes endless PCM of one at any device rate, without numpy: one
second of an integer-frequency sine is exactly periodic, so a one-second table is
computed once and read cyclically.

:class:`Ringer` is what the phone drives: ``update(True)`` while any call rings,
``update(False)`` when none does. Opening a sound-card stream can take a while, so a
backend that says ``ring_blocks`` is started and stopped in a worker thread; the
event loop never waits for a device. A backend without a ring device records that it
would ring (``backend.ringing``), which is what tests and the demo look at.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .tone import PcmLoop, sine

if TYPE_CHECKING:
    from .audio_base import AudioBackend

log = logging.getLogger(__name__)

#: Peak of the whole signal (all frequencies summed), as a fraction of full scale.
RING_AMPLITUDE = 0.5


@dataclass(frozen=True)
class RingTone:
    """Frequencies played together, and the cadence: on, off, on, off ... seconds."""

    name: str
    freqs: tuple[int, ...]
    cadence: tuple[float, ...]

    @property
    def period_s(self) -> float:
        return sum(self.cadence)


RING_TONES: dict[str, RingTone] = {
    "us": RingTone("us", (440, 480), (2.0, 4.0)),
    "eu": RingTone("eu", (425,), (1.0, 4.0)),
    "uk": RingTone("uk", (400, 450), (0.4, 0.2, 0.4, 2.0)),
}


def ring_tone(name: str | RingTone | None) -> RingTone | None:
    """The tone for ``audio.ring_tone``: a name from :data:`RING_TONES`, or None for off."""
    if name is None or isinstance(name, RingTone):
        return name
    if name == "off":
        return None
    try:
        return RING_TONES[name]
    except KeyError:
        raise ValueError(f"unknown ring tone {name!r} (want one of "
                         f"{', '.join([*RING_TONES, 'off'])})") from None


@functools.lru_cache(maxsize=16)
def _one_second(freqs: tuple[int, ...], rate: int, amplitude: float) -> bytes:
    """One second of the summed tones, computed once per process (tens of milliseconds
    of pure Python: a ring or ringback must not stall the loop each time it starts)."""
    each = amplitude / max(1, len(freqs))
    table = array("h", bytes(2 * rate))
    for hz in freqs:
        part = sine(hz, rate, rate, each)
        table = array("h", (a + b for a, b in zip(table, part, strict=True)))
    return table.tobytes()


class RingSignal:
    """Endless s16 mono PCM of ``tone`` at ``rate``, read in chunks of any size."""

    def __init__(self, tone: RingTone, rate: int, amplitude: float = RING_AMPLITUDE) -> None:
        self.tone = tone
        self.rate = rate
        self._loop = PcmLoop(_one_second(tone.freqs, rate, amplitude))
        self._segments = [max(1, round(s * rate)) for s in tone.cadence]
        self._segment = 0
        self._left = self._segments[0]  # samples left in the current segment

    def next_chunk(self, samples: int) -> bytes:
        """The next ``samples`` samples: the tone in the cadence's on segments, silence
        in the off ones (the tone keeps its phase through the gaps)."""
        out = bytearray()
        while samples > 0:
            take = min(samples, self._left)
            if self._segment % 2 == 0:  # even segments sound
                out += self._loop.next_chunk(take)
            else:
                out += bytes(2 * take)
                self._loop.skip(take)
            samples -= take
            self._left -= take
            if self._left == 0:
                self._segment = (self._segment + 1) % len(self._segments)
                self._left = self._segments[self._segment]
        return bytes(out)


class Ringer:
    """Rings ``backend`` while the phone says a call rings; never blocks the loop."""

    def __init__(self, backend: AudioBackend, tone: str | RingTone | None = "us") -> None:
        self._backend = backend
        self.tone = ring_tone(tone)
        self._wanted = False
        self._actual = False
        self._task: asyncio.Task[None] | None = None

    @property
    def ringing(self) -> bool:
        """True while the phone wants the ring tone (the device follows shortly)."""
        return self._wanted

    @property
    def backend(self) -> AudioBackend:
        return self._backend

    def update(self, ring: bool) -> None:
        """Ring or be quiet; call it whenever the set of ringing calls changes."""
        want = ring and self.tone is not None
        if want == self._wanted:
            return
        self._wanted = want
        if not self._backend.ring_blocks and self._task is None:
            self._apply(want)  # nothing to wait for: do it now
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._reconcile())

    def set_backend(self, backend: AudioBackend) -> None:
        """Use another backend from now on (the phone swapped it; nothing rings then)."""
        if self._actual:
            self._apply(False)
        self._backend = backend
        self._wanted = False

    async def wait_idle(self) -> None:
        """Return once the device does what was last asked (tests, shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        self._wanted = False
        await self.wait_idle()
        if self._actual:
            self._apply(False)

    async def _reconcile(self) -> None:
        try:
            while self._actual != self._wanted:
                want = self._wanted
                if self._backend.ring_blocks:
                    await asyncio.to_thread(self._apply, want)
                else:
                    self._apply(want)
        finally:
            self._task = None

    def _apply(self, want: bool) -> None:
        """Start or stop the tone on the backend; a failing device is logged, not raised."""
        try:
            if want and self.tone is not None:
                self._backend.start_ring(self.tone)
            else:
                self._backend.stop_ring()
        except Exception as exc:  # a vanished ring device must not break call handling
            log.warning("ring tone %s failed: %s", "start" if want else "stop", exc)
        self._actual = want
