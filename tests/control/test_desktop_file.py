"""The shipped .desktop file: valid, registers sip/tel/callto, runs ``agentconsole dial``;
and the README's ``xdg-mime default`` command makes it the handler."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

from tests.interop.rig import require

DESKTOP = Path(__file__).resolve().parents[2] / "share" / "applications" / \
    "agentconsole-dial.desktop"
SCHEMES = ("sip", "tel", "callto")


def test_the_desktop_file_registers_the_phone_link_schemes() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DESKTOP, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Exec"] == "agentconsole dial %u"
    assert [m for m in entry["MimeType"].split(";") if m] == [
        f"x-scheme-handler/{s}" for s in SCHEMES]
    assert entry["Terminal"] == "false"
    validate = require("desktop-file-validate")  # desktop-file-utils
    result = subprocess.run([validate, str(DESKTOP)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_xdg_mime_makes_it_the_default_handler(tmp_path: Path) -> None:
    xdg_mime = require("xdg-mime")  # xdg-utils
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CURRENT_DESKTOP": "",
           "DE": "generic"}
    apps = tmp_path / "data" / "applications"
    apps.mkdir(parents=True)
    shutil.copy(DESKTOP, apps / DESKTOP.name)
    for scheme in SCHEMES:
        subprocess.run([xdg_mime, "default", DESKTOP.name, f"x-scheme-handler/{scheme}"],
                       env=env, check=True)
    for scheme in SCHEMES:
        found = subprocess.run([xdg_mime, "query", "default", f"x-scheme-handler/{scheme}"],
                               env=env, capture_output=True, text=True, check=True)
        assert found.stdout.strip() == DESKTOP.name
