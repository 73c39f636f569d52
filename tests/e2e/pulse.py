"""A private PulseAudio daemon standing for the agent's desktop sound server at the far
end of an SSH tunnel.

Debian's ``pulseaudio`` runs as an ordinary user-mode daemon (``--system=false``, no
autospawn, no exit on idle) with its own HOME and runtime dir inside the test's temp
dir, so nothing of the machine's (or the developer's) sound setup is read or touched.
It loads only what the tests need (``-n``: no default script):

- ``speaker``: a null sink, the agent's headset; what agentconsole plays is recorded from
  its monitor (``speaker.monitor``).
- ``mic``: a null sink whose monitor is the default source, the agent's microphone; a
  tone played into ``mic`` (``paplay``) is what the agent "says".
- the native protocol on a Unix socket (``socket``) and on a loopback TCP port
  (``tcp_port``), anonymous: the two shapes of the tunnel's end (``ssh -R`` of a socket,
  or of port 4713). The daemon is stopped by pid.

Running as root prints "This program is not intended to be run as root" and carries on:
that warning is about system-wide use, which ``--system=false`` is not.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import wave
from pathlib import Path

from agentconsole.media.tone import sine

from ..interop.rig import require, stop_group
from .sshd import free_port

RATE = 48000


class PulseServer:
    """``PulseServer(work).start()``; ``server`` is the PULSE_SERVER string to use."""

    def __init__(self, work: Path) -> None:
        self.binary = require("pulseaudio")
        self.pactl = require("pactl")
        self.work = work
        self.socket = work / "native"
        self.tcp_port = free_port()
        self.log = work / "pulseaudio.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._players: list[subprocess.Popen[bytes]] = []

    @property
    def server(self) -> str:
        return f"unix:{self.socket}"

    @property
    def tcp_server(self) -> str:
        return f"tcp:127.0.0.1:{self.tcp_port}"

    def env(self) -> dict[str, str]:
        """The daemon's and its tools' environment: a private HOME and runtime dir."""
        home, runtime = self.work / "home", self.work / "runtime"
        home.mkdir(exist_ok=True)
        runtime.mkdir(mode=0o700, exist_ok=True)
        return {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime),
                "XDG_CONFIG_HOME": str(home / ".config"), "PULSE_SERVER": self.server}

    def start(self, timeout: float = 10.0) -> None:
        modules = [
            f"module-null-sink sink_name=speaker rate={RATE} channels=1 "
            "sink_properties=device.description=Headset",
            f"module-null-sink sink_name=mic rate={RATE} channels=1 "
            "sink_properties=device.description=Microphone-feed",
            f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
            f"module-native-protocol-tcp port={self.tcp_port} listen=127.0.0.1 "
            "auth-anonymous=1",
        ]
        argv = [self.binary, "-n", "--daemonize=no", "--system=false", "--exit-idle-time=-1",
                "--use-pid-file=no", "--disable-shm=yes", "--log-target=stderr",
                *(f"--load={m}" for m in modules)]
        self.proc = subprocess.Popen(argv, env=self.env(), stdin=subprocess.DEVNULL,
                                     stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self._answers():
            assert self.proc.poll() is None, f"pulseaudio exited: {self.log.read_text()}"
            assert time.monotonic() < deadline, f"pulseaudio silent: {self.log.read_text()}"
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(0.1)
        self.pactl_run("set-default-sink", "speaker")
        self.pactl_run("set-default-source", "mic.monitor")

    def _answers(self) -> bool:
        return subprocess.run([self.pactl, "info"], env=self.env(), capture_output=True,
                              timeout=5).returncode == 0

    def pactl_run(self, *args: str) -> str:
        result = subprocess.run([self.pactl, *args], env=self.env(), capture_output=True,
                                text=True, timeout=10)
        assert result.returncode == 0, f"pactl {args}: {result.stderr}"
        return result.stdout

    def play_into_mic(self, hz: int, seconds: float = 60.0) -> None:
        """Play a tone into the ``mic`` sink (so the default source carries it)."""
        path = self.work / f"tone-{hz}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(sine(hz, int(RATE * seconds), RATE, 0.5).tobytes())
        player = subprocess.Popen([require("paplay"), "-d", "mic", str(path)], env=self.env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        self._players.append(player)

    def record_speaker(self, seconds: float) -> bytes:
        """``seconds`` of s16 mono 48 kHz from the speaker's monitor (``parec``)."""
        parec = subprocess.Popen(
            [require("parec"), "-d", "speaker.monitor", "--raw", "--format=s16le",
             f"--rate={RATE}", "--channels=1", "--latency-msec=20"],
            env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert parec.stdout is not None
        want = int(RATE * seconds) * 2
        data = bytearray()
        while len(data) < want:
            chunk = parec.stdout.read(min(65536, want - len(data)))
            if not chunk:
                break
            data += chunk
        parec.kill()
        parec.wait(5)
        return bytes(data)

    def stop(self) -> None:
        for player in self._players:
            if player.poll() is None:
                player.kill()
            player.wait(5)
        self._players.clear()
        stop_group(self.proc)
        self.proc = None
