"""The wheel as a user gets it: built from this tree, installed into a fresh virtual
environment (no editable install, no source tree on the path), then run from elsewhere.

Slow (marked ``slow``: a wheel build and a dependency install); ``make test`` runs it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentconsole
from tests.demo.test_command import read_until

ROOT = Path(__file__).resolve().parents[1]
THEMES = sorted(p.name for p in (ROOT / "themes").glob("*.toml"))

pytestmark = pytest.mark.slow


def call(*argv: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=900, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from the tree (hatchling from the test environment: no download)."""
    out = tmp_path_factory.mktemp("dist")
    done = call(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                "--wheel-dir", out, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = out.glob("agentconsole-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The ``bin`` directory of a fresh virtual environment with the wheel installed."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    done = call(sys.executable, "-m", "venv", venv)
    assert done.returncode == 0, done.stderr
    done = call(venv / "bin" / "python", "-m", "pip", "install", "--quiet",
                "--disable-pip-version-check", wheel)
    assert done.returncode == 0, done.stdout + done.stderr
    yield venv / "bin"


@pytest.fixture
def away(tmp_path: Path) -> dict[str, str]:
    """Run from a directory outside the tree, with a home of its own and no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "XDG_", "AGENTCONSOLE_"))}
    env.update(HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1",
               AGENTCONSOLE_PASSWORD="wheel-test-secret")
    return env


def test_wheel_carries_the_package_and_the_bundled_themes(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted(n.rsplit("/", 1)[1] for n in names
                  if n.startswith("agentconsole/themes/")) == THEMES
    assert len(THEMES) == 3
    assert "agentconsole/ui/app.tcss" in names and "agentconsole/cli.py" in names
    assert not [n for n in names if n.startswith(("themes/", "tests/", ".ci/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert wheel.name.startswith(f"agentconsole-{agentconsole.__version__}-")
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "agentconsole = agentconsole.cli:main" in zipfile.ZipFile(wheel).read(
        entry_points).decode()


def test_installed_tool_runs_from_anywhere(installed: Path, away: dict[str, str],
                                           tmp_path: Path) -> None:
    where = call(installed / "python", "-c", "import agentconsole; print(agentconsole.__file__)",
                 cwd=tmp_path, env=away)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed.parent)
    assert not Path(where.stdout.strip()).is_relative_to(ROOT)

    version = call(installed / "agentconsole", "--version", cwd=tmp_path, env=away)
    assert (version.returncode, version.stdout) == (0, f"agentconsole {agentconsole.__version__}\n")

    config = tmp_path / "config.example.yaml"
    shutil.copy(ROOT / "config.example.yaml", config)
    check = call(installed / "agentconsole", "check-config", config, cwd=tmp_path, env=away)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK: sip:1001@pbx.example.com over wss" in check.stdout
    assert "wheel-test-secret" not in check.stdout + check.stderr

    locate = call(installed / "agentconsole", "locate", cwd=tmp_path, env=away)
    themes_line = next(line for line in locate.stdout.splitlines()
                       if line.startswith("themes (bundled)"))
    bundled = Path(themes_line.split()[2])
    assert bundled.is_relative_to(installed.parent) and bundled.name == "themes"
    assert sorted(p.name for p in bundled.glob("*.toml")) == THEMES

    for shell in ("bash", "zsh", "fish"):
        script = call(installed / "agentconsole", "completion", shell, cwd=tmp_path, env=away)
        assert script.returncode == 0 and "locate" in script.stdout, script.stderr


def test_installed_demo_starts_headless_and_stops_on_a_signal(
        installed: Path, away: dict[str, str], tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [str(installed / "agentconsole"), "demo", "--headless", "--port", "0", "--rate", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=away)
    try:
        text = read_until(proc, r"Ctrl-C stops", timeout=120)
        assert "1001" in text
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    assert "demo switch stopped" in out
