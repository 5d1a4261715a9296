"""tools/gpu_check.py and the benchmarks it runs: checked here, so a lent GPU's minutes
are not spent finding a broken script.

The benchmark smoke tests run each script on the CPU at tiny sizes, writing to a
temporary folder; they check that the JSON has the shape gpu_check reads, not speed.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "tools" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu_check = _load_gpu_check()


def _takes_device(path: Path) -> bool:
    """Whether a test module has a test (or fixture) with a ``device`` argument."""
    tree = ast.parse(path.read_text())
    return any(
        isinstance(node, ast.FunctionDef) and "device" in {a.arg for a in node.args.args}
        for node in ast.walk(tree)
    )


def test_device_test_files_are_exactly_those_using_the_device_fixture():
    using = {
        f"tests/{p.name}"
        for p in sorted((ROOT / "tests").glob("test_*.py"))
        if _takes_device(p) and p.name != "test_gpu_check.py"
    }
    assert set(gpu_check.DEVICE_TEST_FILES) == using


def test_device_test_files_import_nothing_a_plain_torch_machine_lacks():
    """The GPU machine has torch, numpy, matplotlib, pytest and hypothesis, not Jupyter."""
    allowed = {"torch", "numpy", "matplotlib", "pytest", "hypothesis", "attnbook"}
    stdlib = set(sys.stdlib_module_names)
    for name in gpu_check.DEVICE_TEST_FILES:
        tree = ast.parse((ROOT / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert roots <= allowed | stdlib, f"{name} imports {roots - allowed - stdlib}"
            if "attnbook" in roots and isinstance(node, ast.ImportFrom):
                assert not node.module.startswith(("attnbook.widgets", "attnbook.notebook")), name


def test_without_cuda_it_says_so_and_exits_zero(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["gpu_check.py"])
    assert gpu_check.main() == 0
    assert "no CUDA device" in capsys.readouterr().out


@pytest.mark.parametrize("quick", [False, True])
def test_steps_run_existing_scripts_and_quick_runs_keep_committed_results(quick):
    files = gpu_check.result_files("cpu", quick)
    committed = {p.name for p in (ROOT / "benchmarks" / "results").glob("*.json")}
    for name, cmd, limit in gpu_check.steps("cuda", quick):
        assert limit > 0, name
        scripts = [part for part in cmd if part.endswith(".py") and "/" in part]
        assert all((ROOT / s).is_file() for s in scripts), scripts
        assert "--device" in cmd or "-k" in cmd
    assert sum(limit for _, _, limit in gpu_check.steps("cuda", quick)) < 600  # one device call
    if quick:
        assert not {p.name for p in files.values()} & committed


def test_recorded_goals_read_every_committed_cpu_result():
    results = ROOT / "benchmarks" / "results"
    reference = gpu_check.recorded_goals(results / "attention_reference_cpu.json")
    assert set(reference) == {"ours_over_torch_math"}
    assert isinstance(reference["ours_over_torch_math"]["met"], bool)
    efficient = gpu_check.recorded_goals(results / "efficient_attention_cpu.json")
    assert all(isinstance(goal["met"], bool) for goal in efficient.values())
    training = gpu_check.recorded_goals(results / "train_models_cpu.json")
    assert set(training) == {"pronoun", "char_lm", "date_translator"}
    assert all(run["met"] for run in training.values())
    assert gpu_check.recorded_goals(results / "no_such_file.json") is None


def _run(script: str, *args: str) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / script), "--device", "cpu", *args]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_efficient_attention_benchmark_runs_in_process(tmp_path):
    out = tmp_path / "efficient.json"
    _run(
        "efficient_attention.py",
        *("--sizes", "64", "128", "--repeats", "1", "--threads", "1"),
        *("--in-process", "--no-plots", "--output", str(out)),
    )
    data = json.loads(out.read_text())
    assert len(data["results"]) == 2 * 2 * 10  # causal x sizes x cases
    assert not [row for row in data["results"] if "error" in row]
    assert "all cases in one process" in data["setup"]["memory"]
    assert len(data["scaling"]) == 4
    assert set(gpu_check.recorded_goals(out)) == {
        "tiled_forward_over_sdpa",
        "tiled_fwd_bwd_peak_over_naive",
        "linear_scaling_time_ratio",
    }


def test_reference_and_training_benchmarks_write_what_gpu_check_reads(tmp_path):
    reference = tmp_path / "reference.json"
    _run("attention_reference.py", "--lengths", "64", "--repeats", "1", "--output", str(reference))
    assert gpu_check.recorded_goals(reference)["ours_over_torch_math"]["measured"] > 0
    training = tmp_path / "training.json"
    _run(
        "train_models.py",
        *("--only", "pronoun", "--seconds", "0.5", "--threads", "1", "--output", str(training)),
    )
    run = gpu_check.recorded_goals(training)["pronoun"]
    assert run["steps"] > 0 and 0 < run["train_seconds"] < 5
    assert json.loads(training.read_text())["pronoun"]["budget_seconds"] == 0.5
