"""Query-focused excerpts of evidence for the short planner-mode prompt
(real CUAD contract text)."""

from __future__ import annotations

from pathlib import Path

from tools.retrieval import Evidence, excerpt, format_evidence

CUAD_TXT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cuad-dev" / "txt"
CONTRACT = CUAD_TXT / "ACCURAYINC_09_01_2010-EX-10.31-DISTRIBUTOR AGREEMENT.txt"


def _passage(term: str, before: int = 900, after: int = 300) -> str:
    text = " ".join(CONTRACT.read_text(encoding="utf-8", errors="replace").split())
    i = text.lower().index(term)
    return text[max(0, i - before) : i + after]


def _core(cut: str) -> str:
    return cut.removeprefix("… ").removesuffix(" …")


def test_excerpt_keeps_the_sentences_that_answer_the_question() -> None:
    body = _passage("governed by")
    cut = excerpt(body, 320, "Which law governs the agreement?")
    assert len(_core(cut)) <= 320
    assert "governed by" in cut
    assert "governed by" not in body[:320]  # the plain prefix would have lost it
    assert _core(cut) in body  # verbatim text, whole sentences
    assert cut.startswith("… ")


def test_excerpt_without_focus_or_match_is_the_start() -> None:
    body = _passage("governed by")
    for focus in (None, "zebra xylophone"):
        cut = excerpt(body, 320, focus)
        assert cut.endswith(" …")
        assert body.startswith(_core(cut))
    assert excerpt("Short text.", 320, "law") == "Short text."


def test_format_evidence_cuts_each_passage_around_the_focus() -> None:
    body = _passage("governed by")
    item = Evidence(
        n=1, chunk_id="c1", document_id="d1", document="Accuray.pdf", page=7, quote=body,
        start=0, end=len(body),
    )  # fmt: skip
    short = format_evidence([item], max_chars=320, focus="governing law")
    assert "governed by" in short
    assert len(short) < len(format_evidence([item]))
    assert short.startswith('<evidence n="1" document="Accuray.pdf" page="7">')


def test_brief_headers_keep_the_page_and_the_innermost_section() -> None:
    item = Evidence(
        n=2, chunk_id="c2", document_id="d2", document="MetLife - Remarketing Agreement.PDF",
        page=31, heading_path=["15. MISCELLANEOUS", "15.3 Governing Law"],
        quote="This Agreement is governed by the laws of New York.", start=0, end=52,
    )  # fmt: skip
    full = format_evidence([item])
    brief = format_evidence([item], brief=True)
    assert 'section="15. MISCELLANEOUS &gt; 15.3 Governing Law"' in full
    assert brief.startswith('<evidence n="2" page="31" section="15.3 Governing Law">')
