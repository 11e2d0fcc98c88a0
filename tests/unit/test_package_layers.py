"""The top-level packages form layers, never a cycle (issue 10): `keel` is the library, `oracle`
(the relayer) and `keeper` (the keepers) are applications built on it, and neither application
imports the other. The simulation and the benchmarks run the applications as processes
(`python -m oracle.stepped`, `python -m keeper ...`), which is not an import.

Every import counts, including those inside functions (a lazy import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> the top-level packages of this project it may not import
FORBIDDEN = {"keel": {"oracle", "keeper"}, "oracle": {"keeper"}, "keeper": {"oracle"}}


def imported_packages(source: str) -> set[str]:
    """Top-level names of every absolute import in `source`, at any depth of the module."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_imports_are_found_at_any_depth():
    source = (
        "import keel.risk as r\n"
        "from oracle import rules\n"
        "def f():\n"
        "    from keeper.keeper import Keeper\n"
        "class C:\n"
        "    def g(self):\n"
        "        import numpy\n"
        "from . import sibling\n"
    )
    assert imported_packages(source) == {"keel", "oracle", "keeper", "numpy"}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_the_layers_below_it(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            imported_packages(path.read_text()) & FORBIDDEN[package]
        )
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    offenders = {path: names for path, names in offenders.items() if names}
    assert offenders == {}, f"{package} imports {offenders}"
