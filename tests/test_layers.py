"""The import rules between the package's layers (DESIGN §1), read from the source.

Every module of ``agentconsole`` is parsed (``ast``) and each import it makes — at the
top, inside a function, or under ``TYPE_CHECKING``: a type dependency is a dependency —
is checked against :data:`FORBIDDEN`. The arrows that must never exist::

    sip        → anything else of the package (the sans-IO core stands alone)
    transport,
    media      → softphone, ui, demo, control, remote (nothing above them)
    softphone  → ui, demo, control, remote
    ui         → sip, transport, media, demo, control, remote (the console speaks to
                 the softphone only; the entry module, ui_main, hands it the control
                 integration and the holder's side channel as protocols ui/ defines)
    control,
    remote     → sip, transport, media, demo, ui (clients of the softphone, like ui)
    shared     → every layer but sip (config and its integration sections, errors,
                 paths, history, hook templates, trusted-source matching: used by all
                 of them; config validates SIP URIs and digest algorithms with the core)

plus the third-party modules a layer must not touch (:data:`FORBIDDEN_EXTERNAL`). A new
top-level package or root module must be given a row here: the test fails until it is.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "agentconsole"
LAYERS = ("sip", "transport", "media", "softphone", "ui", "demo", "control", "remote")
#: Root modules every layer may use; they use no layer.
SHARED = frozenset({"config", "config_integration", "errors", "paths", "_validate", "history",
                    "hook_templates", "trust"})
#: Root modules that start things (the CLI, the console's entry): they may use anything.
ENTRY = frozenset({"__init__", "__main__", "cli", "cli_completion", "cli_help", "cli_locate",
                   "cli_register", "cli_signals", "ui_main"})

EVERY_LAYER = frozenset(LAYERS)
FORBIDDEN: dict[str, frozenset[str]] = {
    "sip": EVERY_LAYER - {"sip"} | {"shared"},
    "transport": frozenset({"softphone", "ui", "demo", "control", "remote"}),
    "media": frozenset({"softphone", "ui", "demo", "control", "remote"}),
    "softphone": frozenset({"ui", "demo", "control", "remote"}),
    "ui": frozenset({"sip", "transport", "media", "demo", "control", "remote"}),
    "control": frozenset({"sip", "transport", "media", "demo", "ui", "remote"}),
    "remote": frozenset({"sip", "transport", "media", "demo", "ui", "control"}),
    "demo": frozenset({"control", "remote"}),
    "shared": EVERY_LAYER - {"sip"},
    "entry": frozenset(),
}
FORBIDDEN_EXTERNAL: dict[str, frozenset[str]] = {
    "sip": frozenset({"asyncio", "socket", "pyee", "textual", "aiortc", "av", "sounddevice"}),
    "ui": frozenset({"aiortc", "av", "sounddevice", "websockets"}),
    "softphone": frozenset({"textual", "sounddevice", "aiortc", "av"}),
}


def layer_of(module: str) -> str:
    """``agentconsole.sip.ua`` → "sip"; a root module → "shared" or "entry"."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    name = parts[1] if len(parts) > 1 else "__init__"
    if name in SHARED:
        return "shared"
    if name in ENTRY:
        return "entry"
    raise AssertionError(f"{module}: a new root module; give it a layer in test_layers.py")


def modules() -> Iterator[tuple[str, Path, bool]]:
    """(dotted name, path, is a package's ``__init__``) of every module of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_init = parts[-1] == "__init__"
        if is_init:
            parts.pop()
        yield ".".join(parts), path, is_init


def imports(module: str, path: Path, is_init: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    package = module.split(".") if is_init else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if not node.level:
                yield node.lineno, node.module or ""
                continue
            base = package[:len(package) - node.level + 1]
            if node.module:
                yield node.lineno, ".".join([*base, node.module])
            else:  # from . import paths: a name is a module, or a name of the package
                for alias in node.names:
                    target = [*base, alias.name]
                    is_module = PACKAGE.parent.joinpath(*target).with_suffix(".py").exists() \
                        or PACKAGE.parent.joinpath(*target, "__init__.py").exists()
                    yield node.lineno, ".".join(target if is_module else base)


def violations() -> list[str]:
    found = []
    for module, path, is_init in modules():
        layer = layer_of(module)
        for line, target in imports(module, path, is_init):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if target.split(".")[0] != "agentconsole":
                if target.split(".")[0] in FORBIDDEN_EXTERNAL.get(layer, ()):
                    found.append(f"{where}: {layer} imports {target}")
                continue
            other = layer_of(target)
            if other != layer and other in FORBIDDEN[layer]:
                found.append(f"{where}: {layer} imports {target} ({layer} → {other})")
    return found


def test_every_layer_has_its_rules() -> None:
    present = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert present - {"themes"} <= set(LAYERS), "a new package needs a row in FORBIDDEN"
    assert all(layer_of(module) for module, _path, _init in modules())


def test_no_import_crosses_a_layer_the_wrong_way() -> None:
    assert len(list(modules())) > 90  # the whole package is read
    found = violations()
    assert not found, "forbidden imports:\n" + "\n".join(found)
