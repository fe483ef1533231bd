"""End to end on a real CUAD contract: ingest its PDF with the real pipeline,
review it with the shipped model, check findings against the gold labels."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tools.base import call_tool
from tools.clauses import (
    ClauseModel,
    ContractReview,
    ExtractClausesTool,
    load_playbook,
    review_stored_document,
)
from tools.clauses.matching import quotes_match

pytestmark = pytest.mark.slow

CUAD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cuad-dev"
STEM = "BravatekSolutionsInc_20170418_8-K_EX-10.1_10205739_EX-10.1_Reseller Agreement"
TENANT = "acme"


def _gold(category: str) -> list[str]:
    for line in (CUAD / "clause_spans.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["file"] == STEM + ".txt" and row["category"].lower() == category.lower():
            return list(row["quotes"])
    raise AssertionError(f"no gold row for {category}")


@pytest.fixture(scope="module")
def reviewed(
    tmp_path_factory: pytest.TempPathFactory, st_embedder: Any
) -> Iterator[dict[str, Any]]:
    from api.container import Container
    from core.settings import load_settings

    settings = load_settings(data_dir=tmp_path_factory.mktemp("kb"), tenant=TENANT)
    container = Container(settings, embedder=st_embedder)
    result = container.pipeline.ingest_file(CUAD / "pdf" / f"{STEM}.pdf", TENANT)
    assert result.status == "indexed", result.error
    assert result.document_id is not None
    review = asyncio.run(
        review_stored_document(
            container.kb,
            TENANT,
            result.document_id,
            model=ClauseModel.load(),
            playbook=load_playbook(),
        )
    )
    pages = {
        n: container.kb.page_text(TENANT, result.document_id, n) for n in range(1, result.pages + 1)
    }
    yield {"container": container, "doc_id": result.document_id, "review": review, "pages": pages}
    container.close()


def _gold_pages(pages: dict[int, str], quote: str) -> set[int]:
    return {n for n, text in pages.items() if quotes_match(text, quote)}


@pytest.mark.parametrize("category", ["Governing Law", "Cap on Liability"])
def test_gold_clause_found_on_the_right_page(reviewed: dict[str, Any], category: str) -> None:
    review: ContractReview = reviewed["review"]
    finding = review.finding(category)
    assert finding.verdict in ("present", "deviates")
    gold = _gold(category)
    assert gold
    hits = [
        e for e in finding.evidence for q in gold
        if quotes_match(e.quote, q) and e.page in _gold_pages(reviewed["pages"], q)
    ]  # fmt: skip
    assert hits, f"{category}: evidence {[(e.page, e.quote[:80]) for e in finding.evidence]}"


def test_governing_law_value(reviewed: dict[str, Any]) -> None:
    value = reviewed["review"].finding("Governing Law").value
    assert value is not None
    assert value.jurisdiction == "Virginia"
    # Virginia is not on the default allowed list.
    assert reviewed["review"].finding("Governing Law").rule_id == "governing-law-not-allowed"


NO_NON_COMPETE = "PFSFUNDS_06_26_2020-EX-99.H OTH MAT CONT-SERVICES AGREEMENT.txt"


def test_contract_without_non_compete_reports_it_absent(st_embedder: Any) -> None:
    from tools.clauses import review_document
    from tools.clauses.corpus import load_contract, make_chunker

    gold = [
        json.loads(line)
        for line in (CUAD / "clause_spans.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["file"] == NO_NON_COMPETE
    ]
    assert any(r["category"] == "Non-Compete" and r["quotes"] == [] for r in gold)
    document = load_contract(CUAD / "txt" / NO_NON_COMPETE)  # the txt as one page
    chunks = make_chunker().chunk(document, "pfs", TENANT)
    review = review_document(
        chunks, {1: document.pages[0].text}, ClauseModel.load(), st_embedder, load_playbook()
    )
    finding = review.finding("Non-Compete")
    assert finding.verdict == "absent"
    assert finding.evidence == []
    assert finding.confidence < 0.5


def test_every_quote_is_verbatim_page_text(reviewed: dict[str, Any]) -> None:
    review: ContractReview = reviewed["review"]
    assert len(review.findings) == 41
    for f in review.findings:
        assert 0.0 <= f.confidence <= 1.0
        for e in f.evidence:
            assert reviewed["pages"][e.page][e.start : e.end] == e.quote


async def test_extract_clauses_tool(reviewed: dict[str, Any]) -> None:
    tool = ExtractClausesTool(reviewed["container"].kb, TENANT)
    result = await call_tool(
        tool, {"document_id": reviewed["doc_id"], "categories": ["governing law"]}
    )
    assert not result.is_error, result.content
    assert "Governing Law" in result.content
    assert [f["category"] for f in result.data["findings"]] == ["Governing Law"]
    missing = await call_tool(tool, {"document_id": "nope"})
    assert missing.is_error
    assert "not found" in missing.content
    other_tenant = await call_tool(
        ExtractClausesTool(reviewed["container"].kb, "other"), {"document_id": reviewed["doc_id"]}
    )
    assert other_tenant.is_error


def test_cli_review_json_and_markdown(tmp_path: Path) -> None:
    from api.cli import app

    runner = CliRunner()
    pdf = str(CUAD / "pdf" / f"{STEM}.pdf")
    res = runner.invoke(app, ["review", pdf, "--kb", str(tmp_path / "kb"), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout.strip().splitlines()[-1])
    assert {f["category"] for f in data["findings"]} >= {"Governing Law", "Non-Compete"}
    assert set(data["risk_counts"]) == {"high", "medium", "low"}
    doc_id = data["document_id"]
    md = runner.invoke(app, ["review", doc_id, "--kb", str(tmp_path / "kb"), "--markdown"])
    assert md.exit_code == 0, md.output
    assert md.stdout.index("## Summary") < md.stdout.index("## Missing protections")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nrules:\n  - {id: r, category: Nope, when: absent, risk: low, reason: r}\n"
    )
    res = runner.invoke(
        app, ["review", doc_id, "--kb", str(tmp_path / "kb"), "--playbook", str(bad)]
    )
    assert res.exit_code == 1
    assert "bad.yaml" in res.output
    assert "unknown category 'Nope'" in res.output
