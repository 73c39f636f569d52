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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .audio_base import SAMPLE_RATE, AudioBackend

if TYPE_CHECKING:
    import av
    from aiortc.mediastreams import MediaStreamTrack

    from .tracks import Resampler

log = logging.getLogger(__name__)

MAX_BUFFER_SECONDS = 0.2
NO_PORTAUDIO = (
    "no audio device: the PortAudio library is missing (install libportaudio2) "
    "— calls run without audio (null backend)"
)
NO_CARD = (
    "no audio device: PortAudio found no sound card — calls run without audio (null backend)"
)

DeviceSpec = str | int


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool = False
    is_default_output: bool = False


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


class _Tap:
    """Captured audio for one call track, at the device rate, then at 48 kHz."""

    def __init__(self, device_rate: int) -> None:
        from .tracks import Resampler

        self.raw = bytearray()
        self.ready = bytearray()
        self.device_rate = device_rate
        self.resampler: Resampler = Resampler("s16", "mono", SAMPLE_RATE)


class SounddeviceBackend(AudioBackend):
    """A sound card: input and output devices chosen by name or index, ring device kept."""

    name = "sounddevice"

    def __init__(self, input: DeviceSpec = "default", output: DeviceSpec = "default",
                 ring: DeviceSpec = "default") -> None:
        super().__init__()
        self._specs = (input, output, ring)
        self._lock = threading.Lock()
        self._taps: list[_Tap] = []
        self._out = bytearray()
        self._streams: list[Any] = []
        self.input_device: DeviceInfo | None = None
        self.output_device: DeviceInfo | None = None
        self.ring_device: DeviceInfo | None = None
        self._open()

    def _open(self) -> None:
        sd = _sounddevice()
        devices = list_devices()
        spec_in, spec_out, spec_ring = self._specs
        self.input_device = resolve_device(spec_in, devices, output=False)
        self.output_device = resolve_device(spec_out, devices, output=True)
        try:
            self.ring_device = resolve_device(spec_ring, devices, output=True)
        except LookupError:
            self.ring_device = self.output_device
        self.in_rate = int(self.input_device.default_samplerate)
        self.out_rate = int(self.output_device.default_samplerate)
        streams = [
            sd.RawInputStream(device=self.input_device.index, samplerate=self.in_rate,
                              channels=1, dtype="int16", blocksize=self.in_rate // 50,
                              callback=self._on_input),
            sd.RawOutputStream(device=self.output_device.index, samplerate=self.out_rate,
                               channels=1, dtype="int16", blocksize=self.out_rate // 50,
                               callback=self._on_output),
        ]
        self._streams = streams
        for stream in streams:
            stream.start()
        self.description = f"mic {self.input_device.name!r}, speaker {self.output_device.name!r}"

    def _close_streams(self) -> None:
        for stream in self._streams:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # a vanished device must not break hang-up
                log.debug("closing audio stream: %s", exc)
        self._streams = []

    def rescan(self) -> list[DeviceInfo]:
        """Re-read the device list (a headset plugged in) and reopen the streams.

        PortAudio only sees new devices after re-initialisation; sounddevice documents
        its private ``_terminate``/``_initialize`` pair for that.
        """
        sd = _sounddevice()
        self._close_streams()
        sd._terminate()
        sd._initialize()
        self._open()
        return list_devices()

    def list_devices(self) -> list[DeviceInfo]:
        return list_devices()

    # PortAudio callback threads -----------------------------------------------------
    def _on_input(self, indata: Any, frames: int, time: Any, status: Any) -> None:
        data = bytes(indata)
        limit = int(self.in_rate * MAX_BUFFER_SECONDS) * 2
        with self._lock:
            for tap in self._taps:
                tap.raw += data
                if len(tap.raw) > limit:
                    del tap.raw[: len(tap.raw) - limit]

    def _on_output(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        need = frames * 2
        with self._lock:
            chunk = bytes(self._out[:need])
            del self._out[:need]
        outdata[:] = chunk + bytes(need - len(chunk))

    # asyncio side --------------------------------------------------------------------
    def _read_tap(self, tap: _Tap, samples: int) -> bytes:
        from .tracks import make_frame

        with self._lock:
            raw = bytes(tap.raw)
            tap.raw.clear()
        if raw:
            frame = make_frame(raw, 0, tap.device_rate)
            frame.pts = None
            for part in tap.resampler.resample(frame):
                tap.ready += bytes(part.planes[0])[: part.samples * 2]
        need = samples * 2
        chunk = bytes(tap.ready[:need])
        del tap.ready[:need]
        if len(tap.ready) > int(SAMPLE_RATE * MAX_BUFFER_SECONDS) * 2:
            tap.ready.clear()
        return chunk + bytes(need - len(chunk))

    def source_track(self) -> MediaStreamTrack:
        from .tracks import PacedAudioTrack

        tap = _Tap(self.in_rate)
        with self._lock:
            self._taps.append(tap)
        track = PacedAudioTrack(lambda samples: self._read_tap(tap, samples))

        def _remove() -> None:
            with self._lock:
                if tap in self._taps:
                    self._taps.remove(tap)

        track.on("ended", _remove)
        return track

    def _play(self, frame: av.AudioFrame) -> None:
        pcm = self.to_pcm(frame, self.out_rate)
        limit = int(self.out_rate * MAX_BUFFER_SECONDS) * 2
        with self._lock:
            self._out += pcm
            if len(self._out) > limit:
                del self._out[: len(self._out) - limit]

    async def close(self) -> None:
        self._close_streams()
        await super().close()


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
