"""The control layer is a client of the softphone, like the console (DESIGN §0): beyond the
layer rules every module obeys (tests/test_layers.py), it reaches the softphone through
its client contract (``softphone/api.py``) only, and the command-line side stays light."""

from __future__ import annotations

import subprocess
import sys

from tests.test_layers import imports, modules

#: What of the softphone the control layer may import: the typed contract, and the Phone
#: class that ``agentconsole serve`` builds.
SOFTPHONE_ALLOWED = {"agentconsole.softphone.api", "agentconsole.softphone.phone"}


def test_control_uses_the_softphone_through_its_client_contract() -> None:
    found = [(module, target) for module, path, is_init in modules()
             if module.startswith("agentconsole.control")
             for _line, target in imports(module, path, is_init)
             if target.startswith("agentconsole.softphone")]
    assert found, "the control layer uses the softphone"
    assert {target for _module, target in found} <= SOFTPHONE_ALLOWED, found
    phone_users = {module for module, target in found
                   if target == "agentconsole.softphone.phone"}
    assert phone_users == {"agentconsole.control.commands"}  # serve only


def test_the_socket_client_side_loads_no_console_and_no_media() -> None:
    code = ("import sys, agentconsole.control.commands, agentconsole.control.client\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('textual', 'aiortc', 'av', 'sounddevice'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""
