"""The reader's path: every chapter runs outside the book's pinned environment.

Colab does not install our requirements.txt. It has its own torch, numpy,
matplotlib, Jupyter and ipywidgets, and a chapter's setup cell adds only
`attnbook` (with the loose ranges of pyproject.toml). This test rebuilds that
situation: a fresh virtual environment with Colab's usual packages (torch is
the locally available 2.13.0 CPU wheel, never a CUDA download), then
`pip install .`, then every chapter notebook executed with nbclient, outside
Jupyter Book, with ``ATTNBOOK_FAST=1`` so that training is shortened (the book
build checks the full results; this checks that chapters *run*).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.colab, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "_build" / "colab-venv"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# What a Colab runtime has before any chapter installs anything (torch pinned to
# the wheel on this machine's disk so that no multi-GB CUDA build is fetched).
COLAB_BASE = ["torch==2.13.0", "numpy", "matplotlib", "ipykernel", "ipywidgets", "nbclient", "tqdm"]

RUNNER = r"""
import json, sys, time, nbformat
from nbclient import NotebookClient
results = {}
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": "notebooks"}}).execute()
        results[path] = {"ok": True, "seconds": round(time.perf_counter() - started, 1)}
    except Exception as err:  # report every chapter, not just the first failure
        results[path] = {"ok": False, "error": str(err)[-3000:]}
print("RESULTS " + json.dumps(results))
"""


def _python() -> Path:
    return VENV / "bin" / "python"


def _ensure_venv() -> None:
    stamp = VENV / ".colab-base"
    want = hashlib.sha256(" ".join(COLAB_BASE).encode()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == want):
        venv.EnvBuilder(clear=True, with_pip=True).create(VENV)
        pip = [str(_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *COLAB_BASE], check=True)
        stamp.write_text(want)
    # What the setup cell does on Colab: install attnbook with its declared ranges.
    pip = [str(_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--force-reinstall", "--no-deps", str(ROOT)], check=True)
    subprocess.run([*pip, str(ROOT)], check=True)


def test_every_chapter_runs_in_a_colab_like_environment() -> None:
    assert NOTEBOOKS, "no chapters to run"
    _ensure_venv()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(ATTNBOOK_FAST="1", MPLBACKEND="Agg", PYTHONHASHSEED="0")
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        [str(_python()), "-c", RUNNER, *[str(p.relative_to(ROOT)) for p in NOTEBOOKS]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULTS ")]
    assert lines, f"the runner failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    results = json.loads(lines[-1].removeprefix("RESULTS "))
    sys.stdout.write("".join(f"{k}: {v}\n" for k, v in results.items()))
    failed = {k: v["error"] for k, v in results.items() if not v["ok"]}
    assert not failed, "chapters failed outside the book:\n" + "\n\n".join(
        f"{k}:\n{v}" for k, v in failed.items()
    )
