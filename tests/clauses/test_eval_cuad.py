"""``dossier eval clauses`` reproduces its committed numbers on a fixed subset
of five CUAD contracts (txt source, shipped model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaluation.clauses import average_precision, score_predictions
from tools.clauses.corpus import ContractLabels

CUAD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cuad-dev"
EXPECTED = Path(__file__).with_name("expected_eval_5.json")
SUBSET = [
    "BANGIINC_05_25_2005-EX-10-Premium Managed Hosting Agreement.txt",
    "VIVINT SOLAR, INC. - NON-COMPETITION AGREEMENT.txt",
    "PACIFICSYSTEMSCONTROLTECHNOLOGYINC_08_24_2000-EX-10.53-SPONSORSHIP AGREEMENT.txt",
    "XLITECHNOLOGIES,INC_12_02_2015-EX-10.02-STRATEGIC ALLIANCE AGREEMENT.txt",
    "PFSFUNDS_06_26_2020-EX-99.H OTH MAT CONT-SERVICES AGREEMENT.txt",
]
TOLERANCE = 0.02


def _subset_labels(tmp_path: Path, files: list[str] = SUBSET) -> Path:
    lines = [
        line
        for line in (CUAD / "clause_spans.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["file"] in files
    ]
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_eval_clauses_reproduces_committed_numbers(tmp_path: Path) -> None:
    from api.cli import app

    res = CliRunner().invoke(
        app,
        [
            "eval", "clauses", "--labels", str(_subset_labels(tmp_path)), "--corpus", str(CUAD),
            "--source", "txt", "--kb", str(tmp_path / "kb"), "--json",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout.strip().splitlines()[-1])
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert got["contracts"] == expected["contracts"] == 5
    for group in ("micro", "macro"):
        for key, value in expected[group].items():
            assert got[group][key] == pytest.approx(value, abs=TOLERANCE), (group, key)
    assert got["presence_aupr"] == pytest.approx(expected["presence_aupr"], abs=TOLERANCE)
    assert set(got["per_category"]) == set(expected["per_category"])
    values = got["values"]["gold_passages"]
    assert values["n"] >= 20  # the 5 contracts' scorable value answers
    assert values["micro_accuracy"] >= 0.7
    assert 0 < got["micro"]["span_f1_jaccard"] <= got["micro"]["span_f1"]


# -- the metric itself, on hand-made predictions ---------------------------------------
def test_metric_counts_by_hand() -> None:
    gold = ContractLabels("a.txt", None, quotes={
        "Governing Law": ["This Agreement is governed by the laws of Delaware."],
        "Cap on Liability": ["liability shall not exceed the fees paid", "in no event consequential damages"],
        "Non-Compete": [],
    })  # fmt: skip
    preds = [{
        "Governing Law": (0.9, ["Section 9. This Agreement is governed by the laws of Delaware, USA."]),
        "Cap on Liability": (0.8, ["Total liability shall not exceed the fees paid hereunder.", "Payment terms."]),
        "Non-Compete": (0.6, ["Distributor shall not compete."]),
    }]  # fmt: skip
    cats = ["Governing Law", "Cap on Liability", "Non-Compete"]
    m = score_predictions(preds, [gold], cats)
    # presence: 3 predicted, 2 gold, 2 right
    assert m["micro"]["presence_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["micro"]["presence_recall"] == 1.0
    # spans: 4 predictions, 2 right; 3 gold quotes, 2 matched
    assert m["micro"]["span_precision"] == 0.5
    assert m["micro"]["span_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["per_category"]["Cap on Liability"]["span_recall"] == 0.5
    assert set(m["macro"]) == set(m["micro"])
    assert m["presence_aupr"] == 1.0  # both present pairs outrank the absent one


def test_cuad_jaccard_rule() -> None:
    from evaluation.clauses import jaccard_match

    gold = {"this", "agreement", "is", "governed", "by", "delaware", "law"}
    assert jaccard_match(gold | {"section", "9"}, gold)  # 7/9
    assert not jaccard_match(gold | set("abcdefgh"), gold)  # 7/15: a long chunk fails
    assert not jaccard_match(set(), set())


def test_average_precision() -> None:
    assert average_precision([0.9, 0.8, 0.7], [True, False, True]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0.1], [False]) == 0.0


# -- --source pdf: the project PDF loader, on real CUAD PDFs ---------------------------
PDF_SUBSET = SUBSET[:2]


def test_load_contract_reads_a_real_pdf() -> None:
    from tools.clauses.corpus import load_contract

    doc = load_contract(CUAD / "pdf" / PDF_SUBSET[1].replace(".txt", ".PDF"))
    assert len(doc.pages) >= 1
    assert "non-competition" in " ".join(p.text for p in doc.pages).lower()


@pytest.mark.slow
def test_eval_clauses_from_pdf(tmp_path: Path) -> None:
    from api.cli import app

    res = CliRunner().invoke(
        app,
        [
            "eval", "clauses", "--labels", str(_subset_labels(tmp_path, PDF_SUBSET)),
            "--corpus", str(CUAD), "--source", "pdf", "--kb", str(tmp_path / "kb"), "--json",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert (got["contracts"], got["source"]) == (2, "pdf")
    assert got["micro"]["presence_recall"] > 0.5
    assert got["micro"]["span_recall"] > 0.3
    assert got["values"]["gold_passages"]["per_category"]["Agreement Date"]["correct"] == 2
