"""The citation graph through the real pipeline: real CAP opinions, real
Milvus Lite, the real embedder."""

from __future__ import annotations

import pytest

from knowledge_base.citation_graph import CitationGraph
from tests.precedents.conftest import cap_text

pytestmark = pytest.mark.slow


def _doc_id(container, name: str, tenant: str = "t1") -> str:  # type: ignore[no-untyped-def]
    return next(d.id for d in container.kb.list_documents(tenant) if d.name == name)


def test_internal_edge_found_from_both_ends_and_delete_removes_it(ingested) -> None:  # type: ignore[no-untyped-def]
    c = ingested(cap_text("32044078577194_0007"), cap_text("32044078577194_0082"))
    graph = CitationGraph(c.kb.catalog)
    carter = _doc_id(c, "32044078577194_0007.txt")
    citing = _doc_id(c, "32044078577194_0082.txt")
    assert "701 S.W.2d 374" in graph.profile("t1", carter).own_citations
    # From the citing end: the authority links to the ingested opinion.
    out = graph.citations("t1", citing)
    edge = next(r for r in out if r.authority == "288 Ark. 37")
    assert edge.linked_document_id == carter
    assert edge.parallels == ["701 S.W.2d 374"]
    page = c.kb.page_text("t1", citing, edge.page)
    assert page[edge.start : edge.end] == edge.text == "288 Ark. 37"
    assert edge.treatment == "followed"
    assert "we held clearly" in edge.sentence
    # From the cited end: by either parallel citation.
    for query in ("288 Ark. 37", "701 S.W.2d 374"):
        hits = graph.cited_by("t1", query)
        assert {h.document_id for h in hits} == {citing}, query
    # Re-ingesting the same bytes changes nothing.
    before = [r.model_dump() for r in graph.citations("t1", citing)]
    c.pipeline.ingest_paths([cap_text("32044078577194_0082")], "t1")
    assert [r.model_dump() for r in graph.citations("t1", citing)] == before
    # Deleting the citing opinion removes its edges and the "cited by" entry.
    c.kb.delete_document("t1", citing)
    assert graph.cited_by("t1", "288 Ark. 37") == []
    assert "288 Ark. 37" not in {a["authority"] for a in graph.authorities("t1", top=50)}
    # Deleting the cited one unlinks: the citing side is gone already; its profile too.
    c.kb.delete_document("t1", carter)
    assert graph.profile("t1", carter) is None


def test_graph_is_per_tenant(ingested, make_container) -> None:  # type: ignore[no-untyped-def]
    c = ingested(cap_text("32044078577194_0082"), tenant="court-a")
    graph = CitationGraph(c.kb.catalog)
    assert graph.cited_by("court-a", "288 Ark. 37")
    assert graph.cited_by("court-b", "288 Ark. 37") == []
    assert graph.authorities("court-b") == []
    doc = _doc_id(c, "32044078577194_0082.txt", "court-a")
    from core.errors import NotFoundError

    with pytest.raises(NotFoundError):
        graph.citations("court-b", doc)


def test_dissent_chunks_are_labelled(ingested) -> None:  # type: ignore[no-untyped-def]
    c = ingested(cap_text("32044078577194_0006"))
    doc = _doc_id(c, "32044078577194_0006.txt")
    profile = CitationGraph(c.kb.catalog).profile("t1", doc)
    assert profile.kind == "opinion"
    assert profile.author == "Steele Hays"
    assert [p.part for p in profile.parts] == ["caption", "majority", "dissent"]
    chunks = c.kb.document_chunks("t1", doc)
    dissent = [ch for ch in chunks if ch.heading_path[:1] == ["Dissent (Darrell Hickman)"]]
    assert dissent
    assert "should not be overruled" in " ".join(ch.body for ch in dissent)
    assert all(
        ch.heading_path[0].startswith(("Opinion of the Court", "Caption"))
        for ch in chunks
        if ch not in dissent
    )
    page = c.kb.page_text("t1", doc, 1)
    assert all(page[ch.start : ch.end] == ch.body for ch in chunks)
    # The dissent's "should not be overruled" is not an overruling.
    paulsen = [
        r for r in CitationGraph(c.kb.catalog).citations("t1", doc) if r.authority == "269 Ark. 523"
    ]
    assert [r.part for r in paulsen] == ["majority", "dissent"]
    assert paulsen[0].treatment == "overruled"
    assert paulsen[1].treatment == "cited"
