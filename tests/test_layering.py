"""Imports run downhill (DESIGN.md). This test reads every module's imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "tradejet"

# layer -> tradejet layers it may import (itself always allowed)
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "messages": set(),
    "config": {"errors", "messages"},
    "kernels": set(),
    "strategies": {"kernels", "messages", "errors"},
    "io": {"kernels", "messages", "errors"},
    "models": {"kernels", "messages", "errors", "io"},
    "engine": {"kernels", "messages", "errors", "config", "strategies", "io", "models"},
    "adapters": {"kernels", "messages", "errors", "config", "io"},
    "dashboard": {"kernels", "messages", "errors", "config", "io", "engine"},
    "testing": {"kernels", "messages", "errors", "config", "strategies", "io", "models", "engine", "adapters"},
    "bench": {"kernels", "messages", "errors", "config", "strategies", "io", "models", "engine", "adapters", "testing"},
    "__init__": {"errors", "config", "messages", "engine", "io", "models", "adapters"},
    "__main__": {"cli"},
    "cli": {"*"},
    "commands": {"*"},
}
KERNEL_THIRD_PARTY = {"numpy", "numba"}


def _layer(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    out = []
    pkg_parts = path.relative_to(PKG.parent).with_suffix("").parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                drop = node.level - (1 if path.name == "__init__.py" else 0)
                base = pkg_parts[: len(pkg_parts) - drop] if drop else pkg_parts
                mod = ".".join(base + ((node.module,) if node.module else ()))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
    return out


def violations(path: Path, source: str | None = None) -> list[str]:
    """Return the uphill imports of one module (source read from ``path`` unless given)."""
    layer = _layer(path)
    allowed = ALLOWED[layer]
    bad = []
    for lineno, mod in _imports(path, source):
        top = mod.split(".")[0]
        if top == "tradejet":
            parts = mod.split(".")
            target = parts[1] if len(parts) > 1 else "__init__"
            if target != layer and "*" not in allowed and target not in allowed:
                bad.append(f"{path.name}:{lineno} imports {mod} ({layer} -> {target} runs uphill)")
        elif layer == "kernels" and top not in KERNEL_THIRD_PARTY and top not in sys.stdlib_module_names:
            bad.append(f"{path.name}:{lineno} imports {mod} (kernels import only numpy and numba)")
    return bad


MODULES = sorted(PKG.rglob("*.py"))


def test_every_module_belongs_to_a_known_layer():
    unknown = {_layer(p) for p in MODULES} - set(ALLOWED)
    assert not unknown, f"add these to the layering table: {unknown}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_run_downhill(path: Path):
    bad = violations(path)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("engine/probe.py", "from tradejet.adapters.kraken import http\n"),
        ("engine/probe.py", "from ..adapters import paper\n"),
        ("kernels/probe.py", "import pandas as pd\n"),
        ("kernels/probe.py", "from tradejet.messages import Bar\n"),
        ("io/probe.py", "import tradejet.engine.universe\n"),
    ],
)
def test_the_checker_refuses_uphill_imports(module, source):
    assert violations(PKG / module, source), f"{module}: {source!r} should be refused"


def test_the_checker_accepts_downhill_imports():
    assert not violations(PKG / "engine" / "probe.py", "from tradejet.kernels import codes\nimport numpy\n")
    assert not violations(PKG / "kernels" / "sub" / "x.py", "from .. import codes\nimport math\n")
