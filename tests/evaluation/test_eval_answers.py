"""`dossier eval answers` end to end: one real CUAD contract's 13 questions,
asked through the agent of `dossier ask` (no LLM: answers composed from the
contract), run as a subprocess exactly as a user would, so the ``--json``
contract (the last stdout line) is checked too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.answers import Question, says_yes, score_answer

REPO = Path(__file__).resolve().parents[2]
CUAD = REPO / ".." / "shared" / "data" / "cuad-dev"

pytestmark = pytest.mark.slow


def test_first_sentence_says_yes_or_no() -> None:
    assert says_yes("Yes: this agreement grants exclusivity [2].") is True
    assert says_yes("No: I found no audit right in this agreement.") is False
    assert says_yes("The agreement does not restrict competition. Yes, really.") is False
    assert says_yes("Licensee shall have exclusive rights [1]. No other rights.") is True


def test_unscorable_golds_are_counted_not_dropped() -> None:
    q = Question("f.txt", "f.pdf", "Renewal Term", "value", "How long?", "[]")
    assert score_answer(q, None)["correct"] is None


def test_eval_answers_json_contract(tmp_path: Path) -> None:
    env = {**os.environ, "DOSSIER_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [sys.executable, "-m", "api", "eval", "answers", "--questions", str(CUAD / "answers.jsonl"),
         "--corpus", str(CUAD), "--source", "txt", "--limit", "13", "--no-llm", "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("questions", "scored", "accuracy", "per_category", "unsupported_rate",
                "citation_precision", "ttft_p50_s", "answers"):  # fmt: skip
        assert key in report, key
    assert report["questions"] == 13
    assert report["contracts"] == 1
    assert set(report["per_category"]["Governing Law"]) >= {"n", "accuracy"}
    row = next(a for a in report["answers"] if a["category"] == "Governing Law")
    assert row["gold"] == "Nevada"
    assert row["correct"] is True, row["answer"]
    assert {"question", "gold", "answer", "correct", "unsupported"} <= set(row)
    assert report["citation_precision"] == 1.0
    assert report["unsupported_rate"] == 0.0
    assert report["accuracy"] >= 0.6


@pytest.mark.llm
def test_eval_answers_compare_with_the_real_model(tmp_path: Path, llm_base_url: str) -> None:
    """--compare runs both compositions against the real vLLM server, each pass
    with its own event loop and client (a shared client broke the second pass)."""
    env = {**os.environ, "DOSSIER_LLM__BASE_URL": llm_base_url}
    proc = subprocess.run(
        [sys.executable, "-m", "api", "eval", "answers", "--questions", str(CUAD / "answers.jsonl"),
         "--corpus", str(CUAD), "--source", "txt", "--limit", "3", "--compare", "--json",
         "--kb", str(tmp_path / "kb")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["questions"] == 3
    assert report["baseline"]["questions"] == 3
    assert report["baseline"]["errors"] == 0
