"""Data flows one way: each graphcheck module imports only from its own layer or below.

readers/model/graph -> analyses -> rules -> reporters -> api -> cli. Every
import counts, at module level or inside a function (a lazy import would hide a
cycle, as gate_config's imports of the rules once did), including imports made only
for type checking.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers import ROOT

PACKAGE = ROOT / "graphcheck"

#: Lowest first. A name ending in "." stands for every module of that package.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("readers/model/graph", (
        "graphcheck._version", "graphcheck.errors", "graphcheck.model", "graphcheck.keras_versions",
        "graphcheck.kinds",
        "graphcheck.layers", "graphcheck.keras_ops", "graphcheck.tf_random_ops", "graphcheck.semantics",
        "graphcheck.findings",
        "graphcheck.discovery", "graphcheck.profile_choice", "graphcheck.readers",
        "graphcheck.readers.", "graphcheck.graph", "graphcheck.distribution",
        "graphcheck.hub_handles", "graphcheck.preset_layout",
    )),
    ("analyses", ("graphcheck.analyses", "graphcheck.analyses.")),
    ("rules", (
        "graphcheck.rules", "graphcheck.rules.", "graphcheck.gate_config", "graphcheck.diff",
        "graphcheck.runtime", "graphcheck.runtime.",
    )),
    # Every output (reports, drawings, the HTML page, graph exports, plain-words reasons).
    ("reporters", ("graphcheck.reporters", "graphcheck.reporters.")),
    ("api", ("graphcheck.api", "graphcheck", "graphcheck.keras")),
    ("cli", ("graphcheck.cli", "graphcheck.__main__")),
)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    """The index of the module's layer; the longest matching name decides."""
    best: tuple[int, int] | None = None
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            matches = module.startswith(name) if name.endswith(".") else module == name
            if matches and (best is None or len(name) > best[1]):
                best = (index, len(name))
    if best is None:
        raise LookupError(f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}")
    return best[0]


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, module) of every graphcheck import in the file, wherever it stands."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from graphcheck.rules import runtime` imports a module; `... import RULES` a name.
                candidate = f"{base}.{alias.name}"
                is_module = (root / Path(*candidate.split("."))).with_suffix(".py").is_file() or (
                    root / Path(*candidate.split(".")) / "__init__.py"
                ).is_file()
                found.append((node.lineno, candidate if is_module else base))
    return [(line, name) for line, name in found if name.split(".")[0] == "graphcheck"]


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_flow_down(path: Path) -> None:
    """The module imports nothing from a layer above its own."""
    here = layer_of(module_name(path))
    upward = [
        f"line {line}: {name} ({LAYERS[layer_of(name)][0]})"
        for line, name in imported_modules(path)
        if layer_of(name) > here
    ]
    assert not upward, f"{module_name(path)} ({LAYERS[here][0]}) imports upward: {upward}"


def test_layers_name_real_modules() -> None:
    """Every name in LAYERS is a module or package of graphcheck (no stale entries)."""
    modules = {module_name(p) for p in MODULES}
    for _, names in LAYERS:
        for name in names:
            if name.endswith("."):
                assert any(m.startswith(name) for m in modules), name
            else:
                assert name in modules, name


def test_finds_lazy_and_relative_imports(tmp_path: Path) -> None:
    """Imports inside functions and relative imports are found and resolved."""
    fake = tmp_path / "graphcheck" / "rules" / "fake.py"
    fake.parent.mkdir(parents=True)
    (fake.parent / "docs.py").write_text("")
    fake.write_text(
        "def late():\n    from graphcheck.api import check\n    from . import docs\n"
        "    from ..reporters import sarif\n"
    )
    names = [name for _, name in imported_modules(fake, tmp_path)]
    assert names == ["graphcheck.api", "graphcheck.rules.docs", "graphcheck.reporters"]
    assert layer_of("graphcheck.api") > layer_of("graphcheck.rules.fake")
