"""Report structure at ingest on real SEC filings: the kind, the cover-page
profile, boilerplate labels on chunks, and boilerplate ranked below content."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from core.reports import ReportProfile
from core.types import Document
from ingest.chunking import Chunker
from ingest.opinions import detect_kind
from ingest.report_chunks import label_report_chunks
from ingest.reports import boilerplate_label, report_profile, report_title
from ingest.tables import extract_tables
from knowledge_base.protocols import SearchRequest
from knowledge_base.service import BOILERPLATE_FACTOR


def test_corning_10q_profile(corning: Document) -> None:
    assert detect_kind(corning) == "report"
    profile = report_profile([p.text for p in corning.pages], corning.name)
    # The cover: "For the quarterly period ended June 30, 2023"
    assert profile == ReportProfile("Corning Incorporated", "10-Q", "2023Q2", "2023-06-30")
    assert report_title(profile) == "Corning Incorporated 10-Q 2023Q2"


def test_10k_profile(mmm: Document) -> None:
    assert detect_kind(mmm) == "report"
    profile = report_profile([p.text for p in mmm.pages], "excerpt.pdf")
    assert profile == ReportProfile("3M Company", "10-K", "FY2018", "2018-12-31")


def test_profile_states_only_what_the_cover_says() -> None:
    assert report_profile(["Minutes of the board meeting"]) == ReportProfile()
    release = report_profile(
        ["Acme Corp Reports Second Quarter 2023 Results\nFor the quarter ended July 2, 2023"]
    )
    assert release.form == "earnings release"
    assert (release.fiscal_period, release.period_end) == ("2023Q2", "2023-07-02")


def test_boilerplate_labels_on_corning(corning: Document, report_chunker: Chunker) -> None:
    chunks = report_chunker.chunk(corning, "doc", "t")
    tables = extract_tables(corning.pages)
    out = label_report_chunks(
        corning, chunks, tables, report_chunker.counter, report_chunker.max_tokens
    )
    labels: dict[int, set[str | None]] = defaultdict(set)
    for c in out:
        labels[c.page].add(c.boilerplate)
        assert corning.pages[c.page - 1].text[c.start : c.end] == c.body
    assert labels[1] == {"cover"}  # the cover page and its check boxes
    assert labels[2] == {"index"}
    assert "see-notes" in labels[3]  # "The accompanying notes are an integral part ..."
    assert "signatures" in labels[43]
    assert labels[44] >= {"certification"}
    assert None not in labels[45]
    assert "safe-harbour" in labels[38]
    content = [c for c in out if 23 <= c.page <= 37]  # management's discussion
    assert sum(c.boilerplate is None for c in content) >= 0.9 * len(content)


def test_boilerplate_label_rules() -> None:
    assert boilerplate_label("See accompanying Notes to Consolidated Financial Statements.") == (
        "see-notes"
    )
    assert (
        boilerplate_label(
            "Refer to Note 14 in the accompanying notes to the consolidated financial statements."
        )
        is None
    )
    assert boilerplate_label("I, Wendell P. Weeks, certify that:") == "certification"
    assert (
        boilerplate_label(
            "Pursuant to the requirements of the Securities Exchange Act of 1934, the registrant "
            "has duly caused this report to be signed on its behalf."
        )
        == "signatures"
    )
    assert (
        boilerplate_label(
            "This report contains forward-looking statements within the meaning of the Private "
            "Securities Litigation Reform Act of 1995."
        )
        == "safe-harbour"
    )
    assert boilerplate_label("Net sales decreased $372 million, or 10%.") is None


@pytest.mark.slow
def test_boilerplate_ranked_below_content(make_container, mmm_pdf: Path) -> None:  # type: ignore[no-untyped-def]
    container = make_container()
    (result,) = container.pipeline.ingest_paths([mmm_pdf], "acme")
    assert result.status == "indexed", result.error
    kb = container.kb
    chunks = kb.document_chunks("acme", result.document_id)
    assert {c.boilerplate for c in chunks if c.page == 1} == {"cover"}  # read back from Milvus
    assert any(c.boilerplate == "signatures" for c in chunks if c.page == 7)
    assert kb.report_profile("acme", result.document_id) == {
        "issuer": "3M Company", "form": "10-K",
        "fiscal_period": "FY2018", "period_end": "2018-12-31",
    }  # fmt: skip
    query = "Indicate by check mark whether the registrant is a large accelerated filer"
    hits = kb.search("acme", query, k=5, route=False)
    cover = [h for h in hits if h.chunk.boilerplate == "cover"]
    assert cover, "boilerplate stays searchable"
    vector = kb.embedder.embed_batch([query])[0].tolist()
    raw = kb.store.search(SearchRequest(tenant="acme", text=query, vector=vector, k=20))
    raw_score = {h.chunk.id: h.score for h in raw}
    for hit in cover:
        assert hit.score == pytest.approx(raw_score[hit.chunk.id] * BOILERPLATE_FACTOR)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
