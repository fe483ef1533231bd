"""Tables as tables on real SEC filings: the statements found and labelled,
their units and period columns, cells page-exact; table chunks that carry
the header; the API route and the CLI through the real app."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core.reports import ReportTable
from core.settings import load_settings
from core.types import BlockKind, Document
from ingest.chunking import Chunker
from ingest.loaders import load_document
from ingest.report_chunks import label_report_chunks
from ingest.tables import extract_tables, statement_kind, table_units
from tests.conftest import REPO, SHARED_DATA
from tests.e2e.conftest import ingest, start_server


def _statement(tables: list[ReportTable], kind: str) -> ReportTable:
    found = [t for t in tables if t.statement == kind]
    assert found, f"no {kind} statement among {[(t.page, t.caption[:40]) for t in tables]}"
    return found[0]


def _page_exact(document: Document, tables: list[ReportTable]) -> None:
    for t in tables:
        text = document.pages[t.page - 1].text
        for row in t.rows:
            if row.label_start is not None:
                assert text[row.label_start : row.label_end] == row.label
            for cell in row.cells:
                if cell is not None:
                    assert text[cell.start : cell.end] == cell.text, (t.page, cell)


def test_corning_10q_income_statement(corning: Document) -> None:
    tables = extract_tables(corning.pages)
    income = _statement(tables, "income")
    assert income.page == 3
    assert income.units == "in millions, except per share amounts"
    assert income.columns == [
        "Three months ended June 30, 2023",
        "Three months ended June 30, 2022",
        "Six months ended June 30, 2023",
        "Six months ended June 30, 2022",
    ]
    net_sales = income.cell("Net sales", 0)
    assert net_sales is not None
    assert net_sales.text == "3,243"
    assert net_sales.value == 3243.0
    page = corning.pages[2].text
    assert page[net_sales.start : net_sales.end] == "3,243"
    interest = income.cell("Interest expense", 3)
    assert interest is not None
    assert interest.value == -143.0
    diluted = income.cell("Diluted", 2)
    assert diluted is not None
    assert diluted.text == "0.53"
    balance = _statement(tables, "balance")
    assert balance.columns == ["June 30, 2023", "December 31, 2022"]
    total_assets = balance.cell("Total Assets", 0)
    assert total_assets is not None
    assert total_assets.text == "28,645"
    assert {"cash_flow", "equity", "comprehensive_income"} <= {t.statement for t in tables}
    _page_exact(corning, tables)


def test_10k_statements_from_unruled_text(mmm: Document) -> None:
    """3M's statements are drawn without rules: rows are read from the text."""
    tables = extract_tables(mmm.pages)
    assert [t.statement for t in tables] == ["income", "balance", "cash_flow"]
    income = _statement(tables, "income")
    assert income.columns == ["2018", "2017", "2016"]
    assert income.units == "in millions, except per share amounts"
    assert income.cell("Net sales", 0).text == "32,765"  # type: ignore[union-attr]
    assert income.cell("Operating income", 1).text == "7,692"  # type: ignore[union-attr]
    cash = _statement(tables, "cash_flow")
    capex = cash.cell("Purchases of property, plant and equipment", 0)
    assert capex is not None
    assert capex.value == -1577.0
    _page_exact(mmm, tables)
    assert ReportTable.from_json(json.loads(json.dumps(income.to_json()))) == income


def test_statement_and_unit_readers() -> None:
    assert statement_kind("Consolidated Statement of Incom e Years ended") == "income"
    assert statement_kind("CONSOLIDATED STATEMENTS OF OPERATIONS") == "income"
    assert statement_kind("Consolidated Statements of Financial Position") == "balance"
    assert statement_kind("Statement of Changes in Shareholders’ Equity") == "equity"
    assert statement_kind("Segment data", ["Total assets", "Total liabilities"]) == "balance"
    assert statement_kind("Revenue by region") is None
    assert table_units("(Unaudited; in millions, except per share amounts)") == (
        "in millions, except per share amounts"
    )
    assert table_units("(Millions) 2018 2017") == "in millions"
    assert table_units("Net sales rose") is None


def test_table_chunks_carry_caption_and_columns(mmm: Document, report_chunker: Chunker) -> None:
    tables = extract_tables(mmm.pages)
    chunks = report_chunker.chunk(mmm, "doc", "t")
    out = label_report_chunks(
        mmm, chunks, tables, report_chunker.counter, report_chunker.max_tokens
    )
    for c in out:  # the invariants of every chunk hold
        assert mmm.pages[c.page - 1].text[c.start : c.end] == c.body
        assert report_chunker.counter.count(c.text) <= report_chunker.max_tokens
    assert [c.ordinal for c in out] == list(range(len(out)))
    income_page = _statement(tables, "income").page
    pieces = [c for c in out if c.page == income_page and c.kind is BlockKind.TABLE]
    assert pieces, "the income statement became no TABLE chunk"
    row = next(c for c in pieces if "Net sales" in c.body)
    assert "Statement of Incom" in row.text
    assert "Table (income statement)" in row.text
    assert "columns: 2018; 2017; 2016" in row.text
    balance = [c for c in out if c.page == _statement(tables, "balance").page]
    split = [c for c in balance if c.kind is BlockKind.TABLE]
    assert len(split) >= 2, "the balance sheet is split between rows"
    assert all("columns: 2018; 2017" in c.text for c in split)


# -- through the real app -------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "dossier"), *args],
        env={**env, "HF_HUB_OFFLINE": "1", "COLUMNS": "120"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_tables_api_and_cli(tmp_path: Path, st_embedder: Any, mmm_pdf: Path) -> None:
    srv = start_server(tmp_path / "srv", st_embedder)
    try:
        with srv.client("acme") as acme, srv.client("globex") as globex:
            (doc,) = ingest(acme, mmm_pdf)
            record = acme.get(f"/v1/documents/{doc}").json()
            assert record["report"] == {
                "issuer": "3M Company", "form": "10-K",
                "fiscal_period": "FY2018", "period_end": "2018-12-31",
            }  # fmt: skip
            body = acme.get(f"/v1/documents/{doc}/tables").json()
            assert [t["statement"] for t in body["tables"]] == ["income", "balance", "cash_flow"]
            income = body["tables"][0]
            assert income["columns"] == ["2018", "2017", "2016"]
            assert income["rows"][0]["label"] == "Net sales"
            assert income["rows"][0]["cells"][0]["text"] == "32,765"
            page = acme.get(f"/v1/documents/{doc}/tables", params={"page": income["page"]})
            assert [t["statement"] for t in page.json()["tables"]] == ["income"]
            assert acme.get(f"/v1/documents/{doc}/tables", params={"page": 99}).status_code == 404
            assert globex.get(f"/v1/documents/{doc}/tables").status_code == 404
            hits = acme.post("/v1/search", json={"query": "3M total liabilities 2018", "k": 8})
            assert hits.status_code == 200, hits.text
        kb = ["--kb", str(tmp_path / "srv"), "--tenant", "acme"]
        done = _cli("tables", doc, "--json", *kb)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[-1])["tables"][0]["statement"] == "income"
        done = _cli("tables", doc, "--csv", "--page", str(income["page"]), *kb)
        rows = list(csv.reader(io.StringIO(done.stdout)))
        assert rows[0][:5] == ["page", "table", "statement", "units", "row"]
        assert rows[1][4:6] == ["Net sales", "32,765"]
        done = _cli("tables", doc, *kb)
        assert done.returncode == 0
        assert "income statement" in done.stdout
        assert "32,765" in done.stdout
        assert "Traceback" not in done.stderr
        done = _cli("tables", "no-such-doc", *kb)
        assert done.returncode == 1
        assert "not found" in done.stderr
    finally:
        srv.stop()
        srv.container.close()


def test_docx_table_of_words() -> None:
    """A DOCX table is stored too: its title row as caption, label | value rows."""
    nda = SHARED_DATA / "docx" / "bonterms-cc0-1.0" / "bonterms-mutual-nda" / "template.docx"
    document = load_document(nda, load_settings().ingest)
    tables = extract_tables(document.pages, text_tables=False)
    terms = next(t for t in tables if t.caption == "Key Terms")
    law = terms.cell("Governing Law", 0)
    assert law is not None
    assert law.text == "{governing_law}"
    assert terms.statement is None
    _page_exact(document, tables)
