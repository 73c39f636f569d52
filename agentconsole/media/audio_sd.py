"""Sound-card audio through PortAudio (the ``sounddevice`` package).

One input and one output stream per backend, shared by every call: PortAudio's
callback thread copies captured PCM into a buffer per call track ("tap") and plays
from a single output buffer. Buffers are bounded so a stalled consumer costs latency
at most ``MAX_BUFFER_SECONDS``, never memory. Devices are opened at their own default
rate and converted to/from 48 kHz with single-threaded resamplers.

Without libportaudio ``import sounddevice`` raises OSError; without a sound card the
device list is empty and opening the default device raises PortAudioError
(shared/rig/README.md). Both end in ``(None, notice)`` from :func:`open_sounddevice`.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from .audio_base import (
    AudioBackend,
    AudioDeviceError,
    DeviceInfo,
    DeviceSelection,
    DeviceSpec,
    PcmSource,
)
from .taps import CaptureTap, bounded_append, capture_source, capture_track, mix, take

if TYPE_CHECKING:
    import av
    from aiortc.mediastreams import MediaStreamTrack

    from .ringer import RingSignal, RingTone

__all__ = [
    "NO_CARD", "NO_PORTAUDIO", "DeviceInfo", "DeviceSpec", "SounddeviceBackend",
    "list_devices", "open_sounddevice", "reinitialize", "resolve_device",
]

log = logging.getLogger(__name__)

NO_PORTAUDIO = (
    "no audio device: the PortAudio library is missing (install libportaudio2) "
    "— calls run without audio (null backend)"
)
NO_CARD = (
    "no audio device: PortAudio found no sound card — calls run without audio (null backend)"
)

def _sounddevice() -> Any:
    import sounddevice

    return sounddevice


def list_devices() -> list[DeviceInfo]:
    """Every PortAudio device; empty when PortAudio is missing or finds no card."""
    try:
        sd = _sounddevice()
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except Exception as exc:  # OSError (no PortAudio), PortAudioError, ImportError
        log.debug("cannot list audio devices: %s", exc)
        return []
    out = []
    for dev in devices:
        index = int(dev["index"])
        out.append(DeviceInfo(
            index=index,
            name=str(dev["name"]),
            hostapi=str(hostapis[dev["hostapi"]]["name"]),
            max_input_channels=int(dev["max_input_channels"]),
            max_output_channels=int(dev["max_output_channels"]),
            default_samplerate=float(dev["default_samplerate"]),
            is_default_input=index == default_in,
            is_default_output=index == default_out,
        ))
    return out


def resolve_device(spec: DeviceSpec, devices: list[DeviceInfo], output: bool) -> DeviceInfo:
    """A device by index, exact name, case-insensitive substring, or "default"."""
    usable = [d for d in devices
              if (d.max_output_channels if output else d.max_input_channels) > 0]
    if not usable:
        raise LookupError(NO_CARD)
    if spec == "default" or spec == -1:
        flag = "is_default_output" if output else "is_default_input"
        return next((d for d in usable if getattr(d, flag)), usable[0])
    if isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        found = next((d for d in usable if d.index == index), None)
    else:
        text = str(spec)
        found = next((d for d in usable if d.name == text), None) or next(
            (d for d in usable if text.lower() in d.name.lower()), None
        )
    if found is None:
        kind = "output" if output else "input"
        raise LookupError(f"no {kind} audio device matches {spec!r}")
    return found


class SounddeviceBackend(AudioBackend):
    """A sound card: input, output and ring devices chosen by name or index.

    Devices can be switched while calls run (:meth:`set_devices`, :meth:`rescan`): the
    streams are reopened, and each call's capture tap and the shared playback buffer
    stay, so the calls' tracks and playback simply follow the new devices. The ring
    tone is mixed into the output stream when the ring device is the output device (a
    second stream on one ALSA device would often fail as busy), and gets its own stream
    on a separate ring device (a loudspeaker beside a headset).
    """

    name = "sounddevice"
    ring_blocks = True  # opening a ring stream talks to the device

    def __init__(self, input: DeviceSpec = "default", output: DeviceSpec = "default",
                 ring: DeviceSpec = "default") -> None:
        super().__init__()
        self._specs: tuple[DeviceSpec, DeviceSpec, DeviceSpec] = (input, output, ring)
        self._lock = threading.Lock()
        self._taps: list[CaptureTap] = []
        self._out = bytearray()
        self._streams: list[Any] = []
        self._ring_signal: RingSignal | None = None  # read by a PortAudio thread
        self._ring_stream: Any = None
        self.input_device: DeviceInfo | None = None
        self.output_device: DeviceInfo | None = None
        self.ring_device: DeviceInfo | None = None
        self._open()

    def _open(self) -> None:
        sd = _sounddevice()
        devices = list_devices()
        spec_in, spec_out, spec_ring = self._specs
        input_device = resolve_device(spec_in, devices, output=False)
        output_device = resolve_device(spec_out, devices, output=True)
        ring_device = output_device  # "default": ring where the caller is heard
        if spec_ring not in ("default", -1):
            try:
                ring_device = resolve_device(spec_ring, devices, output=True)
            except LookupError as exc:
                log.warning("%s: the ring tone plays on the output device", exc)
        in_rate = int(input_device.default_samplerate)
        out_rate = int(output_device.default_samplerate)
        streams: list[Any] = []
        try:
            streams.append(sd.RawInputStream(
                device=input_device.index, samplerate=in_rate, channels=1, dtype="int16",
                blocksize=in_rate // 50, callback=self._on_input))
            streams.append(sd.RawOutputStream(
                device=output_device.index, samplerate=out_rate, channels=1, dtype="int16",
                blocksize=out_rate // 50, callback=self._on_output))
        except Exception:
            _close_all(streams)
            raise
        with self._lock:
            self.input_device, self.output_device = input_device, output_device
            self.ring_device = ring_device
            self.in_rate, self.out_rate = in_rate, out_rate
            self._out.clear()  # queued at the old rate
            for tap in self._taps:  # live calls keep their tap: only the rate changes
                tap.raw.clear()
                tap.device_rate = in_rate
        self._streams = streams
        for stream in streams:
            stream.start()
        self.description = f"mic {input_device.name!r}, speaker {output_device.name!r}"
        if ring_device.index != output_device.index:
            self.description += f", ring {ring_device.name!r}"

    def _close_streams(self) -> None:
        _close_all(self._streams)
        self._streams = []

    def selected_devices(self) -> DeviceSelection:
        return DeviceSelection(self.input_device, self.output_device, self.ring_device)

    def set_devices(self, input: DeviceSpec | None = None, output: DeviceSpec | None = None,
                    ring: DeviceSpec | None = None) -> None:
        """Reopen on other devices (None keeps one); calls in progress keep going.

        When a device cannot be found or opened the previous ones are reopened and
        :class:`AudioDeviceError` says why.
        """
        old = self._specs
        new = (old[0] if input is None else input, old[1] if output is None else output,
               old[2] if ring is None else ring)
        self._reopen(new, rescan=False)

    def rescan(self) -> list[DeviceInfo]:
        """Re-read the device list (a headset plugged in) and reopen the streams.

        PortAudio only sees new devices after re-initialisation; sounddevice documents
        its private ``_terminate``/``_initialize`` pair for that.
        """
        self._reopen(self._specs, rescan=True)
        return list_devices()

    def list_devices(self) -> list[DeviceInfo]:
        return list_devices()

    def _reopen(self, specs: tuple[DeviceSpec, DeviceSpec, DeviceSpec], rescan: bool) -> None:
        old = self._specs
        tone = self.ringing
        self._stop_ring_stream()
        self._close_streams()
        if rescan:
            reinitialize()
        self._specs = specs
        try:
            self._open()
        except Exception as exc:
            self._specs = old
            try:
                self._open()
            except Exception as again:  # the old device went away too
                log.warning("cannot reopen the previous audio devices: %s", again)
            raise AudioDeviceError(f"cannot use that audio device: {exc}") from exc
        finally:
            if tone is not None:  # a call still rings: ring on the (new) ring device
                self.ringing = None
                try:
                    self.start_ring(tone)
                except Exception as exc:
                    log.warning("cannot ring on the new device: %s", exc)

    # ring tone --------------------------------------------------------------------------
    @property
    def has_ring_device(self) -> bool:
        return self.ring_device is not None

    def start_ring(self, tone: RingTone) -> None:
        """Ring on the ring device (mixed into the output when it is the same device)."""
        from .ringer import RingSignal

        ring, output = self.ring_device, self.output_device
        super().start_ring(tone)
        if ring is None or output is None:
            return
        self._stop_ring_stream()
        if ring.index == output.index:
            signal = RingSignal(tone, self.out_rate)
            with self._lock:
                self._ring_signal = signal
            return
        rate = int(ring.default_samplerate)
        own = RingSignal(tone, rate)

        def fill(outdata: Any, frames: int, time: Any, status: Any) -> None:
            outdata[:] = own.next_chunk(frames)

        stream = _sounddevice().RawOutputStream(
            device=ring.index, samplerate=rate, channels=1, dtype="int16",
            blocksize=rate // 50, callback=fill)
        stream.start()
        self._ring_stream = stream

    def stop_ring(self) -> None:
        super().stop_ring()
        self._stop_ring_stream()

    def _stop_ring_stream(self) -> None:
        with self._lock:
            self._ring_signal = None
        stream, self._ring_stream = self._ring_stream, None
        if stream is not None:
            _close_all([stream])

    # PortAudio callback threads -----------------------------------------------------
    def _on_input(self, indata: Any, frames: int, time: Any, status: Any) -> None:
        data = bytes(indata)
        with self._lock:
            for tap in self._taps:
                tap.push(data)

    def _on_output(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        with self._lock:
            chunk = take(self._out, frames * 2)
            ring = self._ring_signal.next_chunk(frames) if self._ring_signal else None
        outdata[:] = mix(chunk, ring) if ring is not None else chunk

    # asyncio side --------------------------------------------------------------------
    def source_track(self) -> MediaStreamTrack:
        return capture_track(self._taps, self._lock, self.in_rate, self.metered)

    def pcm_source(self, rate: int) -> PcmSource:
        return capture_source(self._taps, self._lock, self.in_rate, rate, self.metered)

    def _play(self, frame: av.AudioFrame) -> None:
        pcm = self.to_pcm(frame, self.out_rate)
        with self._lock:
            bounded_append(self._out, pcm, self.out_rate)

    async def close(self) -> None:
        self._stop_ring_stream()
        self._close_streams()
        await super().close()


def _close_all(streams: list[Any]) -> None:
    for stream in streams:
        try:
            stream.stop()
            stream.close()
        except Exception as exc:  # a vanished device must not break hang-up
            log.debug("closing audio stream: %s", exc)


def reinitialize() -> None:
    """Make PortAudio re-read the device list (it only does so on initialisation)."""
    sd = _sounddevice()
    sd._terminate()
    sd._initialize()


def open_sounddevice(
    input: DeviceSpec, output: DeviceSpec, ring: DeviceSpec
) -> tuple[SounddeviceBackend | None, str]:
    """The sound-card backend, or None and the notice saying why there is none."""
    try:
        _sounddevice()
    except (OSError, ImportError) as exc:
        log.debug("sounddevice unavailable: %s", exc)
        return None, NO_PORTAUDIO
    devices = list_devices()
    if not any(d.max_input_channels for d in devices) or not any(
        d.max_output_channels for d in devices
    ):
        return None, NO_CARD
    try:
        return SounddeviceBackend(input, output, ring), ""
    except Exception as exc:  # PortAudioError, LookupError, a busy device...
        return None, (
            f"no audio device: cannot open the sound card ({exc}) "
            "— calls run without audio (null backend)"
        )
