"""Evidence helpers for the in-call interop tests: packet counts, what baresip heard,
and what a stereo recording holds.

- Packet counts come from agentconsole's own RTP statistics (``session.media.report()``,
  aiortc's sender/receiver counters) and, as the peer's view, from the RTP summary
  baresip prints when a call ends (``rtp_stats yes`` in the rig's configs).
- baresip 1.0.0 prints ``received event: 'X' (end=N)`` for each RFC 4733 telephone-event
  start/end it decodes, and ``call: received DTMF: 'X' (duration=N)`` for each SIP INFO
  ``application/dtmf-relay`` it accepts; those lines are the peer-side proof of digits.
- WAV analysis is stdlib only (no numpy in the venv): RMS and a Goertzel scan over a
  small frequency grid, per channel and per time window.
"""

from __future__ import annotations

import asyncio
import re
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentconsole import Phone
from agentconsole.media.tone import goertzel_power, rms
from agentconsole.softphone.session import Session
from agentconsole.transport.driver import TraceEntry
from tests.waiting import wait_until

if TYPE_CHECKING:
    from .baresip import Baresip

_EVENT_END = re.compile(r"received event: '(.)' \(end=1\)")
_INFO_DIGIT = re.compile(r"call: received DTMF: '(.)'")
_STATS_PACKETS = re.compile(r"^packets:\s+(\d+)\s+(\d+)", re.MULTILINE)


# ----- SIP trace ----------------------------------------------------------------------------
class SipTrace:
    """Collects agentconsole's SIP messages (``Phone(config, trace=...)``) for evidence."""

    def __init__(self) -> None:
        self.entries: list[TraceEntry] = []

    def __call__(self, entry: TraceEntry) -> None:
        self.entries.append(entry)

    def messages(self, direction: str | None = None) -> list[str]:
        return [e.data.decode("utf-8", "replace") for e in self.entries
                if direction is None or e.direction == direction]

    def sent_requests(self, method: str) -> list[str]:
        return [m for m in self.messages("out") if m.startswith(f"{method} ")]

    def text(self, limit: int = 6000) -> str:
        """The whole exchange, newest last, cut to ``limit`` characters from the end."""
        parts = [f"{'<<' if e.direction == 'in' else '>>'} {e.transport}\n"
                 + e.data.decode("utf-8", "replace") for e in self.entries]
        return "\n".join(parts)[-limit:]


# ----- a call with baresip -------------------------------------------------------------------
async def talking_call(phone: Phone, peer: Baresip, *, we_dial: bool,
                       frames: int = 25) -> Session:
    """Start ``peer``; a call between it and ``phone`` (1004), dialled by us or by the
    peer and then answered, talking, with more than ``frames`` of its audio received."""
    peer.start()
    if we_dial:
        session = await phone.call(peer.user)
    else:
        incoming: list[Session] = []
        phone.on("incoming", incoming.append)
        peer.command("dial", "sip:1004@127.0.0.1")
        await wait_until(lambda: bool(incoming), 15, f"the call from {peer.user}")
        session = incoming[0]
        await session.answer()
    await wait_until(lambda: session.status.call_status == "talking", 15, "talking")
    await wait_until(lambda: session.media.frames_received > frames, 15, "the peer's audio")
    return session


# ----- packet counts -------------------------------------------------------------------------
@dataclass(frozen=True)
class Counts:
    """RTP packets sent (tx) and received (rx) by agentconsole so far on one call."""

    tx: int
    rx: int

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.tx - other.tx, self.rx - other.rx)


async def counts(session: Session) -> Counts:
    """A fresh report (not the 3-second periodic one), reduced to packet counts."""
    report = await session.media.report()
    return Counts(tx=int(report.audio_tx), rx=int(report.audio_rx))


async def counts_over(session: Session, seconds: float) -> Counts:
    """How many packets went each way during the next ``seconds``."""
    before = await counts(session)
    await asyncio.sleep(seconds)
    return await counts(session) - before


async def peer_log(path: Path, predicate: object, timeout: float = 30.0) -> str:
    """Wait (without blocking the event loop) until ``predicate(log_text)`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        text = path.read_bytes().decode("utf-8", "replace")
        if predicate(text):  # type: ignore[operator]
            return text
        if loop.time() > deadline:
            raise AssertionError(f"{path.name}: condition not met in {timeout} s\n"
                                 f"{quiet(text)[-2500:]}")
        await asyncio.sleep(0.05)


def quiet(log_text: str) -> str:
    """baresip's log without its once-a-tick bit-rate status lines."""
    return "\n".join(line for line in log_text.splitlines()
                     if line.strip() and not line.startswith("[0:"))


def rtp_summaries(log_text: str) -> int:
    """How many end-of-call RTP summaries baresip has printed: wait on this, not on the
    summary's header line (``Receive:``), which is written before its numbers."""
    return len(_STATS_PACKETS.findall(log_text))


def baresip_rtp_stats(log_text: str) -> Counts:
    """baresip's end-of-call RTP summary (``packets: <transmit> <receive>``), last call."""
    found = _STATS_PACKETS.findall(log_text)
    assert found, "baresip printed no RTP statistics (is rtp_stats on?)"
    transmit, receive = found[-1]
    return Counts(tx=int(transmit), rx=int(receive))


# ----- DTMF seen by baresip --------------------------------------------------------------------
def baresip_rfc4733_digits(log_text: str) -> list[str]:
    """Digits whose telephone-event end baresip decoded, in arrival order."""
    return _EVENT_END.findall(log_text)


def baresip_info_digits(log_text: str) -> list[str]:
    """Digits baresip took from SIP INFO dtmf-relay bodies, in arrival order."""
    return _INFO_DIGIT.findall(log_text)


def sdp_has_telephone_event(sdp: bytes | None) -> bool:
    return sdp is not None and b"telephone-event/" in sdp


def sdp_direction(sdp: bytes | None) -> str:
    """The audio direction attribute of an SDP body (RFC 4566 default: sendrecv)."""
    text = (sdp or b"").decode("utf-8", "replace")
    for name in ("sendonly", "recvonly", "inactive", "sendrecv"):
        if re.search(rf"^a={name}\s*$", text, re.MULTILINE):
            return name
    return "sendrecv"


# ----- WAV analysis ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Wav:
    """A 16-bit PCM WAV read whole: per-channel sample lists."""

    rate: int
    channels: int
    frames: int
    samples: tuple[tuple[int, ...], ...]

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate

    def window(self, channel: int, start_s: float, length_s: float) -> tuple[int, ...]:
        begin = max(0, int(start_s * self.rate))
        return self.samples[channel][begin:begin + int(length_s * self.rate)]


def read_wav(path: Path | str) -> Wav:
    """Open with the stdlib ``wave`` module (what a player would do) and de-interleave."""
    with wave.open(str(path), "rb") as w:
        channels, width, rate, frames = (w.getnchannels(), w.getsampwidth(),
                                         w.getframerate(), w.getnframes())
        raw = w.readframes(frames)
    assert width == 2, f"{path}: {width * 8}-bit samples, expected 16"
    count = len(raw) // 2
    data = struct.unpack(f"<{count}h", raw[:count * 2])
    per_channel = tuple(tuple(data[c::channels]) for c in range(channels))
    return Wav(rate=rate, channels=channels, frames=len(per_channel[0]), samples=per_channel)


def dominant_hz(samples: tuple[int, ...] | list[int], rate: int, *, low: int = 200,
                high: int = 2000, step: int = 10) -> float:
    """The strongest frequency on a ``step`` Hz grid in [low, high] (Goertzel scan)."""
    if not samples:
        return 0.0
    best_hz, best = 0.0, -1.0
    for hz in range(low, min(high, rate // 2) + 1, step):
        power = goertzel_power(samples, rate, hz)
        if power > best:
            best_hz, best = float(hz), power
    return best_hz


def tone(wav: Wav, channel: int, start_s: float, length_s: float = 0.25) -> tuple[float, float]:
    """(dominant frequency, RMS) of one channel over one window."""
    samples = wav.window(channel, start_s, length_s)
    return dominant_hz(samples, wav.rate), rms(samples)


# ----- agentconsole configuration ----------------------------------------------------------
def agent_heard(tmp: Path, user: str = "1004") -> Path:
    """Where :func:`agent_yaml`'s file backend writes what the agent heard."""
    return tmp / f"agent-{user}-heard.wav"


def agent_yaml(tmp: Path, *, user: str = "1004", tone_hz: int = 440,
               codecs: tuple[str, ...] | None = None, dtmf_mode: str = "auto",
               recording_dir: Path | None = None, audio: str | None = None,
               extra: str = "", transport: str = "ws", profile: str | None = None) -> str:
    """agentconsole over WS (aiortc media through rtpengine) playing a looped tone into
    :func:`agent_heard`; ``audio`` replaces that ``audio:`` section's body, ``extra``
    is appended (more top-level sections). The one config every rig test starts from;
    ``transport="udp"`` (with ``media.profile`` auto: plain RTP) for the plain path."""
    from .rig import USERS
    from .test_calls_baresip import write_tone

    if audio is None:
        source = tmp / f"agent-{tone_hz}.wav"
        if not source.exists():
            write_tone(source, tone_hz)
        audio = (f'  backend: file\n  file_in: "{source}"\n'
                 f'  file_out: "{agent_heard(tmp, user)}"\n')
    media = [f"  dtmf_mode: {dtmf_mode}", '  host_addresses: ["127.0.0.1"]']
    if profile:
        media.append(f"  profile: {profile}")
    if codecs:
        media.append(f"  codecs: [{', '.join(codecs)}]")
    recording = (f'recording:\n  directory: "{recording_dir}"\n' if recording_dir else "")
    media_lines = "\n".join(media)
    ws_url = '  ws_url: "ws://127.0.0.1:8080/ws"\n' if transport == "ws" else ""
    return f"""
account:
  aor: "sip:{user}@127.0.0.1"
  password: "{USERS[user]}"
  transport: {transport}
{ws_url}sip:
  local_host: 127.0.0.1
calls:
  dial_rate_limit_s: 0
media:
{media_lines}
audio:
{audio}{recording}{extra}"""
