"""`dossier eval reports` end to end on a 2-question slice: two FinanceBench
questions about 3M's 2018 10-K, with the filing cut to its cover and
statement pages (the gold pages renumbered), run as a subprocess as a user
would, so the ``--json`` contract (the last stdout line) is checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pymupdf
import pytest

from evaluation.report_checks import gold_figure, states_figure, summary_checks
from evaluation.reports import page_recall

REPO = Path(__file__).resolve().parents[2]
FB = REPO / ".." / "shared" / "data" / "financebench-dev"
#: 3M's 2018 10-K: cover (1-2), income statement (56), balance sheet (58), cash flows (60).
PAGES = [1, 2, 56, 58, 60]


def test_figures_are_scored_with_the_gold_rounding() -> None:
    assert gold_figure("$1577.00") == (1577.0, 2, False)
    assert gold_figure("Yes, it is.") is None
    assert states_figure("Capital expenditure was $1,577 million [1].", gold_figure("$1577.00"))
    assert not states_figure("Capital expenditure was $1,600 million.", gold_figure("$1577.00"))
    assert states_figure("The margin was 10.3% [2].", gold_figure("10.3%"))
    assert states_figure("a quick ratio of 54%", gold_figure("0.54"))
    assert states_figure("CCC is (3.7) days", gold_figure("-3.7"))


def test_page_recall() -> None:
    gold = [("a", 3), ("a", 5)]
    assert page_recall([("a", 3), ("a", 3), ("b", 5)], gold, 1) == 0.5
    assert page_recall([("a", 1), ("a", 5), ("a", 3)], gold, 5) == 1.0


def test_summary_checks_count_what_a_reader_objects_to() -> None:
    checks = summary_checks({
        "summary": "Net sales were $32.8 billion, up 3.5% [1]. See accompanying Notes to "
        "Consolidated Financial Statements. See accompanying Notes to Consolidated Financial "
        "Statements. Sales 1 2 3 4 5 6 7 8 9 10 11. Operating income was $7,207 million.",
        "citations": [{"quote": "Net sales $ 32.8 billion, up 3.5 percent"}],
    })  # fmt: skip
    assert checks["boilerplate"] == 2
    assert checks["repeated"] == 1
    assert checks["table_dumps"] == 1
    assert checks["figures"] == 3
    assert checks["unsupported_figures"] == 1  # $7,207 million is in no citation


def _slice(tmp_path: Path) -> Path:
    data = tmp_path / "fb"
    (data / "pdfs").mkdir(parents=True)
    with pymupdf.open(FB / "pdfs" / "3M_2018_10K.pdf") as src, pymupdf.open() as out:
        for page in PAGES:
            out.insert_pdf(src, from_page=page - 1, to_page=page - 1)
        out.save(data / "pdfs" / "3M_2018_10K.pdf")
    lines = (FB / "questions.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    with (data / "questions.jsonl").open("w", encoding="utf-8") as fh:
        for line in lines:
            q = json.loads(line)
            for e in q["evidence"]:  # zero-based page numbers in the cut PDF
                e["evidence_page_num"] = PAGES.index(e["evidence_page_num"] + 1)
            fh.write(json.dumps(q) + "\n")
    return data


@pytest.mark.slow
def test_eval_reports_json_contract(tmp_path: Path) -> None:
    env = {**os.environ, "DOSSIER_DATA_DIR": str(tmp_path / "kb")}
    proc = subprocess.run(
        [sys.executable, "-m", "api", "eval", "reports", "--data", str(_slice(tmp_path)),
         "--no-llm", "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["questions"] == 2
    assert report["filings"] == 1
    search = report["search"]
    for setting in ("scoped", "all"):
        assert set(search[setting]) == {"recall@1", "recall@5"}
        assert set(report["naive"][setting]) == {"recall@1", "recall@5"}
    assert search["scoped"]["recall@5"] == 1.0  # the balance sheet and cash flow pages
    assert search["routing_accuracy"] == 1.0
    assert "scoped recall@5" in report["ratio"]
    row = search["questions"][0]
    assert {"question", "doc", "gold_pages", "scoped", "all", "routed"} <= set(row)
    assert len(set(row["scoped"]["pages"])) == len(row["scoped"]["pages"])
    figures = report["figures"]
    assert figures["overall"]["figure_golds"] == 2
    assert set(figures["by_type"]) == {"metrics-generated"}
    assert {"question", "gold", "answer", "correct"} <= set(figures["answers"][0])
    summary = report["summaries"]["per_report"]["3M_2018_10K"]
    for key in ("boilerplate", "repeated", "table_dumps", "figures", "unsupported_figures"):
        assert isinstance(summary[key], int), key
