"""Every chapter is a committed pair (.py ⇄ .ipynb) in sync, without outputs,
opening with the one Colab setup cell, and listed in the table of contents."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PY_FILES = sorted(NOTEBOOKS.glob("*.py"))
IPYNB_FILES = sorted(NOTEBOOKS.glob("*.ipynb"))


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def test_there_are_chapters() -> None:
    assert PY_FILES, "notebooks/ holds no chapters"


@pytest.mark.parametrize("py", PY_FILES, ids=lambda p: p.name)
def test_every_py_has_its_ipynb_in_sync(py: Path) -> None:
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `make sync`"
    from_py = jupytext.read(py)
    from_ipynb = jupytext.read(ipynb)
    cells_py = [(c.cell_type, c.source.strip()) for c in from_py.cells]
    cells_ipynb = [(c.cell_type, c.source.strip()) for c in from_ipynb.cells]
    assert cells_py == cells_ipynb, f"{py.name} and {ipynb.name} differ: run `make sync`"
    tags_py = [c.metadata.get("tags", []) for c in from_py.cells]
    tags_ipynb = [c.metadata.get("tags", []) for c in from_ipynb.cells]
    assert tags_py == tags_ipynb, f"cell tags of {py.name} and {ipynb.name} differ"


@pytest.mark.parametrize("ipynb", IPYNB_FILES, ids=lambda p: p.name)
def test_every_ipynb_has_its_py_and_no_outputs(ipynb: Path) -> None:
    assert ipynb.with_suffix(".py").exists(), f"{ipynb.name} has no paired .py"
    nb = nbformat.read(ipynb, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"{ipynb.name} cell {i} is committed with outputs"
            assert cell.execution_count is None, f"{ipynb.name} cell {i} has an execution count"
    assert "widgets" not in nb.metadata, f"{ipynb.name} is committed with widget state"


@pytest.mark.parametrize("py", PY_FILES, ids=lambda p: p.name)
def test_every_chapter_opens_with_the_setup_cell(py: Path) -> None:
    setup = _tool("chapter_setup")
    found = setup.setup_cell_of(py)
    assert found == setup.expected_setup_cell(), (
        f"{py.name}: the setup cell differs from tools/chapter_setup.py "
        "(run `python tools/chapter_setup.py --fix`)"
    )
    nb = jupytext.read(py)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source.strip() == found, f"{py.name}: the setup cell must come first"


@pytest.mark.parametrize("py", PY_FILES, ids=lambda p: p.name)
def test_every_chapter_starts_with_its_title_and_names_its_kernel(py: Path) -> None:
    nb = jupytext.read(py)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), (
        f"{py.name}: the first cell must be the chapter's '# Title' (the setup cell comes next)"
    )
    kernel = nbformat.read(py.with_suffix(".ipynb"), as_version=4).metadata.get("kernelspec", {})
    assert kernel.get("name") == "python3", f"{py.name}: run `make sync` to set the kernel"


@pytest.mark.parametrize("py", PY_FILES, ids=lambda p: p.name)
def test_every_chapter_is_in_the_table_of_contents(py: Path) -> None:
    assert f"notebooks/{py.stem}" in _toc_files(), f"add notebooks/{py.stem} to _toc.yml"


def test_every_toc_entry_exists() -> None:
    for entry in _toc_files():
        candidates = [ROOT / f"{entry}{ext}" for ext in (".md", ".ipynb")]
        assert any(c.exists() for c in candidates), f"_toc.yml lists {entry}, which is missing"
