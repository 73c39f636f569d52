"""The text under ``agentconsole --help``: where the config comes from, the environment
variables that matter, and what the exit status means.

The exit statuses are a table (:data:`EXIT_STATUSES`) that the commands' ``EXIT_*``
constants must agree with (tests/test_cli_conventions.py checks every one is described).
"""

from __future__ import annotations

import textwrap

from . import paths

#: Exit status -> what it means, for every command.
EXIT_STATUSES: dict[int, str] = {
    0: "success (the console or the demo was quit normally, a check found no problem)",
    1: "problems: the config has errors (each printed as FILE:LINE: key: message), "
       "the registration failed, or the running phone refused a ctl/dial request",
    2: "unusable: bad arguments, or something the command needs is not there (the demo "
       "cannot listen on its port, the console has no terminal, no console runs for "
       "attach, no agentconsole answers on the control socket for ctl/dial, another one "
       "already holds it)",
}

#: Environment variable -> what it changes.
ENVIRONMENT: dict[str, str] = {
    paths.CONFIG_ENV: "the config file, when --config is not given",
    "XDG_CONFIG_HOME": "config.yaml and your themes/ (default ~/.config/agentconsole)",
    "XDG_DATA_HOME": "call history and recordings (default ~/.local/share/agentconsole)",
    "XDG_STATE_HOME": "console.log and holder.log (default ~/.local/state/agentconsole)",
    "XDG_RUNTIME_DIR": "the control socket and the consoles' attach sockets (default "
                       "/tmp/agentconsole-UID)",
    "AGENTCONSOLE_NO_DETACH": "1: run the console in the terminal only, as --no-detach",
    "PULSE_SERVER": "a PulseAudio server to play and record through (audio over SSH)",
    "account.password_env": "names the variable holding the SIP password (the example "
                            "config uses AGENTCONSOLE_PASSWORD); it is never logged",
    "NO_COLOR": "draw the console without colour",
}


def _table(rows: dict[str, str], columns: int = 79) -> list[str]:
    """Two columns, the text wrapped under itself."""
    width = max(len(key) for key in rows) + 4
    lines: list[str] = []
    for key, text in rows.items():
        wrapped = textwrap.wrap(text, columns - width) or [""]
        lines.append(f"  {key:<{width - 2}}{wrapped[0]}")
        lines.extend(" " * width + more for more in wrapped[1:])
    return lines


def epilog() -> str:
    lines = [
        "config file, the first that is given:",
        "  --config PATH (before or after the command)",
        f"  ${paths.CONFIG_ENV}",
        "  $XDG_CONFIG_HOME/agentconsole/config.yaml (~/.config/agentconsole/config.yaml)",
        "  `agentconsole locate` prints the one in use and every other file's place;",
        "  `agentconsole check-config` lists every problem in it.",
        "",
        "environment:",
        *_table(ENVIRONMENT),
        "",
        "exit status:",
        *_table({str(code): text for code, text in EXIT_STATUSES.items()}),
    ]
    return "\n".join(lines)
