"""The native peer of the call benchmark: two baresip processes calling each other.

No registrar: A dials ``sip:b@127.0.0.1:<B's port>`` over its ctrl_tcp socket and B
answers by itself (``answermode=auto``). Config as reference/performance.md §3 (ausine
48 kHz stereo source, aubridge null sink, Opus or PCMU, DTLS-SRTP like aiortc) but on
ports of its own. Set-up time comes from ctrl_tcp events: ``CALL_ESTABLISHED`` at A is
the 200 OK, ``CALL_RTPESTAB`` is the first RTP packet received at that end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _measure import Result, cpu_seconds, rss_mb, threads

MODULE_PATH = "/usr/lib/baresip/modules"
_PACKETS = re.compile(r"^packets:\s+(\d+)\s+(\d+)", re.MULTILINE)
_CODEC = {"opus": "opus/48000/2", "pcmu": "pcmu"}
#: The account's media encryption per profile: DTLS-SRTP as aiortc, none, SDES (RTP/SAVP).
MEDIAENC = {"webrtc": ";mediaenc=dtls_srtp", "rtp": "", "srtp": ";mediaenc=srtp-mand"}


def baresip_binary() -> str | None:
    return shutil.which("baresip")


def _config(name: str, sip_port: int, ctrl_port: int, rtp: tuple[int, int], n: int) -> str:
    lines = [
        ("poll_method", "epoll"),
        ("sip_listen", f"127.0.0.1:{sip_port}"),
        ("call_max_calls", str(n + 2)),
        ("audio_buffer", "20-160"),
        ("audio_player", f"aubridge,bench_null_{name}"),  # no reader: a null sink
        ("audio_source", "ausine,440"),
        ("audio_alert", f"aubridge,bench_alert_{name}"),
        ("ausrc_srate", "48000"), ("auplay_srate", "48000"),
        ("ausrc_channels", "2"), ("auplay_channels", "2"),
        ("audio_level", "no"),
        ("rtp_ports", f"{rtp[0]}-{rtp[1]}"),
        ("rtcp_mux", "no"),
        ("jitter_buffer_delay", "5-10"),
        ("rtp_stats", "yes"),
        ("statmode_default", "off"),
        ("net_interface", "127.0.0.1"),
        ("module_path", MODULE_PATH),
        ("module", "g711.so"), ("module", "opus.so"), ("module", "ausine.so"),
        ("module", "aubridge.so"), ("module", "dtls_srtp.so"), ("module", "srtp.so"),
        ("module_tmp", "account.so"),
        ("module_app", "menu.so"), ("module_app", "ctrl_tcp.so"),
        ("ctrl_tcp_listen", f"127.0.0.1:{ctrl_port}"),
    ]
    return "".join(f"{key}\t{value}\n" for key, value in lines)


class Ctrl:
    """One ctrl_tcp connection; a thread stamps every event as it arrives."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(None)
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            stamp = time.perf_counter()
            buffer += data
            while b":" in buffer:
                size_text, rest = buffer.split(b":", 1)
                size = int(size_text)
                if len(rest) < size + 1:
                    break
                self.events.append((stamp, json.loads(rest[:size])))
                buffer = rest[size + 1:]

    def send(self, command: str, params: str = "") -> None:
        payload = json.dumps({"command": command, "params": params, "token": "b"}).encode()
        self.sock.sendall(b"%d:%s," % (len(payload), payload))

    def stamps(self, kind: str, since: float) -> list[float]:
        return [t for t, e in list(self.events) if e.get("type") == kind and t >= since]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(2)


class Instance:
    """One baresip process in its own temporary config directory."""

    def __init__(self, binary: str, root: Path, name: str, sip_port: int, ctrl_port: int,
                 rtp: tuple[int, int], codec: str, n: int, lifetime: int,
                 profile: str = "webrtc", pin: bool = False) -> None:
        self.dir = root / name
        self.dir.mkdir()
        (self.dir / "config").write_text(_config(name, sip_port, ctrl_port, rtp, n))
        (self.dir / "accounts").write_text(
            f"<sip:{name}@127.0.0.1:{sip_port}>;regint=0;answermode=auto;"
            f"audio_codecs={_CODEC[codec]}{MEDIAENC[profile]}\n")
        self.log = self.dir / "log"
        # -t: baresip quits by itself even if this script dies first
        self.proc = subprocess.Popen(
            [binary, "-4", "-f", str(self.dir), "-t", str(lifetime)],
            stdin=subprocess.DEVNULL, stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if pin else None)
        try:
            self.ctrl = Ctrl(ctrl_port)
        except OSError:
            self.proc.kill()
            self.proc.wait(5)
            raise OSError(f"baresip {name} did not open ctrl_tcp port {ctrl_port}: "
                          f"{self.log.read_text(errors='replace')[-800:]}") from None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> str:
        """SIGTERM (baresip then prints its RTP statistics); return the log."""
        self.ctrl.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.log.read_text(errors="replace")


def _wait_count(ctrl: Ctrl, kind: str, since: float, count: int, timeout: float) -> list[float]:
    deadline = time.perf_counter() + timeout
    while True:
        found = ctrl.stamps(kind, since)
        if len(found) >= count:
            return found
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{count} {kind} events expected, saw {len(found)}")
        time.sleep(0.001)


def _min_fps(log_b: str, log_a: str, rtp_up: list[float], ended: float) -> float | None:
    """Lowest packets/s received by any call at either end, over the whole call.

    baresip prints per-call RTP counters at exit, in no known call order; oldest calls
    hold the most packets, so counts and media durations are both sorted and paired.
    """
    durations = sorted((ended - t for t in rtp_up), reverse=True)
    rates: list[float] = []
    for log in (log_b, log_a):
        received = sorted((int(m.group(2)) for m in _PACKETS.finditer(log)), reverse=True)
        if len(received) != len(durations):
            return None
        rates += [r / d for r, d in zip(received, durations, strict=True)]
    return min(rates) if rates else None


def run_baresip(codec: str, n: int, warmup: float, window: float, base_port: int,
                profile: str = "webrtc", pin: bool = False) -> Result:
    """Measure N calls between two baresip processes; errors go into ``Result.error``."""
    note = {"webrtc": "DTLS-SRTP", "rtp": "plain RTP", "srtp": "SDES srtp-mand"}[profile]
    result = Result(kind="baresip", codec=codec, n=n, profile=profile, note=note)
    binary = baresip_binary()
    if binary is None:
        result.error = "baresip is not installed"
        return result
    lifetime = int(warmup + window + n * 2 + 30)
    with tempfile.TemporaryDirectory(prefix="bench-baresip-") as tmp:
        root = Path(tmp)
        a = b = None
        logs = ("", "")
        rtp_up: list[float] = []
        try:
            b = Instance(binary, root, "b", base_port + 10, base_port + 3, (base_port + 400,
                         base_port + 599), codec, n, lifetime, profile, pin)
            a = Instance(binary, root, "a", base_port, base_port + 2, (base_port + 200,
                         base_port + 399), codec, n, lifetime, profile, pin)
            _measure_pair(result, a, b, (n, warmup, window), f"sip:b@127.0.0.1:{base_port + 10}",
                          rtp_up)
        except Exception as exc:  # report, then clean up below
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            ended = time.perf_counter()
            log_a = a.stop() if a is not None else ""
            logs = (b.stop() if b is not None else "", log_a)
        if not result.error:
            result.min_fps = _min_fps(logs[0], logs[1], rtp_up, ended)
        elif logs[1]:
            result.error += "\n--- baresip A log (tail) ---\n" + logs[1][-1500:]
    return result


def _measure_pair(result: Result, a: Instance, b: Instance, plan: tuple[int, float, float],
                  target: str, rtp_up: list[float]) -> None:
    """Idle baseline, N dials one after another, warm-up, window (as the Python peers)."""
    n, warmup, window = plan
    time.sleep(0.5)  # both are idle and listening
    pids = (a.pid, b.pid)
    result.threads_idle = sum(threads(p) for p in pids)
    result.rss_idle_mb = sum(rss_mb(p) for p in pids)
    since = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        a.ctrl.send("dial", target)
        at_b = _wait_count(b.ctrl, "CALL_RTPESTAB", since, i + 1, 15)[i]
        at_a = _wait_count(a.ctrl, "CALL_RTPESTAB", since, i + 1, 15)[i]
        ok = _wait_count(a.ctrl, "CALL_ESTABLISHED", since, i + 1, 15)[i]
        result.setup_b_ms.append((at_b - t0) * 1000)
        result.setup_a_ms.append((at_a - t0) * 1000)
        result.setup_ms.append((max(at_a, at_b) - t0) * 1000)
        result.packet_ms.append(result.setup_ms[-1])  # CALL_RTPESTAB is the first packet
        result.answer_ms.append((ok - t0) * 1000)
        rtp_up.append(min(at_a, at_b))
        result.calls_up = i + 1
        if i == 0:
            time.sleep(0.2)
            result.rss_first_mb = sum(rss_mb(p) for p in pids)
    time.sleep(warmup)
    cpu0, t0 = sum(cpu_seconds(p) for p in pids), time.perf_counter()
    time.sleep(window)
    cpu1, t1 = sum(cpu_seconds(p) for p in pids), time.perf_counter()
    result.threads_calls = sum(threads(p) for p in pids)
    result.rss_calls_mb = sum(rss_mb(p) for p in pids)
    result.window_s, result.cpu_s = t1 - t0, cpu1 - cpu0
