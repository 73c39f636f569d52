"""PulseAudio as the sound device: how audio reaches an agent working over SSH.

The agent's own desktop runs PulseAudio or PipeWire (``pipewire-pulse``); an SSH tunnel
(``ssh -R 4713:localhost:4713``, or a socket forward) makes it reachable from the machine
the console runs on, and ``PULSE_SERVER`` names the tunnel's end. This backend plays the
caller and captures the agent's microphone through that server with PulseAudio's simple
API (:mod:`.pulse_simple`): one blocking stream per direction, each in its own thread,
paced by the server. Two reasons it is not PortAudio's ALSA→pulse route (README "Audio
over SSH" has the measurement): the buffer sizes are ours to choose, which is what bounds
the delay, and a stream that breaks (the tunnel went down with the SSH session) is
reopened by us, so the audio comes back when the agent reconnects.

Streams run only while they are needed — capture while a call has a track, playback
while there is something to play or ring — so an idle console sends nothing through the
tunnel. While idle the server is probed every few seconds (a control connection, no
stream: no microphone indicator on the agent's desktop) so the header can tell the truth.
Devices are listed with :mod:`pulsectl` (sinks and sources, by their descriptions).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .audio_base import (
    AudioBackend,
    AudioDeviceError,
    DeviceInfo,
    DeviceSelection,
    DeviceSpec,
    PcmSource,
)
from .audio_sd import resolve_device
from .pulse_simple import PulseError, SimpleStream
from .taps import CaptureTap, bounded_append, capture_source, capture_track, mix, take

if TYPE_CHECKING:
    import av
    from aiortc.mediastreams import MediaStreamTrack

    from .ringer import RingSignal, RingTone

log = logging.getLogger(__name__)

FRAME_MS = 20
#: Wait before reopening a stream that failed (the tunnel is down).
RETRY_S = 1.0
#: Playback stream kept open this long after the last frame (between calls it closes).
IDLE_CLOSE_S = 3.0
#: How often an idle backend checks the server is still there (for the header).
PROBE_S = 5.0
HOSTAPI = "PulseAudio"
#: The one-line hint of how to bring the agent's sound to this machine.
FORWARD_HINT = "ssh -R 4713:localhost:4713 … then PULSE_SERVER=tcp:localhost:4713"

StreamFactory = Callable[..., SimpleStream]


class PulseBackend(AudioBackend):
    """Calls' audio through a PulseAudio server (``server`` as in ``PULSE_SERVER``).

    ``input`` / ``output`` pick a source / sink by description, PulseAudio name, index
    or "default" (the server's default). The ring tone is mixed into the output.
    Never raises for an unreachable server: it says so in :attr:`notice` and keeps
    trying, so the audio starts when the tunnel comes up.
    """

    name = "pulse"

    def __init__(self, server: str | None, *, input: DeviceSpec = "default",
                 output: DeviceSpec = "default", rate: int = 48000, latency_ms: int = 40,
                 via_ssh: bool = False, stream_factory: StreamFactory = SimpleStream) -> None:
        super().__init__()
        self.server = server
        self.rate = rate
        self.latency_ms = latency_ms
        self.via_ssh = via_ssh
        self._specs: tuple[DeviceSpec, DeviceSpec] = (input, output)
        self._devices: tuple[str | None, str | None] = (None, None)
        self._selection = DeviceSelection()
        self._open_stream = stream_factory
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._out = bytearray()
        self._taps: list[CaptureTap] = []
        self._ring_signal: RingSignal | None = None
        self._last_frame = 0.0
        #: True once the server answered, False after a failure, None before either.
        self.reachable: bool | None = None
        self._problem = ""
        self.streams_opened = 0
        self._generation = 0  # bumped when the agent picks other devices
        self.description = f"PulseAudio at {self.where}" + (" (SSH tunnel)" if via_ssh else "")
        self._refresh_devices()
        self._threads = [threading.Thread(target=self._play_loop, name="pulse-playback",
                                          daemon=True),
                         threading.Thread(target=self._record_loop, name="pulse-capture",
                                          daemon=True)]
        for thread in self._threads:
            thread.start()

    # ----- what the screen shows --------------------------------------------------------
    @property
    def where(self) -> str:
        return self.server or "the default PulseAudio server"

    @property
    def route(self) -> str:
        """Where the audio goes, in a few words: "pulse via SSH tunnel"."""
        return "pulse via SSH tunnel" if self.via_ssh else "pulse"

    @property
    def notice(self) -> str | None:
        """Why there is no audio right now; None while the server answers."""
        if self.reachable is not False:
            return None
        return (f"no audio device: PulseAudio at {self.where} does not answer "
                f"({self._problem}) — forward it: {FORWARD_HINT}")

    @notice.setter
    def notice(self, value: str | None) -> None:
        """The base class initialises the attribute; this backend computes it instead."""

    # ----- devices ----------------------------------------------------------------------
    def list_devices(self) -> list[DeviceInfo]:
        """The server's sinks and sources (empty when it does not answer)."""
        devices, _names = self._query()
        return devices

    def _query(self) -> tuple[list[DeviceInfo], dict[int, str]]:
        try:
            return list_pulse_devices(self.server)
        except Exception as exc:  # pulsectl missing, server gone: no list, no crash
            log.debug("cannot list PulseAudio devices: %s", exc)
            return [], {}

    def _refresh_devices(self) -> None:
        """Resolve the configured devices against the server (defaults when unreachable)."""
        devices, names = self._query()
        if devices:
            self._note_reachable(True)
        chosen: list[str | None] = []
        picked: list[DeviceInfo | None] = []
        for spec, output in ((self._specs[0], False), (self._specs[1], True)):
            device = _pick(spec, devices, output)
            picked.append(device)
            chosen.append(None if device is None or spec in ("default", -1)
                          else names.get(id_key(device)))
        self._devices = (chosen[0], chosen[1])
        self._selection = DeviceSelection(picked[0], picked[1], picked[1])

    def selected_devices(self) -> DeviceSelection:
        return self._selection

    def set_devices(self, input: DeviceSpec | None = None, output: DeviceSpec | None = None,
                    ring: DeviceSpec | None = None) -> None:
        """Use another source or sink; the streams reopen on it within a frame or two."""
        devices, _names = self._query()
        if not devices:
            raise AudioDeviceError(f"PulseAudio at {self.where} does not answer")
        new = (self._specs[0] if input is None else input,
               self._specs[1] if output is None else output)
        for spec, output_side in ((new[0], False), (new[1], True)):
            if spec not in ("default", -1) and _pick(spec, devices, output_side) is None:
                raise AudioDeviceError(f"no PulseAudio {'sink' if output_side else 'source'} "
                                       f"matches {spec!r}")
        self._specs = new
        self._refresh_devices()
        with self._wake:
            self._generation += 1
            self._wake.notify_all()

    def rescan(self) -> list[DeviceInfo]:
        self._refresh_devices()
        return self.list_devices()

    # ----- devices screen: test tone and level meter -----------------------------------
    def play_test_tone(self, device: DeviceInfo, hz: int = 1000, seconds: float = 1.0) -> None:
        """A tone on ``device`` (blocking; a worker thread runs it)."""
        from .tone import ToneGenerator

        _devices, names = self._query()
        stream = self._open_stream("playback", rate=self.rate, latency_ms=self.latency_ms,
                                   server=self.server, device=names.get(id_key(device)),
                                   stream_name="test tone")
        try:
            stream.write(ToneGenerator(hz, self.rate, 0.2).next_chunk(int(self.rate * seconds)))
        finally:
            stream.close()

    def open_meter(self, device: DeviceInfo) -> PulseMeter:
        """The peak level of ``device`` (a source), from a record stream of its own."""
        _devices, names = self._query()
        stream = self._open_stream("record", rate=self.rate, latency_ms=50, server=self.server,
                                   device=names.get(id_key(device)), stream_name="level meter")
        return PulseMeter(stream, self.rate)

    # ----- calls ------------------------------------------------------------------------
    def source_track(self) -> MediaStreamTrack:
        return capture_track(self._taps, self._lock, self.rate, self.metered,
                             added=self._wake.notify_all)

    def pcm_source(self, rate: int) -> PcmSource:
        return capture_source(self._taps, self._lock, self.rate, rate, self.metered,
                              added=self._wake.notify_all)

    def _play(self, frame: av.AudioFrame) -> None:
        pcm = self.to_pcm(frame, self.rate)
        with self._wake:
            bounded_append(self._out, pcm, self.rate)
            self._last_frame = time.monotonic()
            self._wake.notify_all()

    def start_ring(self, tone: RingTone) -> None:
        from .ringer import RingSignal

        super().start_ring(tone)
        with self._wake:
            self._ring_signal = RingSignal(tone, self.rate)
            self._wake.notify_all()

    def stop_ring(self) -> None:
        super().stop_ring()
        with self._wake:
            self._ring_signal = None

    @property
    def has_ring_device(self) -> bool:
        return True

    async def close(self) -> None:
        import asyncio

        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        loop = asyncio.get_running_loop()
        for thread in self._threads:  # a blocked read returns within one frame
            await loop.run_in_executor(None, thread.join, 2.0)
        await super().close()

    # ----- the two stream threads -------------------------------------------------------
    def _frame_bytes(self) -> int:
        return self.rate * FRAME_MS // 1000 * 2

    def _playback_wanted(self) -> bool:
        return bool(self._out) or self._ring_signal is not None or \
            time.monotonic() - self._last_frame < IDLE_CLOSE_S

    def _play_loop(self) -> None:
        if self.reachable is None:  # the device list did not answer: say so at once
            self._probe()
        with self._stream_owner("playback", self._playback_wanted) as stream_for:
            while not self._stopping.is_set():
                stream = stream_for()
                if stream is None:
                    continue
                size = self._frame_bytes()
                with self._lock:
                    chunk = take(self._out, size, keep=2 * size)
                    ring = self._ring_signal.next_chunk(size // 2) \
                        if self._ring_signal is not None else None
                try:
                    stream.write(mix(chunk, ring) if ring is not None else chunk)
                except PulseError as exc:
                    self._lost(stream, exc)

    def _record_loop(self) -> None:
        with self._stream_owner("record", lambda: bool(self._taps)) as stream_for:
            while not self._stopping.is_set():
                stream = stream_for()
                if stream is None:
                    continue
                try:
                    data = stream.read(self._frame_bytes())
                except PulseError as exc:
                    self._lost(stream, exc)
                    continue
                with self._lock:
                    for tap in self._taps:
                        tap.push(data)

    @contextmanager
    def _stream_owner(self, direction: str,
                      wanted: Callable[[], bool]) -> Iterator[Callable[[], SimpleStream | None]]:
        """``stream_for()``: the open stream while ``wanted()``, else None after waiting
        (for work, for a retry, or a probe interval). Closes the stream on the way out."""
        state: dict[str, Any] = {"stream": None, "generation": self._generation}

        def close() -> None:
            stream, state["stream"] = state["stream"], None
            if stream is not None:
                stream.close()

        def stream_for() -> SimpleStream | None:
            stream: SimpleStream | None = state["stream"]
            if stream is not None and (stream.closed or state["generation"] != self._generation):
                close()  # broken, or another device was chosen
                stream = None
            with self._wake:
                idle = not wanted()
                woken = self._wake.wait(PROBE_S) if idle and stream is None else True
            if idle:
                close()
                if not woken and direction == "playback":
                    self._probe()  # nothing to play for a while: is the server still there?
                return None
            if stream is None:
                stream = self._connect(direction)
                if stream is None:
                    with self._lock:
                        self._out.clear()  # nobody hears it: do not replay it late
                    self._stopping.wait(RETRY_S)
                    return None
                state["stream"], state["generation"] = stream, self._generation
            return stream

        try:
            yield stream_for
        finally:
            close()

    def _connect(self, direction: str) -> SimpleStream | None:
        device = self._devices[1] if direction == "playback" else self._devices[0]
        try:
            stream = self._open_stream(direction, rate=self.rate, latency_ms=self.latency_ms,
                                       server=self.server, device=device,
                                       stream_name="call audio" if direction == "playback"
                                       else "agent microphone")
        except (PulseError, OSError) as exc:
            self._note_reachable(False, str(exc).rsplit(": ", 1)[-1])
            return None
        self.streams_opened += 1
        self._note_reachable(True)
        return stream

    def _lost(self, stream: SimpleStream, exc: Exception) -> None:
        log.warning("PulseAudio %s stream lost: %s", stream.direction, exc)
        stream.close()
        self._note_reachable(False, str(exc).rsplit(": ", 1)[-1])

    def _probe(self) -> None:
        try:
            server_name(self.server)
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            self._note_reachable(False, str(exc) or type(exc).__name__)
        else:
            self._note_reachable(True)

    def _note_reachable(self, ok: bool, problem: str = "") -> None:
        if ok != self.reachable:
            log.info("PulseAudio at %s %s", self.where,
                     "answers" if ok else f"does not answer: {problem}")
        self.reachable = ok
        self._problem = problem if not ok else ""


class PulseMeter:
    """Peak of the last 50 ms of a source, 0.0..1.0 (the devices screen's level meter)."""

    def __init__(self, stream: SimpleStream, rate: int) -> None:
        self._stream = stream
        self._block = rate // 20 * 2
        self._level: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pulse-meter", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from array import array

        try:
            while not self._stop.is_set():
                samples = array("h", self._stream.read(self._block))
                peak = max(max(samples, default=0), -min(samples, default=0))
                self._level = min(1.0, peak / 32768.0)
        except PulseError as exc:
            log.info("level meter stopped: %s", exc)
        finally:
            self._stream.close()

    def level(self) -> float | None:
        return self._level

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)


def _pick(spec: DeviceSpec, devices: list[DeviceInfo], output: bool) -> DeviceInfo | None:
    try:
        return resolve_device(spec, devices, output)
    except LookupError:
        return None


def id_key(device: DeviceInfo) -> int:
    """Sinks and sources have separate index spaces: key them apart."""
    return device.index if device.max_output_channels else -1 - device.index


def list_pulse_devices(server: str | None) -> tuple[list[DeviceInfo], dict[int, str]]:
    """(devices, key -> PulseAudio name) of the server's sinks and sources, named by
    their descriptions. Raises when pulsectl or the server is missing."""
    import pulsectl

    with pulsectl.Pulse("agentconsole-devices", server=server, connect=False) as pulse:
        pulse.connect(timeout=2.0)
        info = pulse.server_info()
        devices: list[DeviceInfo] = []
        names: dict[int, str] = {}
        for sink in pulse.sink_list():
            device = DeviceInfo(int(sink.index), str(sink.description or sink.name), HOSTAPI,
                                0, int(sink.channel_count), float(sink.sample_spec.rate),
                                is_default_output=sink.name == info.default_sink_name)
            devices.append(device)
            names[id_key(device)] = str(sink.name)
        for source in pulse.source_list():
            device = DeviceInfo(int(source.index), str(source.description or source.name),
                                HOSTAPI, int(source.channel_count), 0,
                                float(source.sample_spec.rate),
                                is_default_input=source.name == info.default_source_name)
            devices.append(device)
            names[id_key(device)] = str(source.name)
        return devices, names


def server_name(server: str | None) -> str:
    """"pulseaudio 16.1" (or PipeWire's): a control connection, no stream opened."""
    import pulsectl

    with pulsectl.Pulse("agentconsole-probe", server=server, connect=False) as pulse:
        pulse.connect(timeout=2.0)
        info = pulse.server_info()
        return f"{info.server_name} {info.server_version}"
