"""The control layer is a client of the softphone, like the console (DESIGN §0): it imports
neither the console nor the SIP core, nor the softphone's modules by path."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CONTROL = Path(__file__).resolve().parents[2] / "agentconsole" / "control"
FORBIDDEN = ("agentconsole.ui", "agentconsole.sip", "agentconsole.phone",
             "agentconsole.session", "agentconsole.calls", "agentconsole.phone_transfer",
             "agentconsole.session_transfer", "agentconsole.session_media")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "agentconsole.control" if node.level == 1 else \
                "agentconsole" if node.level == 2 else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_control_imports_only_the_public_softphone_api() -> None:
    files = sorted(CONTROL.glob("*.py"))
    assert len(files) >= 10
    bad = [(f.name, name) for f in files for name in imported_modules(f)
           if name.startswith(FORBIDDEN)]
    assert bad == []


def test_the_socket_client_side_loads_no_console_and_no_media() -> None:
    code = ("import sys, agentconsole.control.commands, agentconsole.control.client\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('textual', 'aiortc', 'av', 'sounddevice'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""
