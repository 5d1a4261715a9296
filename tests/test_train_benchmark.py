"""attnbook.train.benchmark: reading benchmarks/results/train_models_cpu.json for chapters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attnbook.train import benchmark_run, describe_benchmark_run
from attnbook.train.benchmark import RESULTS_NAME

ROOT = Path(__file__).resolve().parents[1]
RUN = {
    "goal": {"metric": "test_accuracy", "value": 0.98},
    "met": True,
    "metrics": {"test_accuracy": 1.0},
    "steps": 3658,
    "train_seconds": 60.01,
    "parameters": 112385,
    "load_average_before": [1.7, 2.4, 2.8],
}


@pytest.fixture
def results(tmp_path: Path) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"pronoun": RUN, "note": "free text", "environment": {}}))
    return path


def test_reads_the_named_run(results: Path) -> None:
    assert benchmark_run("pronoun", results) == RUN


def test_missing_file_is_none_and_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert benchmark_run("pronoun", missing) is None
    assert "not here" in describe_benchmark_run("pronoun", missing)


def test_unknown_run_names_the_known_ones(results: Path) -> None:
    with pytest.raises(
        KeyError, match=r"name: expected one of the runs .*\['pronoun'\].*got 'chat'"
    ):
        benchmark_run("chat", results)
    with pytest.raises(KeyError, match="got 'note'"):  # a field that is not a run
        benchmark_run("note", results)


def test_description_has_every_field_on_its_own_line(results: Path) -> None:
    text = describe_benchmark_run("pronoun", results)
    lines = text.splitlines()
    assert [line.split(":")[0].strip() for line in lines] == [
        "goal",
        "met",
        "metrics",
        "steps",
        "train_seconds",
        "parameters",
        "load average",
    ]
    assert "3658" in lines[3] and "[1.7, 2.4, 2.8] (before the run)" in lines[-1]


def test_default_search_finds_the_committed_results(monkeypatch: pytest.MonkeyPatch) -> None:
    committed = ROOT / "benchmarks" / "results" / RESULTS_NAME
    if not committed.is_file():
        pytest.skip("no committed train_models results")
    for cwd in (ROOT, ROOT / "notebooks"):  # scripts run from the root, chapters from notebooks/
        monkeypatch.chdir(cwd)
        for name in ("pronoun", "char_lm", "date_translator"):
            assert benchmark_run(name)["goal"]["metric"]
