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


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu_check = _load_tool("gpu_check")
run_chapters = _load_tool("run_chapters")


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


def test_recorded_goals_read_the_committed_gpu_chapter_run():
    record = gpu_check.recorded_goals(ROOT / "benchmarks" / "results" / "chapters_cuda.json")
    measured = record["every_chapter_runs"]["measured"]
    assert set(measured) == {p.stem for p in (ROOT / "notebooks").glob("[0-9A-Z]*.py")}


@pytest.fixture
def two_chapters(tmp_path, monkeypatch):
    """A notebooks folder with one chapter that runs and one that fails."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "01_runs.py").write_text(
        "from attnbook.device import default_device, describe_device\n"
        "print(describe_device(default_device()))\n"
        "import os; print('fast', os.environ['ATTNBOOK_FAST'])\n"
    )
    (folder / "02_fails.py").write_text("raise ValueError('a chapter that fails')\n")
    monkeypatch.setattr(run_chapters, "NOTEBOOKS", folder)
    return tmp_path


def test_run_chapters_records_each_chapter(two_chapters, monkeypatch):
    out = two_chapters / "chapters.json"
    argv = ["run_chapters.py", "--device", "cpu", "--fast", "--jobs", "2", "--output", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    assert run_chapters.main() == 1  # one chapter failed
    record = json.loads(out.read_text())
    runs, fails = record["chapters"]
    assert (runs["chapter"], runs["exit_code"], fails["exit_code"]) == ("01_runs", 0, 1)
    assert runs["device_line"].startswith("cpu (") and "fast 1" in runs["output"]
    assert "ValueError: a chapter that fails" in fails["output"][-1]
    goal = gpu_check.recorded_goals(out)["every_chapter_runs"]
    assert goal["met"] is False and goal["measured"]["02_fails"] == "exit 1"


def test_run_chapters_skips_where_the_chapters_imports_are_missing(two_chapters, monkeypatch):
    out = two_chapters / "chapters.json"
    monkeypatch.setattr(sys, "argv", ["run_chapters.py", "--output", str(out)])
    monkeypatch.setattr(run_chapters, "missing_packages", lambda: ["anywidget"])
    assert run_chapters.main() == 0
    skipped = gpu_check.recorded_goals(out)["every_chapter_runs"]["skipped"]
    assert "anywidget" in skipped


def test_run_chapters_rejects_an_unknown_chapter(two_chapters, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["run_chapters.py", "--only", "99_nothing"])
    with pytest.raises(SystemExit):
        run_chapters.main()
    assert "--only: no chapter named ['99_nothing']" in capsys.readouterr().err
