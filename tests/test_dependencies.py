"""attnbook declares exactly what the library and the chapters import.

A reader on Colab gets only attnbook's declared dependencies (plus what Colab
ships); a missing declaration breaks a chapter there, an unused one slows every
install. Imports are found with ``ast`` in ``src/attnbook`` and ``notebooks/*.py``.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
# Imported only when present, never needed to run a chapter: myst-nb exists only
# while the book is built (attnbook.notebook.glue falls back without it).
OPTIONAL = {"myst_nb"}


def _imports(paths: list[Path]) -> set[str]:
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "attnbook"}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {re.split(r"[<>=!~ \[;]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}


def _distributions(modules: set[str]) -> dict[str, str]:
    mapping = packages_distributions()
    out = {}
    for module in modules:
        dists = mapping.get(module)
        assert dists, f"cannot tell which distribution provides the import {module!r}"
        out[module] = dists[0].lower()
    return out


def test_declared_dependencies_are_exactly_what_is_imported() -> None:
    sources = sorted((ROOT / "src" / "attnbook").rglob("*.py"))
    chapters = sorted((ROOT / "notebooks").glob("*.py"))
    imported = _imports(sources + chapters) - OPTIONAL
    needed = set(_distributions(imported).values())
    declared = _declared()
    assert not needed - declared, (
        f"imported but not declared in pyproject.toml: {needed - declared}"
    )
    assert not declared - needed, (
        f"declared in pyproject.toml but never imported: {declared - needed}"
    )
