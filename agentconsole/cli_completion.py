"""``agentconsole completion bash|zsh|fish``: the shell's completion script.

shtab writes it from the argparse parser itself, so every subcommand and option
(including ones added later) completes without a hand-kept list, and the script is
static: a TAB never starts Python (argcomplete's scripts call the program on each
TAB instead). Options whose value is a file (``metavar="PATH"``) complete file names.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TextIO

SHELLS = ("bash", "zsh", "fish")

#: Where each shell picks the script up (the README's install lines say the same).
INSTALL = {
    "bash": "agentconsole completion bash > ~/.local/share/bash-completion/completions/"
            "agentconsole",
    "zsh": "agentconsole completion zsh > ~/.zfunc/_agentconsole  "
           "# with fpath+=(~/.zfunc) before compinit in ~/.zshrc",
    "fish": "agentconsole completion fish > ~/.config/fish/completions/agentconsole.fish",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to write the script for")
    parser.epilog = "install:\n" + "\n".join(f"  {line}" for line in INSTALL.values())
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def _all_actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _all_actions(child)


def script(shell: str) -> str:
    """The completion script for ``shell``, from the live parser."""
    import shtab

    from .cli import build_parser  # late: cli imports this module

    parser = build_parser()
    for action in _all_actions(parser):
        if action.metavar == "PATH":
            action.complete = shtab.FILE  # type: ignore[attr-defined]
    return str(shtab.complete(parser, shell=shell))


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    out.write(script(args.shell))
    return 0
