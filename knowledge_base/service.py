"""The knowledge base facade: the one object the upper layers talk to.

It combines the embedder, the vector store and the catalog and adds the rules
none of them knows alone: only READY documents are searchable, every call is
scoped to a tenant, and deleting a document removes its chunks, pages and file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from core.errors import DossierError, NotFoundError
from core.types import Chunk, DocumentRecord, DocumentStatus, Hit, Page, SearchMode
from knowledge_base.catalog import Catalog
from knowledge_base.protocols import Embedder, SearchRequest, VectorStore
from knowledge_base.report_tables import ReportStore
from knowledge_base.routing import HEADER_CHARS, DocumentRouter, split_reference

__all__ = ["KnowledgeBase"]

log = logging.getLogger(__name__)

#: Chunks (with vectors) of recently reviewed documents kept in memory: ~1.7 KB
#: of vector plus the text per chunk, so about 60 MB at most.
DOCUMENT_CACHE_CHUNKS = 20_000
#: Score factor of a boilerplate hit (see ``KnowledgeBase._demote_boilerplate``).
BOILERPLATE_FACTOR = 0.5


class KnowledgeBase:
    def __init__(self, embedder: Embedder, store: VectorStore, catalog: Catalog) -> None:
        self.embedder = embedder
        self.store = store
        self.catalog = catalog
        self._openings: dict[str, str] = {}  # document id -> name + opening text
        self._routers: dict[str, tuple[frozenset[str], DocumentRouter]] = {}
        self._router_lock = threading.Lock()
        # (tenant, document id, updated_at) -> chunks and vectors of a READY
        # document. A READY document's chunks never change (new bytes make a
        # new document); the catalog is read on every call, so a deleted or
        # re-processed document is never served from here.
        self._documents: OrderedDict[tuple[str, str, str], tuple[list[Chunk], np.ndarray]] = (
            OrderedDict()
        )
        self._documents_chunks = 0
        self._documents_lock = threading.Lock()

    # -- search ---------------------------------------------------------------
    def search(
        self,
        tenant: str,
        query: str,
        *,
        k: int = 8,
        mode: SearchMode = "hybrid",
        document_ids: Sequence[str] | None = None,
        route: bool = True,
    ) -> list[Hit]:
        """Best-first hits among the tenant's READY documents.

        ``document_ids`` restricts the search; ids of documents that are not
        ready (still indexing, failed, superseded) are always excluded, so a
        half-written document is never visible.

        Without ``document_ids`` and with ``route``, a query that clearly names
        one document ("Consider the Acme Supply Agreement; what is the term?")
        is routed to it (:mod:`knowledge_base.routing`) and searched with the
        question alone, so other contracts' boilerplate cannot crowd it out.
        """
        query = query.strip()
        if not query or k <= 0:
            return []
        t0 = time.perf_counter()
        if document_ids is None and route:
            routed = self.router(tenant).route(query)
            if routed is not None:
                document_ids = routed
                query = split_reference(query)[1] or query
        vector = None
        if mode in ("dense", "hybrid"):
            vector = self.embedder.embed_batch([query])[0].tolist()
        request = SearchRequest(
            tenant=tenant,
            text=query,
            vector=vector,
            k=k,
            mode=mode,
            document_ids=list(document_ids) if document_ids is not None else None,
            exclude_document_ids=self.catalog.unready_document_ids(tenant),
        )
        if request.document_ids is not None:
            allowed = set(request.document_ids) - set(request.exclude_document_ids)
            if not allowed:
                return []
            request.document_ids = sorted(allowed)
            request.exclude_document_ids = []
        hits = self._demote_boilerplate(request, self.store.search(request))
        for rank, hit in enumerate(hits, start=1):
            hit.rank = rank
        log.debug(
            "kb.search tenant=%s mode=%s k=%d hits=%d ms=%.1f",
            tenant,
            mode,
            k,
            len(hits),
            (time.perf_counter() - t0) * 1000,
        )
        return hits

    def _demote_boilerplate(self, request: SearchRequest, hits: list[Hit]) -> list[Hit]:
        """Boilerplate of reports (cover, index, signatures, ...: ``Chunk.boilerplate``)
        stays findable but ranks below content: its score is multiplied by
        :data:`BOILERPLATE_FACTOR`. When the top k hold boilerplate, the store
        is asked once more for as many extra hits, so content can take their
        places (a corpus without boilerplate is searched once, as before)."""
        n = sum(h.chunk.boilerplate is not None for h in hits)
        if n == 0:
            return hits
        k = request.k
        wider = self.store.search(request.model_copy(update={"k": k + 2 * n}))
        for hit in wider:
            if hit.chunk.boilerplate is not None:
                hit.score *= BOILERPLATE_FACTOR
        wider.sort(key=lambda h: -h.score)
        return wider[:k]

    def router(self, tenant: str) -> DocumentRouter:
        """The tenant's document router, rebuilt when its READY set changes
        (openings are read once per document and cached; reports' profiles
        give their filings' issuer, form and period)."""
        ready = [d for d in self.catalog.list_documents(tenant) if d.status is DocumentStatus.READY]
        key = frozenset(d.id for d in ready)
        with self._router_lock:
            cached = self._routers.get(tenant)
            if cached is not None and cached[0] == key:
                return cached[1]
        openings = {d.id: self._opening(tenant, d) for d in ready}
        # A report's profile (issuer, form, fiscal period read at ingest) names
        # the filing better than the opening's first lines do.
        profiles = {
            doc: p.to_json() for doc, p in ReportStore(self.catalog).profiles(tenant).items()
        }
        router = DocumentRouter(openings, profiles=profiles)
        with self._router_lock:
            self._routers[tenant] = (key, router)
        return router

    def _opening(self, tenant: str, record: DocumentRecord) -> str:
        cached = self._openings.get(record.id)
        if cached is None:
            text = ""
            for page in range(1, max(record.pages, 1) + 1):
                if len(text) >= HEADER_CHARS:
                    break
                text += "\n" + self.catalog.page_text(tenant, record.id, page)
            cached = self._openings[record.id] = f"{record.name}\n{text[:HEADER_CHARS]}"
        return cached

    # -- documents ------------------------------------------------------------
    def list_documents(self, tenant: str) -> list[DocumentRecord]:
        return self.catalog.list_documents(tenant)

    def get_document(self, tenant: str, document_id: str) -> DocumentRecord:
        return self.catalog.get_document(tenant, document_id)

    def page_text(self, tenant: str, document_id: str, page: int) -> str:
        return self.catalog.page_text(tenant, document_id, page)

    def pages(self, tenant: str, document_id: str) -> list[Page]:
        """Every stored page of the document, in order (one catalog query)."""
        return self.catalog.pages(tenant, document_id)

    def report_profile(self, tenant: str, document_id: str) -> dict[str, str | None] | None:
        """A report's issuer, form, fiscal period and period end (None for a
        document that is not a report); NotFoundError for an unknown id."""
        self.catalog.get_document(tenant, document_id)
        profile = ReportStore(self.catalog).profile(tenant, document_id)
        return None if profile is None else profile.to_json()

    def tables(
        self, tenant: str, document_id: str, page: int | None = None
    ) -> list[dict[str, object]]:
        """The document's tables (``ReportTable.to_json()`` each), in page
        order, only page ``page`` when given; NotFoundError for an unknown id."""
        self.catalog.get_document(tenant, document_id)
        return [t.to_json() for t in ReportStore(self.catalog).tables(tenant, document_id, page)]

    def document_chunks(self, tenant: str, document_id: str) -> list[Chunk]:
        self._require_ready(tenant, document_id)
        return self.store.document_chunks(tenant, document_id)

    def document_vectors(self, tenant: str, document_id: str) -> tuple[list[Chunk], np.ndarray]:
        """:meth:`document_chunks` with their stored dense vectors (row i: chunk i).

        Served from memory for a recently read document (a review, then
        follow-up questions about the same contract): a Milvus Lite query
        scans every row of the collection, 16 ms typically and 130-200 ms
        now and then over 11,861 rows. The vectors array is read-only.
        """
        record = self._require_ready(tenant, document_id)
        key = (tenant, document_id, str(record.updated_at))
        with self._documents_lock:
            cached = self._documents.get(key)
            if cached is not None:
                self._documents.move_to_end(key)
                return list(cached[0]), cached[1]
        chunks, vectors = self.store.document_vectors(tenant, document_id)
        vectors.setflags(write=False)
        if len(chunks) <= DOCUMENT_CACHE_CHUNKS // 4:
            with self._documents_lock:
                if key not in self._documents:
                    self._documents[key] = (chunks, vectors)
                    self._documents_chunks += len(chunks)
                while self._documents_chunks > DOCUMENT_CACHE_CHUNKS:
                    _, (old, _) = self._documents.popitem(last=False)
                    self._documents_chunks -= len(old)
        return list(chunks), vectors

    def _forget_document(self, tenant: str, document_id: str) -> None:
        with self._documents_lock:
            for key in [k for k in self._documents if k[:2] == (tenant, document_id)]:
                self._documents_chunks -= len(self._documents.pop(key)[0])

    def _require_ready(self, tenant: str, document_id: str) -> DocumentRecord:
        record = self.catalog.get_document(tenant, document_id)
        if record.status is not DocumentStatus.READY:
            raise NotFoundError(f"document {document_id} is not ready ({record.status})")
        return record

    def delete_document(self, tenant: str, document_id: str) -> None:
        """Remove chunks first, then the catalog row: a crash in between leaves
        a catalog row with no chunks (harmless, deletable again), never
        orphaned searchable chunks."""
        self.catalog.get_document(tenant, document_id)  # NotFoundError for others
        self._forget_document(tenant, document_id)
        self.store.delete_documents(tenant, [document_id])
        self.catalog.delete_document(tenant, document_id)
        log.info("kb.document_deleted tenant=%s doc=%s", tenant, document_id)

    def flush(self) -> None:
        """Make recent writes fast to search (see ``MilvusVectorStore.flush``);
        a failure is logged, never raised: the rows are searchable anyway."""
        try:
            self.store.flush()
        except DossierError as exc:
            log.warning("kb.flush_failed error=%s", exc)

    def close(self) -> None:
        self.store.close()
        self.catalog.close()
