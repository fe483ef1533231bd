"""`dossier eval retrieval` end to end on a fixed slice of the CUAD dev queries.

Real pipeline: the text loader, the chunker, MiniLM, Milvus Lite in a
temporary folder, the LegalBench-RAG baseline; run as a subprocess exactly as
a user would (``python -m api``), so the ``--json`` contract is checked too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CUAD = REPO / ".." / "shared" / "data" / "cuad-dev"
KS = ("1", "2", "4", "8", "16", "32", "64")


def dev_slice(n_files: int = 10, n_queries: int = 20) -> dict[str, object]:
    """Fixed queries over contracts spread across the dev set: every tenth
    contract, then their queries round-robin (first query of each, then the
    second, ...) until ``n_queries``."""
    tests = json.loads((CUAD / "queries.json").read_text(encoding="utf-8"))["tests"]
    by_file: dict[str, list[dict[str, object]]] = {}
    for test in tests:
        by_file.setdefault(test["snippets"][0]["file_path"], []).append(test)
    chosen = list(by_file)[::10][:n_files]
    picked: list[dict[str, object]] = []
    for rank in range(max(len(by_file[f]) for f in chosen)):
        for name in chosen:
            if rank < len(by_file[name]) and len(picked) < n_queries:
                picked.append(by_file[name][rank])
    return {"tests": picked}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "api", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def test_dev_slice_is_fixed_and_small():
    tests = dev_slice()["tests"]
    assert len(tests) == 20  # type: ignore[arg-type]
    files = {s["file_path"] for t in tests for s in t["snippets"]}  # type: ignore[union-attr]
    assert len(files) <= 10


@pytest.fixture(scope="module")
def slice_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the CLI on the fixed slice, shared by the tests below."""
    queries = tmp_path_factory.mktemp("eval") / "slice.json"
    queries.write_text(json.dumps(dev_slice()), encoding="utf-8")
    proc = run_cli(
        "eval",
        "retrieval",
        "--queries",
        str(queries),
        "--corpus",
        str(CUAD / "txt"),
        "--baseline",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_eval_retrieval_json_shape(slice_result: dict[str, Any]):
    result = slice_result
    assert result["queries"] == 20
    assert result["documents"] <= 10
    for side in (result, result["baseline"]):
        assert tuple(side["k"]) == KS
        for scores in side["k"].values():
            assert set(scores) == {"precision", "recall"}
            assert 0.0 <= scores["precision"] <= 1.0
            assert 0.0 <= scores["recall"] <= 1.0
        assert side["ingest_s"] > 0
        assert side["query_ms_p50"] > 0
    recalls = [result["k"][k]["recall"] for k in KS]
    assert recalls[-1] >= recalls[0]


@pytest.mark.slow
def test_dossier_beats_the_baseline_on_the_slice(slice_result: dict[str, Any]):
    ours, base = slice_result["k"], slice_result["baseline"]["k"]
    for k in KS:
        assert ours[k]["recall"] > base[k]["recall"], (k, ours[k], base[k])
        assert ours[k]["precision"] > base[k]["precision"], (k, ours[k], base[k])


@pytest.mark.slow
def test_eval_retrieval_reports_a_missing_corpus_file(tmp_path: Path):
    queries = tmp_path / "slice.json"
    queries.write_text(json.dumps(dev_slice(1, 1)), encoding="utf-8")
    proc = run_cli("eval", "retrieval", "--queries", str(queries), "--corpus", str(tmp_path))
    assert proc.returncode == 2
    assert "missing" in proc.stderr
