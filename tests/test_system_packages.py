"""``make test`` on a fresh machine: the system-packages script and the closing skip summary."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "system-packages"


def wanted() -> list[str]:
    text = (ROOT / ".ci" / "system-packages.txt").read_text()
    return [line.split("#")[0].strip() for line in text.splitlines()
            if line.split("#")[0].strip()]


def stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def run_as_user(tmp_path: Path, installed: set[str], *args: str, known: bool = True,
                uid: int = 1000, apt_get: str = "exit 1") -> subprocess.CompletedProcess[str]:
    """The script as user ``uid`` (no sudo), on a machine where only ``installed`` is
    there: dpkg-query, apt-cache, apt-get, id and sudo are stand-ins on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    names = " ".join(sorted(installed)) or "-"
    stub(bin_dir, "dpkg-query", f'for p in {names}; do [ "$p" = "$3" ] && '
                                'printf "install ok installed" && exit 0; done; exit 1')
    stub(bin_dir, "apt-cache", 'echo "$2:"; echo "  Candidate: ' +
         ('1.0-1"' if known else '(none)"'))
    stub(bin_dir, "apt-get", apt_get)
    stub(bin_dir, "id", f"echo {uid}")
    stub(bin_dir, "sudo", "exit 1")  # asks for a password
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_the_list_is_one_debian_package_a_line_and_ci_keeps_none_of_its_own() -> None:
    names = wanted()
    assert len(names) == len(set(names)) >= 10
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name) for name in names)
    assert {"python3-venv", "libportaudio2", "kamailio", "sip-tester", "tmux"} <= set(names)
    assert "apt-get" not in (ROOT / ".ci" / "run").read_text()


def test_without_root_it_prints_the_one_command_and_lets_the_tests_run(tmp_path: Path) -> None:
    have = {"python3-venv", "openssl", "tmux"}
    missing = [n for n in wanted() if n not in have]
    done = run_as_user(tmp_path, have, "install")
    assert done.returncode == 0, done.stderr
    command = f"sudo sh -c 'apt-get install -y --no-install-recommends {' '.join(missing)}'"
    assert done.stdout.splitlines() == [
        f"system packages missing: {' '.join(missing)}",
        "  the tests that need them will be skipped; to install them, run:",
        f"  {command}",
    ]
    assert run_as_user(tmp_path, have, "missing").stdout == " ".join(missing) + "\n"
    assert run_as_user(tmp_path, have, "command").stdout == command + "\n"


def test_the_command_updates_the_package_lists_only_when_apt_knows_no_candidate(
        tmp_path: Path) -> None:
    done = run_as_user(tmp_path, set(), "command", known=False)
    assert done.stdout.startswith("sudo sh -c 'apt-get update && apt-get install -y ")


def test_nothing_to_do_when_everything_is_there(tmp_path: Path) -> None:
    done = run_as_user(tmp_path, set(wanted()), "install")
    assert (done.returncode, done.stdout) == (0, f"system packages: all {len(wanted())} present\n")
    assert run_as_user(tmp_path, set(wanted()), "missing").stdout == ""
    assert run_as_user(tmp_path, set(wanted()), "command").stdout == ""


def test_the_run_ends_with_the_skips_grouped_by_reason(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_terminal_summary\n")
    (tmp_path / "test_some.py").write_text(
        "import pytest\n"
        "@pytest.mark.parametrize('n', range(3))\n"
        "def test_needs_a_pbx(n):\n    pytest.skip('kamailio is not installed')\n"
        "def test_needs_a_phone():\n    pytest.skip('baresip is not installed')\n"
        "def test_runs():\n    assert True\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-c", os.devnull, str(tmp_path)], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 0, done.stdout
    lines = [line for line in done.stdout.splitlines() if line]
    head = next(i for i, line in enumerate(lines) if "4 skipped, by reason" in line)
    assert lines[head + 1:head + 3] == ["    3  kamailio is not installed",
                                        "    1  baresip is not installed"]
    assert "1 passed, 4 skipped" in lines[-1]  # then pytest's own closing line


def test_as_root_it_installs_and_updates_the_lists_only_when_the_install_fails(
        tmp_path: Path) -> None:
    calls = tmp_path / "apt-get.calls"
    # the first install fails as on a fresh machine's empty package lists, then works
    apt_get = (f'echo "$*" >> {calls}; case "$*" in *update*) touch {tmp_path}/updated;; '
               f'*install*) [ -e {tmp_path}/updated ];; esac')
    done = run_as_user(tmp_path, {"python3-venv"}, "install", uid=0, apt_get=apt_get)
    assert done.returncode == 0, done.stdout + done.stderr
    missing = " ".join(n for n in wanted() if n != "python3-venv")
    install = f"install -y --no-install-recommends {missing}"
    options = "-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3"
    assert calls.read_text().splitlines() == [f"{options} {install}", f"{options} update",
                                              f"{options} {install}"]
    calls.unlink()
    (tmp_path / "updated").unlink()
    done = run_as_user(tmp_path, {"python3-venv"}, "install", uid=0,
                       apt_get=f'echo "$*" >> {calls}')  # works at once: no update
    assert done.returncode == 0 and calls.read_text().splitlines() == [f"{options} {install}"]


def test_in_ci_a_failed_install_stops_the_run(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTCONSOLE_INTEROP_REQUIRED", raising=False)
    assert run_as_user(tmp_path, set(), "install", uid=0).returncode == 0  # skips later
    monkeypatch.setenv("AGENTCONSOLE_INTEROP_REQUIRED", "1")
    done = run_as_user(tmp_path, set(), "install", uid=0)
    assert done.returncode != 0 and "the install failed" in done.stderr
