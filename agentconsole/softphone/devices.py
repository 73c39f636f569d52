"""The phone's sound: its audio backend, device choice, checks, level meters, ring tone, beep.

:class:`AudioDevices` is the one way to the sound card for every client of the
library (``phone.devices``): the console's devices screen lists, picks and rescans
devices, plays a test tone and shows a level meter through it, never through
``media/`` or PortAudio itself. PortAudio is loaded only when first needed.

When the phone plays through a PulseAudio server (``audio.backend: pulse``, or ``auto``
with ``$PULSE_SERVER`` set: the agent's desktop reached through an SSH tunnel) the
devices are that server's sinks and sources, and the tone and meter go through it too;
:attr:`AudioDevices.route` says where the audio goes, for a header.

Blocking calls (PortAudio re-initialisation, reopening streams, playing a tone) are
meant to run in a worker thread; a level meter's PortAudio callback only stores a
number.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..media.audio_base import DeviceInfo, DeviceSelection, LevelListener

if TYPE_CHECKING:
    from ..config import AudioConfig
    from ..media.audio_base import AudioBackend
    from ..media.audio_pulse import PulseBackend
    from ..media.ringer import Ringer, RingTone

logger = logging.getLogger(__name__)

#: The beep (:meth:`AudioDevices.beep`): two short 880 Hz pips, well apart from any ring
#: tone, then quiet (the long last gap) until the ring device is told otherwise.
BEEP_HZ = 880
BEEP_CADENCE = (0.12, 0.08, 0.12, 30.0)
BEEP_S = 0.35

__all__ = ["AudioDevices", "AudioRoute", "DeviceInfo", "DeviceSelection", "LevelListener",
           "LevelMeter"]


class LevelMeter(Protocol):
    """An input device's level, measured on its own stream (see :meth:`open_meter`)."""

    def level(self) -> float | None:
        """Peak of the last block, 0.0..1.0; None until the first block."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class AudioRoute:
    """Where the calls' audio goes when that is worth telling the agent: through a sound
    server rather than a sound card of this machine (see :attr:`AudioDevices.route`)."""

    words: str  # "pulse via SSH tunnel"
    short: str  # the same in a few cells: "pulse/ssh"


class AudioDevices:
    """The audio backend of a phone and everything about its devices (see the module).

    ``emit`` is the phone's: a backend that fell back to silence (no PortAudio, no sound
    card) is reported as ``audio_notice(text)``.
    """

    def __init__(self, config: AudioConfig, emit: Callable[..., object]) -> None:
        self.config = config
        self._emit = emit
        self._backend: AudioBackend | None = None
        self._listeners: list[LevelListener] = []
        self._ringer: Ringer | None = None

    # ----- the backend -----------------------------------------------------------------
    @property
    def backend(self) -> AudioBackend | None:
        """The backend calls use; None until the first call or :meth:`open`."""
        return self._backend

    def use(self, backend: AudioBackend) -> None:
        """Play and capture through ``backend`` instead of what ``audio:`` asks for (the
        demo's simulated people, a test); call it before the phone starts."""
        self._backend = backend
        for listener in self._listeners:
            backend.add_level_listener(listener)

    def open(self) -> AudioBackend:
        """The backend, opened from the config on first use (sounddevice loads then)."""
        if self._backend is None:
            from ..media.audio import open_backend

            self.use(open_backend(self.config))
            notice = self.notice
            if notice:
                logger.warning("%s", notice)
                self._emit("audio_notice", notice)
        assert self._backend is not None
        return self._backend

    @property
    def notice(self) -> str | None:
        """Why there is no audio (e.g. no sound card), for a UI to show; None if fine."""
        return self._backend.notice if self._backend is not None else None

    @property
    def name(self) -> str:
        """The backend's kind ("sounddevice", "pulse", "null", "tone", "file"; "null"
        before it is open)."""
        return self._backend.name if self._backend is not None else "null"

    @property
    def silent(self) -> bool:
        """True when a call would be heard nowhere now: no sound device (the ``null``
        backend) or a PulseAudio server that does not answer (its tunnel is down).
        False before the backend is open."""
        backend = self._backend
        if backend is None:
            return False
        return backend.name == "null" or (backend.name == "pulse" and backend.notice is not None)

    @property
    def description(self) -> str:
        """What the backend plays on, in words; "" before it is open."""
        return self._backend.description if self._backend is not None else ""

    async def close(self) -> None:
        """Silence the ring tone and release the backend (the phone stops)."""
        if self._ringer is not None:
            await self._ringer.close()
            self._ringer = None
        backend, self._backend = self._backend, None
        if backend is not None:
            await backend.close()

    # ----- devices ----------------------------------------------------------------------
    @property
    def route(self) -> AudioRoute | None:
        """Where the audio goes, while a PulseAudio server (the agent's desktop through an
        SSH tunnel, say) answers; None for a sound card, no audio, or a server that does
        not answer now (then :attr:`notice` says why). Cheap: read it on every tick."""
        pulse = self._pulse()
        if pulse is None or pulse.notice is not None:
            return None
        return AudioRoute(pulse.route, "pulse/ssh" if pulse.via_ssh else "pulse")

    def _pulse(self) -> PulseBackend | None:
        """The backend when it is a PulseAudio server's: it has devices of its own."""
        if self._backend is None or self._backend.name != "pulse":
            return None
        from ..media.audio_pulse import PulseBackend

        return self._backend if isinstance(self._backend, PulseBackend) else None

    def available(self) -> list[DeviceInfo]:
        """Every sound device PortAudio sees (empty without PortAudio or a sound card), or
        the PulseAudio server's sinks and sources when the phone plays through one."""
        pulse = self._pulse()
        if pulse is not None:
            return pulse.list_devices()
        from ..media.audio_sd import list_devices

        return list_devices()

    def selection(self) -> DeviceSelection:
        """The devices in use (all None unless the backend is a sound card)."""
        return self.open().selected_devices()

    def choose(self, input: str | int | None = None, output: str | int | None = None,
               ring: str | int | None = None) -> None:
        """Switch the microphone, speaker or ring device (None keeps it) while calls run.

        Calls in progress keep going on the new devices. Raises
        :class:`~agentconsole.media.audio_base.AudioDeviceError` when no device matches
        (the previous devices stay) or the backend is not a sound card (null, tone,
        file). Blocks while PortAudio reopens its streams, typically tens of ms.
        """
        self.open().set_devices(input, output, ring)

    def rescan(self, *, calls_up: bool = False) -> list[DeviceInfo]:
        """Re-read the device list (a headset plugged in) and return it.

        A sound-card backend reopens its streams. A phone that fell back to ``null`` for
        want of a sound card (``audio.backend`` auto or sounddevice) tries the card again
        when no call is up (``calls_up`` False), so the headset works without a restart.
        """
        from ..media import audio_sd

        pulse = self._pulse()
        if pulse is not None:  # a sound server: ask it again (a headset on the desktop)
            return pulse.rescan()
        backend = self._backend
        if backend is not None and isinstance(backend, audio_sd.SounddeviceBackend):
            return backend.rescan()
        try:
            audio_sd.reinitialize()
        except Exception as exc:  # noqa: BLE001 - no PortAudio: the list is just empty
            logger.debug("PortAudio re-init failed: %s", exc)
        fell_back = backend is not None and backend.name == "null" and bool(backend.notice)
        if fell_back and self.config.backend in ("auto", "sounddevice") and not calls_up:
            self._retry_sound_card()
        return audio_sd.list_devices()

    def _retry_sound_card(self) -> None:
        from ..media import audio_sd

        card, notice = audio_sd.open_sounddevice(self.config.input, self.config.output,
                                                 self.config.ring)
        if card is None:
            logger.info("still no sound card: %s", notice)
            return
        # The null backend being replaced holds no device: nothing to close.
        self.use(card)
        if self._ringer is not None:
            self._ringer.set_backend(card)
        logger.info("audio: %s", card.description)

    def play_test_tone(self, device: DeviceInfo, seconds: float = 1.0) -> None:
        """A 1 kHz tone on ``device``, apart from any call (blocking: run it in a thread)."""
        from ..media.device_check import TONE_HZ, play_tone

        pulse = self._pulse_of(device)
        if pulse is not None:
            pulse.play_test_tone(device, TONE_HZ, seconds)
        else:
            play_tone(device, seconds)

    def open_meter(self, device: DeviceInfo) -> LevelMeter:
        """Measure ``device``'s input level on its own stream; close the meter after."""
        pulse = self._pulse_of(device)
        if pulse is not None:
            return pulse.open_meter(device)
        from ..media.device_check import InputMeter

        return InputMeter(device)

    def _pulse_of(self, device: DeviceInfo) -> PulseBackend | None:
        """The PulseAudio backend when ``device`` is one of its server's, else None."""
        from ..media.audio_pulse import HOSTAPI

        pulse = self._pulse()
        return pulse if pulse is not None and device.hostapi == HOSTAPI else None

    # ----- levels of the call audio ----------------------------------------------------------
    def add_level_listener(self, listener: LevelListener) -> None:
        """``listener("input" | "output", dbfs)`` about 10 times a second per stream, from
        whatever backend the phone uses now or later (see
        :meth:`AudioBackend.add_level_listener`)."""
        if listener not in self._listeners:
            self._listeners.append(listener)
        if self._backend is not None:
            self._backend.add_level_listener(listener)

    def remove_level_listener(self, listener: LevelListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)
        if self._backend is not None:
            self._backend.remove_level_listener(listener)

    # ----- the ring tone ---------------------------------------------------------------------
    @property
    def ringing(self) -> bool:
        """True while the ring tone is wanted (some inbound call rings, a tone is set)."""
        return self._ringer is not None and self._ringer.ringing

    def ring(self, want: bool) -> None:
        """Ring (some inbound call rings) or be quiet; call it on every change."""
        ringer = self._ringer
        if ringer is None:
            if not want or self._backend is None:
                return
            from ..media.ringer import Ringer

            ringer = self._ringer = Ringer(self._backend, self.config.ring_tone)
        ringer.update(want)

    async def beep(self, seconds: float = BEEP_S) -> None:
        """Two short pips on the ring device in place of the ring tone, returning after
        ``seconds``: what a headset agent hears before a call is answered for them
        (auto-answer). The device stays quiet after the pips until :meth:`restore_ring`
        or the next change of the ring tone. Never raises: a missing beep costs nothing."""
        backend = self._backend
        if backend is None:
            return
        from ..media.ringer import RingTone

        try:
            await self._on_ring_device(backend.start_ring,
                                       RingTone("beep", (BEEP_HZ,), BEEP_CADENCE))
            await asyncio.sleep(seconds)
        except Exception as exc:  # noqa: BLE001 - a vanished ring device must not matter
            logger.info("beep failed: %s", exc)

    async def restore_ring(self) -> None:
        """After :meth:`beep`: the ring tone again while a call still rings, else quiet."""
        backend = self._backend
        if backend is None:
            return
        ringer = self._ringer
        tone = ringer.tone if ringer is not None and ringer.ringing else None
        try:
            if tone is not None:
                await self._on_ring_device(backend.start_ring, tone)
            else:
                await self._on_ring_device(backend.stop_ring)
        except Exception as exc:  # noqa: BLE001 - as for the beep
            logger.info("could not restore the ring device: %s", exc)

    async def _on_ring_device(self, action: Callable[..., None], *args: RingTone) -> None:
        """A ring-device call, in a worker thread when it opens a device (a sound card)."""
        if self._backend is not None and self._backend.ring_blocks:
            await asyncio.to_thread(action, *args)
        else:
            action(*args)
