"""The seams of the knowledge base: what an embedder and a vector store promise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, Field

from core.types import Chunk, Hit, SearchMode

__all__ = ["Embedder", "SearchRequest", "VectorStore"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors.

    ``embed_batch`` is the one required method: it returns a float32 array of
    shape ``(len(texts), dimension)``, row *i* for ``texts[i]``, whatever
    order it computes them in. Empty input gives shape ``(0, dimension)``.
    """

    @property
    def dimension(self) -> int: ...

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray: ...


class SearchRequest(BaseModel):
    tenant: str
    text: str
    vector: list[float] | None = None  # required for dense and hybrid
    k: int = 8
    mode: SearchMode = "hybrid"
    document_ids: list[str] | None = None  # restrict to these documents
    exclude_document_ids: list[str] = Field(default_factory=list)


@runtime_checkable
class VectorStore(Protocol):
    """Chunk storage with dense, BM25 and hybrid (RRF) search.

    - ``upsert``: idempotent on ``Chunk.id``; writing the same chunks twice
      leaves one copy. Raises ``KnowledgeBaseError`` on backend failure.
    - ``search``: always filtered by ``request.tenant``: a caller cannot get
      another tenant's chunks. Results best first; ``Hit.score`` higher is better.
    - ``delete_documents``: removes every chunk of those documents of that
      tenant; deleting what is not there is not an error.
    - ``count``: number of chunks for the tenant (optionally one document).
    - ``document_chunks``: every chunk of one document of that tenant, in
      ``ordinal`` order (reviews and summaries walk a whole document).
    """

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    def search(self, request: SearchRequest) -> list[Hit]: ...

    def delete_documents(self, tenant: str, document_ids: Sequence[str]) -> None: ...

    def count(self, tenant: str, document_id: str | None = None) -> int: ...

    def flush(self) -> None: ...

    def document_chunks(self, tenant: str, document_id: str) -> list[Chunk]: ...

    def document_vectors(self, tenant: str, document_id: str) -> tuple[list[Chunk], np.ndarray]: ...

    def close(self) -> None: ...
