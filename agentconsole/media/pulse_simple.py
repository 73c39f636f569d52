"""A ctypes binding of PulseAudio's "simple" API (``libpulse-simple.so.0``).

The simple API is a blocking, one-stream-per-connection interface: connect, then read
or write PCM; a write blocks while the server's buffer is full, so a writer thread is
paced by the server's clock. That is all a phone needs, and it works unchanged against
PipeWire's PulseAudio server (``pipewire-pulse``). Only ``libpulse0`` is needed on the
machine the console runs on — no ALSA plugin, no sound card, no daemon.

The C declarations follow ``<pulse/simple.h>``, ``<pulse/sample.h>`` and
``<pulse/def.h>`` (the structs' field order is ABI). ``pa_strerror`` lives in
``libpulse.so.0``. Failures raise :class:`PulseError` with the server's own words.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass

PA_STREAM_PLAYBACK = 1
PA_STREAM_RECORD = 2
PA_SAMPLE_S16LE = 3
#: ``(uint32_t) -1``: "let the server choose" in ``pa_buffer_attr``.
PA_DEFAULT = 0xFFFFFFFF


class PulseError(OSError):
    """The PulseAudio server refused, was unreachable, or the connection broke."""


class _SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32),
                ("channels", ctypes.c_uint8)]


class _BufferAttr(ctypes.Structure):
    _fields_ = [("maxlength", ctypes.c_uint32), ("tlength", ctypes.c_uint32),
                ("prebuf", ctypes.c_uint32), ("minreq", ctypes.c_uint32),
                ("fragsize", ctypes.c_uint32)]


@dataclass(frozen=True)
class _Lib:
    simple: ctypes.CDLL
    pulse: ctypes.CDLL


_lib: _Lib | None = None
_lib_lock = threading.Lock()


def _find(name: str, soname: str) -> ctypes.CDLL:
    try:
        return ctypes.CDLL(soname)
    except OSError:
        found = ctypes.util.find_library(name)
        if found is None:
            raise
        return ctypes.CDLL(found)


def library() -> _Lib:
    """Load and declare the two libraries once; OSError when libpulse is not installed."""
    global _lib
    with _lib_lock:
        if _lib is None:
            simple = _find("pulse-simple", "libpulse-simple.so.0")
            pulse = _find("pulse", "libpulse.so.0")
            _declare(simple, pulse)
            _lib = _Lib(simple, pulse)
        return _lib


def _declare(simple: ctypes.CDLL, pulse: ctypes.CDLL) -> None:
    err = ctypes.POINTER(ctypes.c_int)
    simple.pa_simple_new.restype = ctypes.c_void_p
    simple.pa_simple_new.argtypes = [
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p,
        ctypes.POINTER(_SampleSpec), ctypes.c_void_p, ctypes.POINTER(_BufferAttr), err]
    simple.pa_simple_free.restype = None
    simple.pa_simple_free.argtypes = [ctypes.c_void_p]
    for name in ("pa_simple_write", "pa_simple_read"):
        func = getattr(simple, name)
        func.restype = ctypes.c_int
        func.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, err]
    simple.pa_simple_flush.restype = ctypes.c_int
    simple.pa_simple_flush.argtypes = [ctypes.c_void_p, err]
    simple.pa_simple_get_latency.restype = ctypes.c_uint64
    simple.pa_simple_get_latency.argtypes = [ctypes.c_void_p, err]
    pulse.pa_strerror.restype = ctypes.c_char_p
    pulse.pa_strerror.argtypes = [ctypes.c_int]


def available() -> bool:
    """libpulse-simple can be loaded (the ``libpulse0`` package)."""
    try:
        library()
    except OSError:
        return False
    return True


def _message(lib: _Lib, code: int) -> str:
    text = lib.pulse.pa_strerror(code)
    return text.decode("utf-8", "replace") if text else f"error {code}"


def _opt(text: str | None) -> bytes | None:
    return text.encode() if text else None


class SimpleStream:
    """One blocking PulseAudio stream of s16le mono PCM: ``playback`` or ``record``.

    ``server`` is a ``PULSE_SERVER`` string (None: the library's own lookup, which
    reads ``PULSE_SERVER`` itself); ``device`` a sink or source name (None: the
    server's default). ``latency_ms`` sizes the server-side buffer — ``tlength`` for
    playback, ``fragsize`` for capture — which is what bounds the added delay.
    Not thread-safe: one thread owns a stream.
    """

    def __init__(self, direction: str, *, rate: int, latency_ms: int, server: str | None,
                 device: str | None = None, app_name: str = "agentconsole",
                 stream_name: str | None = None) -> None:
        lib = library()
        self._lib = lib
        self.direction = direction
        self.rate = rate
        spec = _SampleSpec(PA_SAMPLE_S16LE, rate, 1)
        size = max(1, rate * latency_ms // 1000) * 2
        if direction == "playback":
            attr = _BufferAttr(PA_DEFAULT, size, PA_DEFAULT, PA_DEFAULT, PA_DEFAULT)
            kind = PA_STREAM_PLAYBACK
        else:
            attr = _BufferAttr(PA_DEFAULT, PA_DEFAULT, PA_DEFAULT, PA_DEFAULT, size)
            kind = PA_STREAM_RECORD
        error = ctypes.c_int(0)
        handle = lib.simple.pa_simple_new(
            _opt(server), app_name.encode(), kind, _opt(device),
            (stream_name or direction).encode(), ctypes.byref(spec), None,
            ctypes.byref(attr), ctypes.byref(error))
        if not handle:
            raise PulseError(f"cannot open a PulseAudio {direction} stream: "
                             f"{_message(lib, error.value)}")
        self._handle: int | None = handle

    @property
    def closed(self) -> bool:
        return self._handle is None

    def _live(self) -> int:
        if self._handle is None:
            raise PulseError("the PulseAudio stream is closed")
        return self._handle

    def write(self, pcm: bytes) -> None:
        """Queue ``pcm``; blocks while the server's buffer is full (real-time pacing)."""
        error = ctypes.c_int(0)
        if self._lib.simple.pa_simple_write(self._live(), pcm, len(pcm),
                                            ctypes.byref(error)) < 0:
            raise PulseError(f"PulseAudio playback failed: {_message(self._lib, error.value)}")

    def read(self, size: int) -> bytes:
        """Block until ``size`` bytes were captured and return them."""
        buffer = ctypes.create_string_buffer(size)
        error = ctypes.c_int(0)
        if self._lib.simple.pa_simple_read(self._live(), buffer, size,
                                           ctypes.byref(error)) < 0:
            raise PulseError(f"PulseAudio capture failed: {_message(self._lib, error.value)}")
        return buffer.raw

    def latency_us(self) -> int:
        """The server's estimate of this stream's latency, in microseconds."""
        error = ctypes.c_int(0)
        value = int(self._lib.simple.pa_simple_get_latency(self._live(), ctypes.byref(error)))
        if value == 0xFFFFFFFFFFFFFFFF:
            raise PulseError(f"PulseAudio latency query failed: "
                             f"{_message(self._lib, error.value)}")
        return value

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            self._lib.simple.pa_simple_free(handle)
