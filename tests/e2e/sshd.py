"""A throwaway OpenSSH server on a loopback port, for reaching the console over ``ssh -t``.

Everything lives in one temp dir: host key, client key, authorized_keys, config, pid
file. Key authentication only; ``StrictModes no`` because pytest's temp dirs are not
laid out like a home directory. The daemon runs in the foreground (``-D -e``) in its own
process group and is stopped by pid.
"""

from __future__ import annotations

import contextlib
import getpass
import shlex
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ..interop.rig import require, stop_group


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sshd:
    """``Sshd(work).start()``; ``client_argv(command)`` is the ``ssh -t`` line to run it."""

    def __init__(self, work: Path) -> None:
        self.binary = require("sshd")
        self.ssh = require("ssh")
        self.keygen = require("ssh-keygen")
        self.work = work
        self.port = free_port()
        self.user = getpass.getuser()
        self.client_key = work / "client_ed25519"
        self.log = work / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def _keys(self) -> Path:
        host_key = self.work / "host_ed25519"
        for key in (host_key, self.client_key):
            subprocess.run([self.keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                           check=True, capture_output=True)
        authorized = self.work / "authorized_keys"
        authorized.write_text(self.client_key.with_suffix(".pub").read_text())
        return host_key

    def _config(self, host_key: Path) -> Path:
        path = self.work / "sshd_config"
        path.write_text(f"""\
ListenAddress 127.0.0.1
Port {self.port}
HostKey {host_key}
PidFile {self.work / "sshd.pid"}
AuthorizedKeysFile {self.work / "authorized_keys"}
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
""")
        return path

    def start(self, timeout: float = 10.0) -> None:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege-separation dir
        config = self._config(self._keys())
        check = subprocess.run([self.binary, "-t", "-f", str(config)],
                               capture_output=True, text=True)
        assert check.returncode == 0, f"sshd config rejected: {check.stderr}"
        self.proc = subprocess.Popen([self.binary, "-f", str(config), "-D", "-e"],
                                     stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # each refused connect returns at once: bound it
            assert self.proc.poll() is None, f"sshd exited: {self.log.read_text()[-800:]}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                self._wait_a_moment()
        raise AssertionError(f"sshd did not listen on {self.port}: {self.log.read_text()}")

    def _wait_a_moment(self) -> None:
        """Give sshd 50 ms to start listening (waits on the process, not a bare sleep)."""
        assert self.proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(0.05)

    def client_argv(self, command: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """``ssh -t`` to this server running ``command`` (quoted for the remote shell);
        ``options`` go before the destination (``-R``, ``-o ...``)."""
        return [self.ssh, "-t", *options, "-p", str(self.port), "-i", str(self.client_key),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                f"{self.user}@127.0.0.1", shlex.join(command)]

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc = None
