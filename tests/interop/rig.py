"""Start and stop the loopback interop rig (Kamailio, optionally rtpengine) from tests.

The project carries its own copy of the rig's configuration in ``tests/interop/rig/``.
Each daemon runs in its own process group so that a ``kill -9`` (for the restart tests)
takes its worker children with it; nothing else on the machine is touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NoReturn

import pytest

RIG_DIR = Path(__file__).parent / "rig"
RIG_LOCK = "/tmp/agentconsole-rig.lock"
KAMAILIO_PORTS = {"udp": 5060, "tcp": 5060, "ws": 8080, "wss": 8443}
USERS = {"1001": "pass1001", "1002": "pass1002", "1003": "pass1003", "1004": "pass1004"}


def missing_system_package(what: str) -> NoReturn:
    """Skip the test for want of a system package (.ci/system-packages.txt); in CI
    (``AGENTCONSOLE_INTEROP_REQUIRED=1``) fail instead, since CI installs them all."""
    reason = f"{what} is not installed (a system package; make test installs it as root)"
    if os.environ.get("AGENTCONSOLE_INTEROP_REQUIRED") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def require(binary: str) -> str:
    """Path of ``binary``, or skip (fail in CI) with a one-line reason."""
    sbin = f"/usr/sbin/{binary}"  # not on a non-root user's PATH
    path = shutil.which(binary) or (sbin if os.access(sbin, os.X_OK) else None)
    if path is None:
        missing_system_package(binary)
    return path


def _open_lock_file(path: str) -> IO[bytes]:
    """The machine-wide lock file, whoever created it: flock needs no write access, and
    every user on the machine shares the rig's fixed ports, so a new file is made 0666."""
    try:
        fd = os.open(path, os.O_RDONLY)  # no O_CREAT: /tmp's protected_regular refuses it
    except FileNotFoundError:            # on another user's file
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o666)
    return os.fdopen(fd, "rb")


@contextlib.contextmanager
def rig_lock(timeout: float = 900.0) -> Iterator[None]:
    """Hold the rig's fixed ports (5060, 8080, 8443, 2223, baresip's, SIPp's) for one
    test module: another pytest process on this machine waits instead of colliding."""
    with _open_lock_file(RIG_LOCK) as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail("the interop rig stayed busy (another test run holds it)")
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stop_group(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM a daemon's process group, SIGKILL it if it lingers (by pid only)."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Kamailio:
    """One Kamailio with the rig's routing script, its files under ``run_dir``."""

    def __init__(self, run_dir: Path, *, rtpengine: bool = False) -> None:
        self.binary = require("kamailio")
        require("openssl")
        self.run_dir = run_dir
        self.rtpengine = rtpengine
        self.proc: subprocess.Popen[bytes] | None = None
        run_dir.mkdir(parents=True, exist_ok=True)
        self.cert = run_dir / "rig-cert.pem"
        self.key = run_dir / "rig-key.pem"
        self._make_cert()
        text = (RIG_DIR / "kamailio.cfg").read_text().replace("/tmp/kamailio-rig", str(run_dir))
        self.cfg = run_dir / "kamailio.cfg"
        self.cfg.write_text(text)
        tls = (RIG_DIR / "tls.cfg").read_text().replace("/tmp/kamailio-rig", str(run_dir))
        self.tls_cfg = run_dir / "tls.cfg"
        self.tls_cfg.write_text(tls)
        self.log = run_dir / "kamailio.log"

    @property
    def ca_file(self) -> str:
        return str(self.cert)

    def _make_cert(self) -> None:
        if self.cert.exists():
            return
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
             "-keyout", str(self.key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True,
        )

    def _args(self) -> list[str]:
        args = [self.binary, "-f", str(self.cfg), "-A", f'TLS_CFG="{self.tls_cfg}"']
        if not self.rtpengine:
            args += ["-A", "NO_RTPENGINE"]
        return args

    def start(self, timeout: float = 10.0) -> None:
        for port in (5060, 8080, 8443):
            if _port_open(port):
                pytest.fail(f"port {port} is already in use: is another rig running?")
        check = subprocess.run([*self._args(), "-c"], capture_output=True, text=True)
        if check.returncode != 0:
            pytest.fail(f"kamailio config check failed: {check.stderr[-800:]}")
        log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [*self._args(), "-DD", "-E", "-m", "64", "-M", "8"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"kamailio exited: {self.log.read_text()[-800:]}")
            if _port_open(5060) and _port_open(8080) and _port_open(8443):
                return
            time.sleep(0.05)
        pytest.fail("kamailio did not open its ports in time")

    def kill(self) -> None:
        """``kill -9`` the whole Kamailio process group (by pid)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (_port_open(5060) or _port_open(8080)):
            time.sleep(0.05)

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc = None

    def contacts(self, user: str) -> list[str]:
        """The Contact URIs Kamailio holds for ``user`` (``kamcmd ul.dump``)."""
        kamcmd = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
        result = subprocess.run(
            [kamcmd, "-s", f"unix:{self.run_dir}/kamailio_ctl", "ul.dump"],
            capture_output=True, text=True, timeout=5,
        )
        found: list[str] = []
        current = None
        for line in result.stdout.splitlines():
            text = line.strip()
            if text.startswith("AoR:"):
                current = text.split(":", 1)[1].strip()
            elif text.startswith("Address:") and current == user:
                found.append(text.split(":", 1)[1].strip())
        return found


def reset_tcp_flow(local: tuple[str, int], remote_port: int) -> None:
    """Kill one TCP connection the way a NAT rebinding or a proxy crash does: ``ss -K``
    (SOCK_DESTROY) aborts our socket and the kernel sends the peer a reset. Only the
    connection from ``local`` to ``remote_port`` is touched."""
    ss = shutil.which("ss") or "/usr/bin/ss"
    result = subprocess.run(
        [ss, "-K", "-t", "-n", "src", f"{local[0]}:{local[1]}", "dst",
         f"127.0.0.1:{remote_port}"], capture_output=True, text=True, timeout=5)
    killed = [line for line in result.stdout.splitlines() if line.startswith("ESTAB")]
    assert result.returncode == 0 and len(killed) == 1, \
        f"ss -K killed {len(killed)} sockets: {result.stdout} {result.stderr}"


class RtpEngine:
    """rtpengine in userspace (``--table=-1``): the WebRTC ↔ plain RTP media gateway."""

    def __init__(self, run_dir: Path) -> None:
        self.binary = require("rtpengine")
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self.log = run_dir / "rtpengine.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--config-file=none", "--table=-1", "--foreground", "--log-stderr",
             "--log-level=6", "--interface=127.0.0.1", "--listen-ng=127.0.0.1:2223",
             "--port-min=30000", "--port-max=30999", "--delete-delay=0",
             f"--pidfile={self.run_dir}/rtpengine.pid"],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"rtpengine exited: {self.log.read_text()[-800:]}")
            if "Startup complete" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.05)
        pytest.fail("rtpengine did not start in time")

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc = None
