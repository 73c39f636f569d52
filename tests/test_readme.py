"""The README tells a newcomer the truth: its two commands are the ones CI runs, its
install and completion lines are the real ones, and its screenshot is today's console."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from agentconsole import cli_completion

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
#: The console snapshot the README shows (kept current by tests/ui/test_snapshots.py).
SNAPSHOT = ROOT / "tests/ui/__snapshots__/test_snapshots/test_talking_and_held[120x40].svg"


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```\w*\n(.*?)^```", text, re.M | re.S)


def commands(block: str) -> list[str]:
    """The commands of a shell block, without comments."""
    lines = (shlex.split(line, comments=True) for line in block.splitlines())
    return [" ".join(words) for words in lines if words]


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([\w-]+):", text, re.M))


def test_the_first_two_commands_are_make_demo_and_make_test() -> None:
    first = code_blocks(README)[0]
    assert commands(first) == ["make demo", "make test"]
    assert README.index(first) < README.index("## Install it as a tool")
    assert {"demo", "test"} <= make_targets()


def test_ci_runs_the_readme_test_command() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    steps = commands("\n".join(line for line in run.splitlines() if not line.startswith("#!")))
    assert steps[-1] == "make test"
    assert "export AGENTCONSOLE_INTEROP_REQUIRED=1" in steps
    # make test goes through the shared system-packages script before anything else
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: system-packages ", makefile, re.M)
    assert ".ci/system-packages install" in makefile


def test_the_install_section_has_pipx_uv_and_a_repository_url() -> None:
    install = README[README.index("## Install it as a tool"):README.index("## Connect")]
    lines = commands("\n".join(code_blocks(install)))
    assert "pipx install ." in lines and "uv tool install ." in lines
    assert any(re.fullmatch(r"pipx install git\+https://\S+", line) for line in lines)
    for line in cli_completion.INSTALL.values():
        assert line in install


def test_connect_section_walks_check_config_register_and_a_first_call() -> None:
    connect = README[README.index("## Connect to your PBX"):README.index("# Reference")]
    order = [connect.index(s) for s in ("config.example.yaml", "agentconsole check-config",
                                        "agentconsole register", "First call")]
    assert order == sorted(order)


def test_the_screenshot_is_the_console_snapshot() -> None:
    assert "](docs/console.svg)" in README
    assert (ROOT / "docs" / "console.svg").read_bytes() == SNAPSHOT.read_bytes(), (
        "the console's snapshot changed: `make screenshot` copies it to docs/")
