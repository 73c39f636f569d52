"""Local ringback: the "ringing" an agent hears while an outgoing call rings.

A 180 Ringing without SDP carries no early media, so the phone makes the sound itself
(RFC 3960 §3: the UAC generates ringback when no early media is received). It uses the
same cadences as the ring tone (:data:`~.ringer.RING_TONES`: us 440+480 Hz 2 s on 4 s
off, eu 425 Hz 1/4, uk 400+450 Hz 0.4/0.2/0.4/2) and plays through the audio backend's
``play`` like the far end's audio, so it reaches the headset (not the ring device) and
the output level meter. It stops when the call is answered, fails, or early media
arrives (a 183 with SDP: the far end's own ringback or announcement is played instead).

It ticks on the shared 20 ms :class:`~.rtp.clock.MediaClock`: no task of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .ringer import RingSignal, RingTone
from .rtp.clock import TICK_S, MediaClock

if TYPE_CHECKING:
    from .audio_base import AudioBackend

RATE = 48000
AMPLITUDE = 0.2


class Ringback:
    """Ringback on ``backend`` between :meth:`start` and :meth:`stop`."""

    def __init__(self, backend: AudioBackend) -> None:
        self._backend = backend
        self._signal: RingSignal | None = None
        self._clock: MediaClock | None = None
        self._pts = 0
        self._answered = False
        self.frames_played = 0

    @property
    def playing(self) -> bool:
        return self._signal is not None

    @property
    def tone(self) -> RingTone | None:
        return self._signal.tone if self._signal is not None else None

    def start(self, tone: RingTone | None) -> None:
        """Play ``tone`` (None: stay quiet); a second start keeps the running tone, and
        after :meth:`answered` nothing starts it again (a 180 that comes late)."""
        if tone is None or self._signal is not None or self._answered:
            return
        self._signal = RingSignal(tone, RATE, AMPLITUDE)
        self._clock = MediaClock.for_loop()
        self._clock.add(self)

    def answered(self) -> None:
        """An answer (early or final) or the end of the call: stop, for good."""
        self._answered = True
        self.stop()

    def stop(self) -> None:
        if self._clock is not None:
            self._clock.remove(self)
        self._clock = None
        self._signal = None

    def tick(self, now: float) -> None:
        signal = self._signal
        if signal is None:
            return
        from .tracks import make_frame

        samples = int(RATE * TICK_S)
        frame = make_frame(signal.next_chunk(samples), self._pts, RATE)
        self._pts += samples
        self.frames_played += 1
        self._backend.play(frame)

    def skip(self, ticks: int) -> None:
        """The clock jumped: the cadence carries on from where it stands."""
