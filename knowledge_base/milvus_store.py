"""Milvus chunk storage: the :class:`~knowledge_base.protocols.VectorStore` adapter.

One collection holds every tenant's chunks; ``tenant`` is the partition key, and
every search, query, count and delete is filtered by it in one place
(:meth:`MilvusVectorStore._filter`), so no call path can forget it.

- ``uri`` ending in ``.db``: Milvus Lite, embedded (the ``.db`` path is a
  directory; its parents are created). One process per ``.db``: several
  processes share one through ``milvus-lite server --host 127.0.0.1 --port P``
  and the URI ``http://127.0.0.1:P``.
- ``http://host:19530``: a Milvus server; the same code.

Search modes: ``dense`` (cosine over ``dense``), ``bm25`` (BM25 over ``sparse``,
which a BM25 Function fills from ``text`` server-side), and ``hybrid`` (both
legs fused with reciprocal-rank fusion). ``Hit.score`` is higher-is-better in
every mode: cosine similarity, the BM25 score (Milvus returns it negated; it is
flipped back), or the RRF score. ``Hit.rank`` is 1-based.

Milvus Lite does not support ``filter_params`` templating, so filter strings are
built here and every string value goes through :func:`_quote`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from pymilvus import (
    DataType,
    Function,
    FunctionType,
    MilvusClient,
)
from pymilvus.exceptions import MilvusException

from core.errors import KnowledgeBaseError
from core.types import Chunk, Hit
from knowledge_base.exact_search import EXACT_MAX_ROWS, rank_cosine
from knowledge_base.lexical import STOP_WORDS, bm25_terms
from knowledge_base.protocols import SearchRequest

__all__ = ["MilvusVectorStore"]

logger = logging.getLogger(__name__)

# fmt: off
#: VARCHAR limits (Milvus counts UTF-8 bytes).
_LIMITS = {
    "id": 64, "tenant": 256, "document_id": 256, "document_name": 1024, "heading_path": 8192,
    "clause_number": 256, "kind": 32, "body": 65535, "text": 65535, "terms": 65535,
}
_SCALAR_FIELDS = (
    "id", "tenant", "document_id", "document_name", "page", "start", "end", "ordinal",
    "heading_path", "clause_number", "kind", "body", "text",
)
# fmt: on
HEADING_SEPARATOR = " > "
_ANALYZER = {
    "tokenizer": "standard",
    "filter": ["lowercase", {"type": "stop", "stop_words": sorted(STOP_WORDS)}],
}
_UPSERT_BATCH = 500
#: Open stores per Milvus Lite path in this process (the embedded server is
#: shared by path and stopped when the last one closes).
_LITE_USERS: Counter[str] = Counter()
_LITE_LOCK = threading.Lock()
_QUERY_BATCH = 1000
_DELETE_BATCH = 500
_MAX_LIMIT = 16_384  # Milvus's topk / limit ceiling
_HNSW_BUILD = {"M": 16, "efConstruction": 200}


def _quote(value: str) -> str:
    """A Milvus filter string literal: double-quoted, with backslash and double
    quote escaped, so a value can never end the literal and inject an expression."""
    if not isinstance(value, str):
        raise TypeError(f"filter value must be str, not {type(value).__name__}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_quote(v) for v in values) + "]"


def _redact(uri: str) -> str:
    """The URI without any user:password part (safe to log and raise)."""
    parts = urlsplit(uri)
    if parts.scheme and parts.password is not None:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return parts._replace(netloc=netloc).geturl()
    return uri


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_LITE_GRPC_OPTIONS = {
    "grpc.keepalive_time_ms": 2**31 - 1,
    "grpc.keepalive_permit_without_calls": False,
}


class MilvusVectorStore:
    """Chunks in one Milvus collection, dense + BM25 + hybrid search.

    Implements :class:`knowledge_base.protocols.VectorStore`:

    - ``upsert``: idempotent on ``Chunk.id`` (Milvus ``upsert``, batches of 500);
      a row that exists is replaced. Rows are visible to the next search.
    - ``search``: filtered by tenant (and ``document_ids`` /
      ``exclude_document_ids``); ``document_ids=[]`` restricts to nothing.
    - ``delete_documents``, ``count``, ``document_chunks``: tenant-scoped.

    Every backend failure raises :class:`~core.errors.KnowledgeBaseError`
    naming the operation and the collection; bad input (vector count or
    dimension mismatch, an over-long field) raises it too, naming the chunk.
    """

    def __init__(
        self,
        uri: str,
        collection: str = "dossier_chunks",
        dimension: int = 384,
        token: str | None = None,
        rrf_k: int = 10,
        bm25_weight: float = 1.0,
        dense_weight: float = 1.0,
    ) -> None:
        self._uri = uri
        self._collection = collection
        self._dimension = dimension
        self._rrf_k = rrf_k
        self._bm25_weight = bm25_weight
        self._dense_weight = dense_weight
        options: dict[str, object] = {}
        if uri.endswith(".db") and "://" not in uri:
            # Milvus Lite serves gRPC in-process with gRPC's default ping policy
            # (at most one ping per 5 minutes without data); pymilvus pings an
            # idle channel every 10 s, so after ~30 s idle the server sends
            # GOAWAY "too_many_pings" and the reconnect fails. Keep-alive is
            # useless on loopback: turn it off for Lite (and below for any
            # loopback server, e.g. `milvus-lite server`, same policy).
            options["grpc_options"] = _LITE_GRPC_OPTIONS
            try:
                Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise KnowledgeBaseError(
                    f"{uri}: cannot create the Milvus Lite folder: {exc}"
                ) from exc
            uri = str(Path(uri).expanduser())
            self._lite_path: str | None = os.path.abspath(uri)
        else:
            self._lite_path = None
            if urlsplit(uri).hostname in _LOOPBACK:
                options["grpc_options"] = _LITE_GRPC_OPTIONS
        with self._translate("connect"):
            self._client = MilvusClient(uri=uri, token=token or "", **options)
        if self._lite_path is not None:
            with _LITE_LOCK:
                _LITE_USERS[self._lite_path] += 1
        self._ensure_collection()

    # ----------------------------------------------------------------- public

    @property
    def collection(self) -> str:
        return self._collection

    @property
    def dimension(self) -> int:
        return self._dimension

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Insert or replace ``chunks`` (row *i* of ``vectors`` for ``chunks[i]``)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(chunks):
            raise KnowledgeBaseError(
                f"upsert: {len(chunks)} chunks but vectors of shape {vectors.shape}"
            )
        if len(chunks) and vectors.shape[1] != self._dimension:
            raise KnowledgeBaseError(
                f"upsert: vectors have dimension {vectors.shape[1]}, "
                f"collection {self._collection} expects {self._dimension}"
            )
        if not np.isfinite(vectors).all():
            raise KnowledgeBaseError("upsert: vectors contain NaN or infinity")
        started = time.perf_counter()
        rows = [
            self._row(chunk, vector) for chunk, vector in zip(chunks, vectors.tolist(), strict=True)
        ]
        for i in range(0, len(rows), _UPSERT_BATCH):
            with self._translate("upsert"):
                self._client.upsert(self._collection, rows[i : i + _UPSERT_BATCH])
        logger.debug(
            "milvus.upsert collection=%s rows=%d ms=%.1f",
            self._collection,
            len(rows),
            (time.perf_counter() - started) * 1000,
        )

    def search(self, request: SearchRequest) -> list[Hit]:
        """Best ``request.k`` chunks of ``request.tenant``, best first.

        ``hybrid`` with blank text is a dense search; ``bm25`` with blank text
        (or only stop words) finds nothing. Dense and hybrid need
        ``request.vector`` of the collection's dimension.
        """
        mode = request.mode
        if mode not in ("dense", "bm25", "hybrid"):
            raise KnowledgeBaseError(f"unknown search mode {mode!r}")
        if mode != "bm25" and len(request.vector or ()) != self._dimension:
            raise KnowledgeBaseError(
                f"{mode} search needs request.vector of dimension {self._dimension}, "
                f"got {len(request.vector) if request.vector is not None else 'no vector'}"
            )
        terms = bm25_terms(request.text)
        has_text = bool(terms)
        if request.k <= 0 or request.document_ids == [] or (mode == "bm25" and not has_text):
            return []
        k = min(request.k, _MAX_LIMIT)
        expr = self._filter(request.tenant, request.document_ids, request.exclude_document_ids)
        # A search restricted to documents ranks their vectors exactly (see
        # knowledge_base.exact_search): filtered HNSW search loses rows.
        exact = request.document_ids is not None
        started = time.perf_counter()
        if mode == "hybrid" and has_text:
            # Weighted reciprocal-rank fusion, done here rather than with
            # Milvus' RRFRanker (which has no weights) so Lite and a server
            # rank identically: score = sum_leg w_leg / (rrf_k + rank_leg).
            # The pool does not depend on k (up to 64), so top-k is a prefix of
            # top-64 and the retrieval eval can ask once; 256 vs 50 also
            # lifted recall@1 on the dev queries (0.31 -> 0.36 on 300).
            candidates = min(max(k * 4, 256), _MAX_LIMIT)
            fused: dict[str, float] = {}
            for field, data, weight in (
                ("dense", request.vector, self._dense_weight),
                ("sparse", terms, self._bm25_weight),
            ):
                # Legs return ids only; the k winners' fields are fetched once.
                legs = self._search_leg(field, data, expr, candidates, ("id",), exact=exact)
                for rank, row in enumerate(legs, 1):
                    key = row.get("entity", row)["id"]
                    fused[key] = fused.get(key, 0.0) + weight / (self._rrf_k + rank)
            best = sorted(fused, key=lambda key: -fused[key])[:k]
            rows = self._rows(best)
            hits = [
                Hit(chunk=self._chunk(rows[key]), score=fused[key], rank=n)
                for n, key in enumerate((key for key in best if key in rows), 1)
            ]
            logger.debug(
                "milvus.search mode=hybrid k=%d hits=%d ms=%.1f",
                k,
                len(hits),
                (time.perf_counter() - started) * 1000,
            )
            return hits
        field, data = ("sparse", terms) if mode == "bm25" else ("dense", request.vector)
        results = self._search_leg(field, data, expr, k, exact=exact)
        # Milvus returns BM25 scores negated (smaller is better): flip them.
        sign = -1.0 if mode == "bm25" else 1.0
        hits = [
            Hit(chunk=self._chunk(r), score=sign * float(r["distance"]), rank=n)
            for n, r in enumerate(results, 1)
        ]
        logger.debug(
            "milvus.search collection=%s mode=%s k=%d hits=%d ms=%.1f",
            self._collection,
            mode,
            k,
            len(hits),
            (time.perf_counter() - started) * 1000,
        )
        return hits

    def _search_leg(
        self,
        field: str,
        data: Any,
        expr: str,
        limit: int,
        fields: Sequence[str] = _SCALAR_FIELDS,
        *,
        exact: bool = False,
    ) -> list[Any]:
        """One search (dense or sparse) with the tenant filter ``expr``.

        Dense: with ``exact`` (a document-restricted search) the filtered rows
        are ranked exactly when there are at most ``EXACT_MAX_ROWS``; an index
        search that returns fewer than ``limit`` rows (the filter may have cost
        some) is redone exactly too.
        """
        ranked = self._exact_dense(data, expr, limit) if field == "dense" and exact else None
        if ranked is None:
            results = self._ann_leg(field, data, expr, limit, fields)
            if field != "dense" or len(results) >= limit or exact:
                return results
            ranked = self._exact_dense(data, expr, limit, counted=True)
            if ranked is None:
                return results
        if tuple(fields) == ("id",):
            return [{"id": key, "distance": score} for key, score in ranked]
        rows = self._rows([key for key, _ in ranked])
        return [{"id": key, "distance": score, "entity": rows[key]}
                for key, score in ranked if key in rows]  # fmt: skip

    def _exact_dense(
        self, vector: Any, expr: str, limit: int, *, counted: bool = False
    ) -> list[tuple[str, float]] | None:
        """The exact top ``limit`` of the rows matching ``expr``; None when
        more than ``EXACT_MAX_ROWS`` match (``counted``: count them first,
        rather than read up to ``EXACT_MAX_ROWS`` vectors to find out)."""
        with self._translate("query"):
            if counted:
                count = self._client.query(self._collection, filter=expr,
                                           output_fields=["count(*)"])  # fmt: skip
                if count and int(count[0]["count(*)"]) > EXACT_MAX_ROWS:
                    return None
            rows = self._client.query(
                self._collection, filter=expr, output_fields=["id", "dense"],
                limit=EXACT_MAX_ROWS + 1,
            )  # fmt: skip
        return None if len(rows) > EXACT_MAX_ROWS else rank_cosine(vector, rows, limit)

    def _ann_leg(
        self, field: str, data: Any, expr: str, limit: int, fields: Sequence[str]
    ) -> list[Any]:
        with self._translate("search"):
            response = self._client.search(
                self._collection,
                data=[data],
                anns_field=field,
                filter=expr,
                limit=limit,
                search_params=self._params(field, limit),
                output_fields=list(fields),
            )
        return list(response[0]) if response else []

    def _rows(self, ids: Sequence[str]) -> dict[str, Any]:
        """Scalar fields of the chunks ``ids`` (a chunk deleted meanwhile is absent)."""
        if not ids:
            return {}
        with self._translate("get"):
            rows = self._client.get(
                self._collection, ids=list(ids), output_fields=list(_SCALAR_FIELDS)
            )
        return {row["id"]: row for row in rows}

    def delete_documents(self, tenant: str, document_ids: Sequence[str]) -> None:
        """Remove every chunk of ``document_ids`` for ``tenant``; missing ones are fine."""
        ids = list(dict.fromkeys(document_ids))
        for i in range(0, len(ids), _DELETE_BATCH):
            expr = self._filter(tenant, ids[i : i + _DELETE_BATCH])
            with self._translate("delete"):
                self._client.delete(self._collection, filter=expr)

    def flush(self) -> None:
        """Seal the rows written so far into indexed segments. Until then Milvus
        searches them brute force: on 30 freshly ingested contracts (Lite) a
        hybrid search took 670 ms before and 110 ms after a 0.6 s flush.
        Call it after a batch of writes, not after every one."""
        started = time.perf_counter()
        with self._translate("flush"):
            self._client.flush(self._collection)
        logger.info("milvus.flush ms=%.0f", (time.perf_counter() - started) * 1000)

    def count(self, tenant: str, document_id: str | None = None) -> int:
        """Number of chunks of ``tenant`` (of one document when given)."""
        expr = self._filter(tenant, [document_id] if document_id is not None else None)
        with self._translate("count"):
            result = self._client.query(self._collection, filter=expr, output_fields=["count(*)"])
        return int(result[0]["count(*)"]) if result else 0

    def document_chunks(self, tenant: str, document_id: str) -> list[Chunk]:
        """Every chunk of one document of ``tenant``, in ``ordinal`` order."""
        return [chunk for chunk, _ in self._document_rows(tenant, document_id, vectors=False)]

    def document_vectors(self, tenant: str, document_id: str) -> tuple[list[Chunk], np.ndarray]:
        """:meth:`document_chunks` and their stored dense vectors (row i is chunk i)."""
        rows = self._document_rows(tenant, document_id, vectors=True)
        vectors = np.asarray([vector for _, vector in rows], dtype=np.float32)
        return [chunk for chunk, _ in rows], vectors.reshape(len(rows), self._dimension)

    def _document_rows(
        self, tenant: str, document_id: str, *, vectors: bool
    ) -> list[tuple[Chunk, Any]]:
        expr = self._filter(tenant, [document_id])
        fields = [*_SCALAR_FIELDS, "dense"] if vectors else list(_SCALAR_FIELDS)
        rows: list[tuple[Chunk, Any]] = []
        with self._translate("query"):
            # One query serves any document of up to _MAX_LIMIT chunks (the
            # iterator costs a scan per page: 100-300 ms vs ~40 ms for 11k rows).
            batch = self._client.query(
                self._collection, filter=expr, output_fields=fields, limit=_MAX_LIMIT
            )
            if len(batch) < _MAX_LIMIT:
                rows = [(self._chunk(row), row.get("dense")) for row in batch]
            else:
                iterator = self._client.query_iterator(
                    self._collection, batch_size=_QUERY_BATCH, filter=expr, output_fields=fields
                )
                try:
                    while batch := iterator.next():
                        rows.extend((self._chunk(row), row.get("dense")) for row in batch)
                finally:
                    iterator.close()
        rows.sort(key=lambda pair: pair[0].ordinal)
        return rows

    def close(self) -> None:
        """Release the connection; for Milvus Lite, the last store of a path in
        this process also stops the embedded server, which frees the ``.db``
        lock for another process (idempotent)."""
        try:
            self._client.close()
        except Exception as exc:  # closing must not fail a shutdown path
            logger.warning("milvus.close_failed collection=%s error=%s", self._collection, exc)
        path, self._lite_path = self._lite_path, None
        if path is None:
            return
        with _LITE_LOCK:
            _LITE_USERS[path] -= 1
            last = _LITE_USERS[path] <= 0
            if last:
                del _LITE_USERS[path]
        if last:
            try:
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(path)
            except Exception as exc:  # an old milvus-lite: freed at exit instead
                logger.warning("milvus.lite_release_failed error=%s", type(exc).__name__)

    def __enter__(self) -> MilvusVectorStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------- private

    @staticmethod
    def _filter(
        tenant: str,
        document_ids: Sequence[str] | None = None,
        exclude_document_ids: Sequence[str] = (),
    ) -> str:
        """The filter expression of every read and delete: always the tenant."""
        if not tenant:
            raise KnowledgeBaseError("a tenant is required")
        parts = [f"tenant == {_quote(tenant)}"]
        if document_ids is not None:
            parts.append(f"document_id in {_quote_list(document_ids)}")
        if exclude_document_ids:
            parts.append(f"document_id not in {_quote_list(exclude_document_ids)}")
        return " and ".join(parts)

    @staticmethod
    def _params(field: str, limit: int) -> dict[str, Any]:
        if field == "dense":  # HNSW: ef must be at least the number of results
            return {"metric_type": "COSINE", "params": {"ef": max(limit, 64)}}
        return {"metric_type": "BM25"}

    @contextlib.contextmanager
    def _translate(self, operation: str) -> Iterator[None]:
        """Re-raise backend failures as KnowledgeBaseError naming the operation."""
        try:
            yield
        except KnowledgeBaseError:
            raise
        except Exception as exc:
            backend = type(exc).__module__.split(".")[0] in {"grpc", "pymilvus", "milvus_lite"}
            if not (
                backend or isinstance(exc, (MilvusException, OSError, RuntimeError, ValueError))
            ):
                raise
            raise KnowledgeBaseError(
                f"milvus {operation} failed (collection {self._collection} at "
                f"{_redact(self._uri)}): {exc}"
            ) from exc

    def _ensure_collection(self) -> None:
        with self._translate("create_collection"):
            if self._client.has_collection(self._collection):
                self._check_existing()
            else:
                self._client.create_collection(
                    self._collection, schema=self._schema(), consistency_level="Strong"
                )
                # sync=False: the collection is empty, so there is nothing to wait
                # for; pymilvus's wait loop sleeps 0.5 s per index and calls an RPC
                # that Milvus Lite does not implement (it logs a server-side error).
                self._client.create_index(self._collection, self._index_params(), sync=False)
                logger.info(
                    "milvus.collection_created collection=%s dimension=%d",
                    self._collection,
                    self._dimension,
                )
            self._client.load_collection(self._collection)

    def _check_existing(self) -> None:
        description = self._client.describe_collection(self._collection)
        fields = {f["name"]: f for f in description.get("fields", [])}
        missing = [name for name in (*_SCALAR_FIELDS, "sparse", "dense") if name not in fields]
        if missing:
            raise KnowledgeBaseError(
                f"collection {self._collection} exists with another schema (missing {missing})"
            )
        dim = int(fields["dense"].get("params", {}).get("dim", self._dimension))
        if dim != self._dimension:
            raise KnowledgeBaseError(
                f"collection {self._collection} holds {dim}-dimensional vectors, "
                f"the embedder makes {self._dimension}: re-index into a new collection"
            )

    def _schema(self) -> Any:
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=_LIMITS["id"])
        schema.add_field(
            "tenant", DataType.VARCHAR, max_length=_LIMITS["tenant"], is_partition_key=True
        )
        for name in ("document_id", "document_name"):
            schema.add_field(name, DataType.VARCHAR, max_length=_LIMITS[name])
        for name in ("page", "start", "end", "ordinal"):
            schema.add_field(name, DataType.INT64)
        for name in ("heading_path", "clause_number", "kind", "body"):
            schema.add_field(name, DataType.VARCHAR, max_length=_LIMITS[name])
        schema.add_field("text", DataType.VARCHAR, max_length=_LIMITS["text"])
        schema.add_field(  # pre-stemmed terms (knowledge_base.lexical) for BM25
            "terms",
            DataType.VARCHAR,
            max_length=_LIMITS["terms"],
            enable_analyzer=True,
            analyzer_params=_ANALYZER,
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self._dimension)
        schema.add_function(
            Function(
                name="text_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
        return schema

    def _index_params(self) -> Any:
        params = self._client.prepare_index_params()
        params.add_index(
            field_name="dense", index_type="HNSW", metric_type="COSINE", params=_HNSW_BUILD
        )
        params.add_index(
            field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25"
        )
        return params

    @staticmethod
    def _row(chunk: Chunk, vector: list[float]) -> dict[str, Any]:
        row: dict[str, Any] = {name: getattr(chunk, name) for name in _SCALAR_FIELDS}
        row.update(
            heading_path=HEADING_SEPARATOR.join(chunk.heading_path),
            clause_number=chunk.clause_number or "",
            # "text" or, for boilerplate, "text:cover" (no schema change)
            kind=f"{chunk.kind}:{chunk.boilerplate}" if chunk.boilerplate else str(chunk.kind),
            terms=bm25_terms(chunk.text),
            dense=vector,
        )
        if not chunk.tenant:
            raise KnowledgeBaseError(f"chunk {chunk.id} of {chunk.document_name}: empty tenant")
        for name, limit in _LIMITS.items():
            if (size := len(row[name].encode("utf-8"))) > limit:
                raise KnowledgeBaseError(
                    f"chunk {chunk.id} of {chunk.document_name}: {name} is {size} bytes, "
                    f"the limit is {limit}"
                )
        return row

    @staticmethod
    def _chunk(row: dict[str, Any]) -> Chunk:
        """A search result or query row back to the Chunk that was written."""
        fields = {name: row.get("entity", row)[name] for name in _SCALAR_FIELDS}
        heading = fields.pop("heading_path")
        clause_number = fields.pop("clause_number")
        kind, _, boilerplate = str(fields.pop("kind")).partition(":")
        return Chunk(
            **fields,
            kind=kind,
            heading_path=heading.split(HEADING_SEPARATOR) if heading else [],
            clause_number=clause_number or None,
            boilerplate=boilerplate or None,
        )
