"""KnowledgeBase.document_vectors keeps recently read documents in memory, and
never serves a document the catalog no longer has READY (real pipeline, Milvus
Lite, the sample contract)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import NotFoundError

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "master-services-agreement.pdf"
TENANT = "acme"


@pytest.fixture
def container(tmp_path: Path, st_embedder: Any) -> Iterator[Any]:
    from api.container import Container
    from core.settings import load_settings

    settings = load_settings(data_dir=tmp_path / "kb", tenant=TENANT)
    container = Container(settings, embedder=st_embedder)
    yield container
    container.close()


def test_second_read_comes_from_memory_until_the_document_is_deleted(container: Any) -> None:
    result = container.pipeline.ingest_file(SAMPLE, TENANT)
    assert result.status == "indexed", result.error
    kb, doc = container.kb, result.document_id
    chunks, vectors = kb.document_vectors(TENANT, doc)
    assert len(chunks) == result.chunks == vectors.shape[0]
    assert not vectors.flags.writeable  # shared between callers: read-only
    # Remove the rows behind the knowledge base's back: a cached read still has them.
    kb.store.delete_documents(TENANT, [doc])
    again, same = kb.document_vectors(TENANT, doc)
    assert [c.id for c in again] == [c.id for c in chunks]
    np.testing.assert_array_equal(same, vectors)
    again.clear()  # callers get their own list
    assert len(kb.document_vectors(TENANT, doc)[0]) == len(chunks)
    # Other tenants are refused before the cache is consulted.
    with pytest.raises(NotFoundError):
        kb.document_vectors("other", doc)
    kb.delete_document(TENANT, doc)
    with pytest.raises(NotFoundError):
        kb.document_vectors(TENANT, doc)
    assert not kb._documents
