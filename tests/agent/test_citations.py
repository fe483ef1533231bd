"""The citation checker against real stored pages (real catalog, real CUAD text)."""

from __future__ import annotations

import pytest

from agent.citations import CitationChecker, attach_by_overlap, citation_for
from core.types import Citation
from tests.agent.conftest import TENANT
from tools.retrieval import Evidence

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def contract(cuad_container):  # type: ignore[no-untyped-def]
    kb = cuad_container.kb
    record = next(d for d in kb.list_documents(TENANT) if d.name.startswith("GAINSCO"))
    return kb, record


def _page_with(kb, record, needle: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    for page in range(1, record.pages + 1):
        text = kb.page_text(TENANT, record.id, page)
        if needle in " ".join(text.split()):
            return page, text
    raise AssertionError(f"{needle!r} not in {record.name}")


def _citation(record, page: int, quote: str) -> Citation:  # type: ignore[no-untyped-def]
    return Citation(n=1, document_id=record.id, document=record.name, page=page, quote=quote)


def test_verbatim_quote_verifies(contract) -> None:  # type: ignore[no-untyped-def]
    kb, record = contract
    page, text = _page_with(kb, record, "internal laws of the State of Texas")
    start = text.find("Texas")
    quote = text[max(0, start - 60) : start + 5]
    checked, reason = CitationChecker(kb, TENANT).check(_citation(record, page, quote))
    assert reason is None
    assert checked.verified


def test_whitespace_differences_are_ignored(contract) -> None:  # type: ignore[no-untyped-def]
    kb, record = contract
    page, _ = _page_with(kb, record, "internal laws of the State of Texas")
    quote = "internal   laws\nof the\tState of Texas"
    checked, reason = CitationChecker(kb, TENANT).check(_citation(record, page, quote))
    assert reason is None
    assert checked.verified


def test_changed_words_and_wrong_page_are_dropped(contract) -> None:  # type: ignore[no-untyped-def]
    kb, record = contract
    page, _ = _page_with(kb, record, "internal laws of the State of Texas")
    checker = CitationChecker(kb, TENANT)
    altered = _citation(record, page, "internal laws of the State of Delaware")
    wrong_page = _citation(record, page + 1 if page < record.pages else page - 1,
                           "internal laws of the State of Texas")  # fmt: skip
    missing_page = _citation(record, record.pages + 5, "internal laws")
    other_doc = Citation(n=2, document_id="0" * 32, document="x.pdf", page=1, quote="laws")
    verified, dropped = checker.check_all([altered, wrong_page, missing_page, other_doc])
    assert verified == []
    assert [c.verified for c, _ in dropped] == [False] * 4
    assert "not found on page" in dropped[0][1]
    assert "not found" in dropped[2][1]


def test_other_tenants_pages_are_invisible(contract) -> None:  # type: ignore[no-untyped-def]
    kb, record = contract
    page, _ = _page_with(kb, record, "internal laws of the State of Texas")
    checked, reason = CitationChecker(kb, "someone-else").check(
        _citation(record, page, "internal laws of the State of Texas")
    )
    assert not checked.verified
    assert reason is not None


def test_overlap_attached_citations_quote_the_chunk_verbatim(contract) -> None:  # type: ignore[no-untyped-def]
    kb, _record = contract
    hits = kb.search(TENANT, "governing law of the agreement", k=4)
    evidence = [Evidence.from_chunk(i, h.chunk, h.score) for i, h in enumerate(hits, start=1)]
    answer = "The agreement is governed by the internal laws of the State of Texas."
    used = attach_by_overlap(answer, evidence)
    assert used, "the Texas passage shares most of the answer's words"
    checker = CitationChecker(kb, TENANT)
    for item in used:
        citation = citation_for(item, answer)
        assert citation.quote in item.quote
        assert checker.check(citation)[0].verified
