"""The graph's SQL on both catalog backends (SQLite, PostgreSQL): save,
linking through parallel citations, name lookup, delete cascade."""

from __future__ import annotations

import hashlib

from core.types import Document, Page
from ingest.precedent import analyse_document
from knowledge_base.catalog import Catalog
from knowledge_base.citation_graph import CitationGraph
from tests.knowledge_base.test_catalog import catalog, catalog_url, postgres_server  # noqa: F401
from tests.precedents.conftest import cap_text


def _add(cat: Catalog, tenant: str, case_id: str) -> str:
    text = cap_text(case_id).read_text()
    sha = hashlib.sha256(text.encode()).hexdigest()
    record = cat.create_document(tenant, f"{case_id}.txt", sha, "text/plain")
    pages = [Page(number=1, text=text)]
    cat.save_pages(tenant, record.id, pages)
    profile, refs = analyse_document(Document(name=record.name, mime="text/plain", pages=pages))
    CitationGraph(cat).save(tenant, record.id, profile, refs)
    cat.mark_ready(tenant, record.id, 1, 1)
    return record.id


def test_graph_on_each_backend(catalog: Catalog) -> None:  # noqa: F811
    graph = CitationGraph(catalog)
    carter = _add(catalog, "t1", "32044078577194_0007")
    askins = _add(catalog, "t1", "32044078577194_0082")
    hits = graph.cited_by("t1", "701 S.W.2d 374")
    assert {h.document_id for h in hits} == {askins}
    assert all(h.linked_document_id == carter for h in hits if h.form == "full")
    assert graph.cited_by_name("t1", "marshall")  # case-insensitive name lookup
    assert graph.filter_documents("t1", court="ark", decided_from="1986-03") == [askins]
    assert graph.cited_by("t2", "701 S.W.2d 374") == []
    catalog.delete_document("t1", askins)  # the rows cascade with the document
    assert graph.cited_by("t1", "701 S.W.2d 374") == []
    assert graph.profile("t1", askins) is None
    assert graph.profile("t1", carter) is not None
