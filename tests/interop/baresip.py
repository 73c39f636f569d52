"""Run a real baresip UA from tests: start it from a copy of the rig's config, drive it
over ctrl_tcp (netstring JSON), read what it heard from its sndfile recordings.

baresip 1.0.0 quirks (see ``rig/README``): ausine only does 48 kHz stereo; the stdio UI
needs a tty, so commands go through ctrl_tcp; ``sndfile`` writes ``*-dec.wav`` (what
it received) and ``*-enc.wav`` (what it sent) into ``snd_path``.
"""

from __future__ import annotations

import json
import shutil
import socket
import struct
import subprocess
import time
import wave
from pathlib import Path

from agentconsole.media.tone import rms

from .media_check import dominant_hz
from .rig import RIG_DIR, require


class Baresip:
    """One baresip instance for rig user 1001 (manual answer) or 1002 (auto-answer)."""

    def __init__(self, user: str, work: Path, *, answer: str | None = None,
                 tone_hz: int | None = None, transport: str = "udp",
                 account: str = "", rtcp_mux: bool | None = None,
                 register: bool = True) -> None:
        self.binary = require("baresip")
        self.user = user
        self.conf = work / f"baresip-{user}"
        if self.conf.exists():
            shutil.rmtree(self.conf)
        shutil.copytree(RIG_DIR / f"baresip-{user}", self.conf)
        self.audio_dir = work / f"baresip-{user}-audio"
        self.audio_dir.mkdir(parents=True, exist_ok=True)
        config = (self.conf / "config").read_text()
        config = config.replace(f"/tmp/baresip-{user}-audio", str(self.audio_dir))
        if tone_hz is not None:
            config = _set(config, "audio_source", f"ausine,{tone_hz}")
        if rtcp_mux is not None:  # WebRTC media (aiortc) needs rtcp-mux
            config = _set(config, "rtcp_mux", "yes" if rtcp_mux else "no")
        (self.conf / "config").write_text(config)
        accounts = (self.conf / "accounts").read_text()
        if answer is not None:
            accounts = accounts.replace("answermode=auto", f"answermode={answer}")
            accounts = accounts.replace("answermode=manual", f"answermode={answer}")
        if transport != "udp":
            accounts = accounts.replace("transport=udp", f"transport={transport}")
        if account:  # more account parameters, e.g. ";mediaenc=srtp-mand"
            accounts = "\n".join(line + account if line.startswith("<") else line
                                  for line in accounts.splitlines()) + "\n"
        if not register:  # no registrar: called and calling by URI
            accounts = accounts.replace("regint=600", "regint=0")
        self.register = register
        (self.conf / "accounts").write_text(accounts)
        self.ctrl_port = int(_get(config, "ctrl_tcp_listen").rsplit(":", 1)[1])
        self.sip_port = int(_get(config, "sip_listen").rsplit(":", 1)[1])
        self.log = work / f"baresip-{user}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-f", str(self.conf)], stdin=subprocess.DEVNULL,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.wait_log("200 OK" if self.register else "baresip is ready", timeout)

    def wait_log(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            content = self.log.read_bytes().decode("utf-8", "replace")
            if text in content:
                return content
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"baresip exited: {content[-1500:]}")
            time.sleep(0.05)
        raise AssertionError(f"baresip log has no {text!r}: {self.log.read_text()[-1500:]}")

    def command(self, command: str, params: str = "") -> str:
        """Send one ctrl_tcp command; return the response text (best effort)."""
        payload = json.dumps({"command": command, "params": params, "token": "t"}).encode()
        with socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=3) as sock:
            sock.sendall(b"%d:%s," % (len(payload), payload))
            sock.settimeout(2)
            try:
                return sock.recv(8192).decode("utf-8", "replace")
            except OSError:
                return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def received_wavs(self) -> list[Path]:
        return sorted(self.audio_dir.glob("*dec.wav"))


def _get(config: str, key: str) -> str:
    for line in config.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == key:
            return parts[1]
    raise KeyError(key)


def _set(config: str, key: str, value: str) -> str:
    out = []
    for line in config.splitlines():
        parts = line.split()
        out.append(f"{key}\t\t{value}" if parts and parts[0] == key else line)
    return "\n".join(out) + "\n"


def wav_peak(path: Path, start_s: float = 0.5, length_s: float = 1.0) -> tuple[float, float]:
    """(dominant frequency in Hz on a 10 Hz grid, RMS) of a 16-bit WAV segment."""
    with wave.open(str(path), "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        w.setpos(min(int(start_s * rate), max(0, w.getnframes() - 1)))
        raw = w.readframes(int(length_s * rate))
    assert width == 2, f"{path}: {width * 8}-bit samples"
    samples = struct.unpack(f"<{len(raw) // 2}h", raw)[::channels]
    return dominant_frequency(samples, rate)


def dominant_frequency(samples: tuple[int, ...] | list[int], rate: int) -> tuple[float, float]:
    """(strongest frequency on a 10 Hz grid in 100–4000 Hz, RMS) of ``samples``."""
    return dominant_hz(samples, rate, low=100, high=4000), rms(samples)
