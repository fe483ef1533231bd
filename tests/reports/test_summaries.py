"""Report summaries on real SEC filings (financebench-dev): results first,
cited to the statements' cells; drivers and risks as quoted sentences; no
boilerplate, no table dumps, no repeats; the digest's comparison table.

The filings are sliced (a PDF of selected pages written with PyMuPDF) to keep
ingest short: the Corning 10-Q's cover, index, statements, revenue by product line, MD&A, Part II and
certifications, and the Corning 2022 10-K's cover, risk factors, MD&A and
statements.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pymupdf
import pytest

from api.services.summaries import SummaryService, checked_sentences, render_summary_markdown
from api.services.summary_text import REPEAT_COSINE, is_boilerplate, is_table_dump
from ingest.reports import boilerplate_label
from tests.conftest import REPO, SHARED_DATA

pytestmark = pytest.mark.slow

PDFS = SHARED_DATA / "financebench-dev" / "pdfs"
#: 1-based pages kept from each filing.
TENQ_PAGES = (1, 2, 3, 6, 8, 22, 23, 24, 25, 26, 34, 35, 38, 39, 40, 42, 43, 44)
TENK_PAGES = (1, 2, 13, 14, 23, 24, 25, 26, 44, 58, 61)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def slice_pdf(source: Path, pages: tuple[int, ...], target: Path) -> Path:
    with pymupdf.open(source) as src, pymupdf.open() as out:
        for number in pages:
            out.insert_pdf(src, from_page=number - 1, to_page=number - 1)
        out.save(target)
    return target


def _sentences(summary: dict) -> list[dict]:
    return [c for s in summary["sections"] if s["title"] != "Results" for c in s["citations"]]


def _numbers(text: str) -> set[float]:
    return {float(n.replace(",", "")) for n in _NUMBER.findall(text)}


def _figure_supported(figure: dict) -> bool:
    """Every number the figure's sentence states is in a cited quote, or is
    the change its formula computes from two cited numbers."""
    quoted = set().union(*(_numbers(c["quote"]) for c in figure["citations"]))
    shown = set() if figure["change_pct"] is None else {abs(figure["change_pct"])}
    return _numbers(figure["sentence"]) <= quoted | shown


@pytest.fixture
def tenq(tmp_path: Path) -> Path:
    return slice_pdf(
        PDFS / "CORNING_2023Q2_10Q.pdf", TENQ_PAGES, tmp_path / "CORNING_2023Q2_10Q.pdf"
    )


def test_10q_summary_leads_with_cited_results_and_quotes_no_boilerplate(  # type: ignore[no-untyped-def]
    make_container, tenq: Path
) -> None:
    container = make_container()
    [result] = container.pipeline.ingest_paths([tenq], "t1")
    assert result.status != "failed", result.error
    kb = container.kb
    summary = SummaryService(kb).summarize_document("t1", result.document_id, method="extractive")

    assert summary["kind"] == "report"
    assert summary["profile"]["form"] == "10-Q"
    figures = {f["metric"]: f for f in summary["figures"]}
    assert (figures["revenue"]["current"], figures["revenue"]["prior"]) == (3243, 3615)
    assert (figures["net_income"]["current"], figures["net_income"]["prior"]) == (281, 563)
    assert (figures["eps_diluted"]["current"], figures["eps_diluted"]["prior"]) == (0.33, 0.66)
    assert figures["operating_cash_flow"]["current"] == 570
    assert figures["revenue"]["change_pct"] == -10.3
    assert summary["summary"].startswith("Revenue (Net sales) was $3,243 million")
    display = next(f for f in summary["segments"] if f["segment"] == "Display products")
    assert (display["current"], display["prior"]) == (725, 759)  # revenue by product line
    for figure in summary["figures"] + summary["segments"]:  # cited verbatim on their page
        assert _figure_supported(figure), figure["sentence"]
        for cite in figure["citations"]:
            assert (
                kb.page_text("t1", cite["document_id"], cite["page"])[cite["start"] : cite["end"]]
                == cite["quote"]
            )

    quotes = _sentences(summary)
    assert any(s["title"] == "Drivers" for s in summary["sections"])
    assert quotes
    for cite in quotes:
        page = kb.page_text("t1", cite["document_id"], cite["page"])
        assert page[cite["start"] : cite["end"]] == cite["quote"]
        assert boilerplate_label(cite["quote"]) is None, cite["quote"]
        assert "accompanying notes" not in cite["quote"].lower()
        assert "|" not in cite["quote"]
        assert len(_NUMBER.findall(cite["quote"])) < 8
    vectors = np.asarray(kb.embedder.embed_batch([c["quote"] for c in quotes]))
    cosines = vectors @ vectors.T - np.eye(len(quotes)) * 2
    assert float(cosines.max()) < REPEAT_COSINE
    markdown = render_summary_markdown(summary)
    assert markdown.index("## Results") < markdown.index("## Drivers")


def test_digest_compares_two_filings_of_one_company_and_resumes(tmp_path: Path, tenq: Path) -> None:
    tenk = slice_pdf(PDFS / "CORNING_2022_10K.pdf", TENK_PAGES, tmp_path / "CORNING_2022_10K.pdf")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "api", "--kb", str(tmp_path / "kb"), "--tenant", "t1",
           "summarize", str(tenq), str(tenk), "--out", str(out), "--json"]  # fmt: skip
    env = dict(os.environ)
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    result = json.loads(first.stdout.splitlines()[-1])

    rows = json.loads((out / "digest.json").read_text())["comparison"]
    assert rows == result["comparison"]
    by_form = {r["form"]: r for r in rows}
    assert set(by_form) == {"10-Q", "10-K"}
    assert (by_form["10-Q"]["revenue"], by_form["10-Q"]["net_income"]) == (3243, 281)
    assert (by_form["10-K"]["revenue"], by_form["10-K"]["net_income"]) == (14189, 1316)
    assert by_form["10-K"]["eps_diluted"] == 1.54
    assert by_form["10-K"]["revenue_change_pct"] == 0.8
    assert all("Corning" in r["company"] for r in rows)
    table = list(csv.DictReader(io.StringIO((out / "digest.csv").read_text())))
    assert [(r["form"], float(r["revenue"])) for r in table] == [("10-Q", 3243), ("10-K", 14189)]
    digest_md = (out / "digest.md").read_text()
    assert "| Company | Form | Period | Revenue |" in digest_md
    assert "| 10-K | FY2022 | 14,189 | +0.8% |" in digest_md

    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("CORNING_*.json")}
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("CORNING_*.json")} == stamps


def test_model_sentences_stand_only_when_the_claim_check_finds_them(st_embedder) -> None:  # type: ignore[no-untyped-def]
    from agent.claims import ClaimChecker
    from api.services.summaries import SUMMARY_MIN_SIMILARITY

    quotes = [  # two driver sentences of Corning's 10-Q (pp. 24, 26)
        "Net sales for the three months ended June 30, 2023 decreased $372 million, or 10%, "
        "when compared to the same period in 2022.",
        "This decrease is primarily due to the $687 million decrease in net income attributable "
        "to Corning Incorporated and a decrease in net losses on foreign currency translation "
        "adjustments of $448 million, primarily driven by the Japanese yen, South Korean won and euro.",
    ]
    cites = [{"document_id": "d", "document": "10-Q", "page": 24, "quote": q,
              "start": 0, "end": len(q)} for q in quotes]  # fmt: skip
    said = "Net sales decreased $372 million, or 10%, in the three months ended June 30, 2023."
    spliced = (  # what SmolLM2 wrote: a clause of no quote, with another quote's facts
        "The decline in gross margin was primarily driven by higher inflationary costs, including "
        "a decrease in net losses on foreign currency translation adjustments of $448 million."
    )
    model = " ".join(
        [said, said, "The financial statements are presented in a concise manner."] * 3
        + ["Net sales rose $900 million in 2023.", spliced]
    )
    checker = ClaimChecker(st_embedder, min_similarity=SUMMARY_MIN_SIMILARITY)
    assert checked_sentences(model, cites, checker) == [said]


def test_filters_reject_boilerplate_and_flattened_tables() -> None:
    assert is_boilerplate("See accompanying Notes to Condensed Consolidated Financial Statements.")
    assert is_boilerplate(
        "The accompanying notes are an integral part of these consolidated financial statements."
    )
    flattened = ("Net sales $ 32,765 $ 31,657 $ 30,109 Operating expenses Cost of sales 16,682 "
                 "16,055 15,118 Selling, general and administrative expenses 7,602 6,626 6,311")  # fmt: skip
    assert is_table_dump(flattened)
    assert is_table_dump("Net sales | $ | 3,243 | $ | 3,615")
    assert not is_table_dump(
        "Net sales for the three months ended June 30, 2023 decreased $372 million, or 10%, "
        "when compared to the same period in 2022."
    )


def test_why_a_measure_is_presented_is_not_a_risk() -> None:
    from api.services.report_summary import _is_risk, _is_stated_risk

    rationale = (  # CORNING_2023Q2_10Q.pdf p. 29: names volatility, warns of nothing
        "We believe that the use of constant-currency reporting allows management to understand "
        "our results without the volatility of currency fluctuation, analyze underlying trends "
        "in the businesses and establish operational goals and forecasts."
    )
    assert not _is_risk(rationale)
    assert not _is_stated_risk(rationale)
    stated = ("Additional risks and uncertainties not currently known to us may materially "
              "adversely impact Corning's business, financial condition or operating results.")  # fmt: skip
    assert _is_stated_risk(stated)
    assert not _is_stated_risk("Demand volatility remained high in the quarter.")
    assert _is_risk("Demand volatility remained high in the quarter.")
