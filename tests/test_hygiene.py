"""Layering rules that keep the SIP core importable anywhere (DESIGN §1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ["textual", "aiortc", "av", "sounddevice", "pyee", "asyncio", "websockets"]
SIP_MODULES = sorted(
    f"agentconsole.sip.{p.stem}"
    for p in (Path(__file__).parents[1] / "agentconsole" / "sip").glob("*.py")
    if p.stem != "__init__"
)


def loaded_after(statement: str) -> set[str]:
    code = (
        "import sys, json\n"
        f"{statement}\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return set(json.loads(out))


def test_sip_core_imports_nothing_heavy() -> None:
    assert len(SIP_MODULES) >= 10
    modules = loaded_after("\n".join(f"import {m}" for m in SIP_MODULES))
    leaked = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert leaked == [], f"agentconsole.sip pulled in: {leaked}"


def test_sip_core_imports_no_other_layer_of_the_package() -> None:
    baseline = loaded_after("import agentconsole")  # the package __init__ always runs
    modules = loaded_after("\n".join(f"import {m}" for m in SIP_MODULES))
    added = {m for m in modules - baseline if m.startswith("agentconsole.")}
    assert added and all(m.startswith("agentconsole.sip") for m in added), sorted(added)
    assert not any(m.startswith(("agentconsole.transport", "agentconsole.media",
                                 "agentconsole.ui", "agentconsole.softphone")) for m in modules)


def test_package_import_stays_light() -> None:
    modules = loaded_after("import agentconsole")
    assert not {"textual", "aiortc", "av", "sounddevice"} & {m.split(".")[0] for m in modules}


def test_public_names_load_on_first_use() -> None:
    """``from agentconsole import Phone, Session`` works (DESIGN §2) without making a bare
    ``import agentconsole`` load the softphone, nor the softphone load the UI or aiortc."""
    bare = loaded_after("import agentconsole")
    assert not any(m.startswith("agentconsole.softphone") for m in bare)
    names = "Phone, Session, RegistrationFailure, TransferRequest, CallStatus, AgentStatus"
    modules = loaded_after(f"from agentconsole import {names}")
    assert {"agentconsole.softphone.phone", "agentconsole.softphone.session"} <= modules
    assert not {"textual", "aiortc", "av", "sounddevice"} & {m.split(".")[0] for m in modules}
