"""Ingestion: file → parsed pages → chunks → vectors → Milvus, with the catalog
as the source of truth for what is visible.

Crash safety, step by step (each step is idempotent, so re-running is safe):

1. hash the file; identical bytes already READY for this tenant → ``unchanged``;
2. parse (a bad file fails here, alone, before anything is written);
3. catalog row in status INDEXING (invisible to search), original file stored,
   page texts saved; the row is created at most once per tenant and bytes
   (``create_or_get_document``): a concurrent ingest of the same bytes on
   another worker returns that document as ``unchanged``;
4. chunks embedded and upserted (deterministic chunk ids);
5. catalog row → READY: only now can search see the document. Older READY
   versions of the same document are then superseded: chunks deleted, row marked.

A file is a new *version* of an earlier document only when the caller says so:
``replaces=<document id>`` (the API's ``replaces`` field, the CLI's
``--replaces``), or the same ``source`` path (:meth:`IngestPipeline.ingest_paths`,
i.e. ``dossier ingest`` run again on the same file or folder). Any other file
is a document of its own, even when its name equals another's: firms keep
hundreds of files called ``Agreement.pdf``.

A process killed between 3 and 5 leaves an INDEXING row: search excludes it,
and :meth:`IngestPipeline.recover` (run at the start of every batch) deletes
its partial chunks and completes it from the stored original, then
supersedes the older version (also when the kill came after step 5's READY).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from core.errors import DossierError, IngestError, JobLostError, NotFoundError
from core.settings import IngestSettings
from core.types import Chunk, Document, DocumentRecord, DocumentStatus
from ingest.chunking import Chunker
from ingest.loaders import load_document
from ingest.names import clean_name
from ingest.opinions import label_chunks
from ingest.precedent import analyse_document, analyse_report, reanalyse_document
from ingest.report_chunks import label_report_chunks
from ingest.reports import report_title
from knowledge_base.citation_graph import CitationGraph
from knowledge_base.report_tables import ReportStore
from knowledge_base.service import KnowledgeBase

__all__ = ["IngestEvent", "IngestPipeline", "IngestResult", "InputFile", "iter_input_files"]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = {".pdf", ".docx", ".txt", ".md", ".xml"}


@dataclass
class IngestResult:
    path: str
    name: str
    status: Literal["indexed", "unchanged", "failed"]
    document_id: str | None = None
    pages: int = 0
    chunks: int = 0
    ocr_pages: int = 0
    version: int = 1
    error: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class IngestEvent:
    """Progress: ``stage`` is one of parsed, embedded, done, failed."""

    stage: str
    name: str
    pages: int = 0
    chunks: int = 0


ProgressFn = Callable[[IngestEvent], None]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class InputFile(NamedTuple):
    path: Path
    name: str  # the document name: a file's own name, or its path inside a folder


def iter_input_files(paths: Iterable[Path | InputFile]) -> Iterator[InputFile]:
    """Expand folders (recursively, sorted, hidden files skipped). A file inside
    a folder is named by its path from that folder ("acme/template.docx"), so
    two same-named files in different sub-folders stay two documents. Files
    named explicitly are always yielded, so an unsupported one fails with a
    reason instead of vanishing; inside folders only known suffixes are taken."""
    for item in paths:
        if isinstance(item, InputFile):
            yield item
            continue
        path = Path(item)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if (
                    child.is_file()
                    and not any(part.startswith(".") for part in rel.parts)
                    and child.suffix.lower() in SUPPORTED_SUFFIXES | {".doc", ".wpd", ".rtf"}
                ):
                    yield InputFile(child, rel.as_posix())
        else:
            yield InputFile(path, path.name)


def source_key(path: Path) -> str:
    """The catalog's opaque key of where a file came from: a hash of its
    absolute path (so the catalog stores no local paths)."""
    return hashlib.sha256(f"path:{Path(path).resolve()}".encode()).hexdigest()


def _without_nul(document: Document) -> Document:
    """NUL cannot be stored in PostgreSQL text; replace it one-for-one so
    offsets and the chunk/page invariant survive on every catalog backend."""
    for page in document.pages:
        if "\x00" in page.text:
            page.text = page.text.replace("\x00", "\ufffd")
            for block in page.blocks:
                block.text = block.text.replace("\x00", "\ufffd")
    return document


class IngestPipeline:
    def __init__(
        self,
        kb: KnowledgeBase,
        chunker: Chunker,
        settings: IngestSettings,
        loader: Callable[..., Document] = load_document,
        *,
        heading_path_in_vector: bool = True,
        live_job_window_s: float = 600.0,
    ) -> None:
        self.heading_path_in_vector = heading_path_in_vector
        #: A RUNNING ingest job beating within this window is live (recover()).
        self.live_job_window_s = live_job_window_s
        self.kb = kb
        self.chunker = chunker
        self.settings = settings
        self._load = loader

    # -- recovery -------------------------------------------------------------
    def recover(self, tenant: str | None = None) -> list[IngestResult]:
        """Clean up documents left INDEXING by a crash and complete them from
        their stored originals (or drop the row if the original never got stored).

        A tenant with a live ingest job (a worker heartbeat within
        ``live_job_window_s``, the workers' stale timeout) is skipped: its INDEXING documents
        may be in a worker's hands right now, and a crashed worker's job is
        re-claimed and redone anyway."""
        results = []
        live = self.kb.catalog.live_job_tenants(self.live_job_window_s)
        for record in self.kb.catalog.incomplete_documents(tenant):
            if record.tenant in live:
                log.info("ingest.recover_deferred doc=%s tenant=%s", record.id, record.tenant)
                continue
            log.warning("ingest.recovering doc=%s tenant=%s", record.id, record.tenant)
            self.kb.store.delete_documents(record.tenant, [record.id])
            try:
                stored = self.kb.catalog.file_path(record.tenant, record.id)
            except DossierError:
                stored = None
            if stored is None or not stored.exists():
                # Killed before the original was stored: the row was never
                # visible and holds nothing; drop it (re-ingesting the file
                # creates it again).
                self.kb.catalog.delete_document(record.tenant, record.id)
                continue
            results.append(self._index(stored, record.tenant, record.name, record))
        # A crash between a new version's READY and the old one's supersede
        # leaves both searchable; finish that step too.
        self._supersede_replaced(tenant)
        return results

    # -- ingestion ------------------------------------------------------------
    def ingest_file(
        self,
        path: Path,
        tenant: str,
        *,
        name: str | None = None,
        replaces: str | None = None,
        source: str | None = None,
        on_event: ProgressFn | None = None,
        kind: str | None = None,
    ) -> IngestResult:
        """Ingest one file. Never raises for a bad file: the result says why
        (naming the file by ``name``, never by the path it is stored under).
        ``kind`` (opinion, brief, contract, report, other) replaces the
        detected document kind, also for bytes already indexed.

        A new document is the next version of ``replaces`` (a document id), or
        of the latest document with the same ``source`` key (:func:`source_key`);
        otherwise it is a document of its own. Same bytes as a READY document
        of the tenant: ``unchanged``, that document."""
        path = Path(path)
        name = clean_name(name or path.name) or "upload"
        t0 = time.perf_counter()
        try:
            if not path.is_file():
                raise IngestError(path, "no such file")
            sha = sha256_file(path)
            existing = self.kb.catalog.find_by_sha(tenant, sha)
            if existing is not None and existing.status is DocumentStatus.READY:
                result = IngestResult(
                    str(path),
                    name,
                    "unchanged",
                    existing.id,
                    existing.pages,
                    existing.chunks,
                    version=existing.version,
                )
                if kind is not None:
                    reanalyse_document(self.kb, tenant, existing.id, kind)
            else:
                result = self._index(
                    path, tenant, name, existing, sha=sha, on_event=on_event,
                    replaces=replaces, source=source, kind=kind,
                )  # fmt: skip
        except IngestError as exc:
            log.info("ingest.failed file=%s reason=%s", name, exc.reason)
            reason = exc.reason
            if path.name != Path(name).name:  # an upload stored as <uuid>.pdf
                reason = reason.replace(str(path), name).replace(path.name, name)
            result = IngestResult(str(path), name, "failed", error=f"{name}: {reason}")
        result.seconds = round(time.perf_counter() - t0, 3)
        if on_event is not None:
            on_event(
                IngestEvent(
                    "failed" if result.status == "failed" else "done",
                    name,
                    result.pages,
                    result.chunks,
                )
            )
        return result

    def _supersede_replaced(self, tenant: str | None, lineage: str | None = None) -> None:
        """Hide older READY versions of a document that has a newer READY
        version: delete their chunks first, then mark them SUPERSEDED (a crash
        in between leaves a READY row with no chunks, superseded on the next run)."""
        for old in self.kb.catalog.replaced_versions(tenant, lineage):
            self.kb.store.delete_documents(old.tenant, [old.id])
            self.kb.catalog.mark_superseded(old.tenant, old.id)
            log.info(
                "ingest.superseded doc=%s tenant=%s version=%d", old.id, old.tenant, old.version
            )

    def ingest_paths(
        self,
        paths: Iterable[Path | InputFile],
        tenant: str,
        on_event: ProgressFn | None = None,
        on_result: Callable[[IngestResult], None] | None = None,
        *,
        replaces: str | None = None,
        kind: str | None = None,
    ) -> list[IngestResult]:
        """A batch from disk: one failed file never stops the others. A file
        whose path was ingested before (and has changed) becomes that
        document's next version; ``replaces`` (one file only) names the
        document the file replaces instead."""
        files = list(iter_input_files(paths))
        if replaces is not None and len(files) != 1:
            raise ValueError(f"replaces names one document; got {len(files)} files")
        self.recover(tenant)
        results = []
        for item in files:
            result = self.ingest_file(
                item.path, tenant, name=item.name, replaces=replaces,
                source=source_key(item.path), on_event=on_event, kind=kind,
            )  # fmt: skip
            results.append(result)
            if on_result is not None:
                on_result(result)
        if any(r.status == "indexed" for r in results):
            self.flush()
        return results

    def flush(self) -> None:
        """Index what this pipeline has written (call after a batch)."""
        self.kb.flush()

    def _dense_input(self, chunk: Chunk) -> str:
        if self.heading_path_in_vector:
            return chunk.text
        title = chunk.text.split("\n", 1)[0]
        return f"{title}\n{chunk.body}" if title != chunk.body.split("\n", 1)[0] else chunk.body

    def _embed(self, texts: list[str]) -> np.ndarray:
        """One call per document: the embedder sorts all its chunks by length
        into batches and lets a concurrent search query go before the next
        batch. (Slices of 96 chunks cost 12-35% of ingest time: shorter
        length-sorted runs and an idle OpenVINO stream at each slice's tail.)"""
        return self.kb.embedder.embed_batch(texts)

    def _index(
        self,
        path: Path,
        tenant: str,
        name: str,
        existing: DocumentRecord | None,
        *,
        sha: str | None = None,
        on_event: ProgressFn | None = None,
        replaces: str | None = None,
        source: str | None = None,
        kind: str | None = None,
    ) -> IngestResult:
        catalog, store = self.kb.catalog, self.kb.store
        sha = sha or sha256_file(path)
        document = _without_nul(self._load(path, self.settings, name=name))
        if on_event is not None:
            on_event(IngestEvent("parsed", name, pages=len(document.pages)))
        if existing is not None:  # an INDEXING leftover of these very bytes
            record = existing
            store.delete_documents(tenant, [record.id])
        else:
            try:
                record, created = catalog.create_or_get_document(
                    tenant, name, sha, document.mime, replaces=replaces, source=source
                )
            except NotFoundError as exc:
                raise IngestError(
                    path, f"the document it replaces ({replaces}) does not exist"
                ) from exc
            if not created:
                # Another ingest of these bytes (a concurrent job on another
                # worker) got there first: its document is the one; index nothing.
                log.info("ingest.same_bytes_in_progress file=%s doc=%s", name, record.id)
                return IngestResult(
                    str(path), name, "unchanged", record.id, record.pages, record.chunks,
                    version=record.version,
                )  # fmt: skip
        try:
            catalog.store_file(tenant, record.id, path)
            catalog.save_pages(tenant, record.id, document.pages)
            # Kind, opinion metadata and parts, citations (ingest/precedent.py);
            # reports: the cover-page profile (which names every chunk: issuer,
            # form, period in the title) and every document's tables.
            profile, refs = analyse_document(document, kind)
            report, tables = analyse_report(document, profile.kind)
            if report is not None:
                document.title = report_title(report) or document.title
            chunks = self.chunker.chunk(document, record.id, tenant)
            if not chunks:
                raise IngestError(path, "no text to index")
            # A chunk straddling an opinion part boundary is split there.
            chunks = label_chunks(document, chunks, profile.parts)
            if profile.kind == "report":  # boilerplate labels, table chunks
                chunks = label_report_chunks(
                    document, chunks, tables, self.chunker.counter, self.chunker.max_tokens
                )
            vectors = self._embed([self._dense_input(c) for c in chunks])
            if on_event is not None:
                on_event(IngestEvent("embedded", name, len(document.pages), len(chunks)))
            store.upsert(chunks, vectors)
            CitationGraph(catalog).save(tenant, record.id, profile, refs)
            ReportStore(catalog).save(tenant, record.id, report, tables)
            catalog.mark_ready(tenant, record.id, len(document.pages), len(chunks))
        except BaseException as exc:
            # Leave nothing half-visible. On KeyboardInterrupt/kill, or when
            # the worker lost its job to another one (JobLostError, raised by
            # on_event), the row stays INDEXING and whoever runs the job next
            # (or recover()) finishes it.
            if isinstance(exc, Exception) and not isinstance(exc, JobLostError):
                # The failure is reported in the result (and the job); the
                # catalog keeps no failed row that would block a retry.
                store.delete_documents(tenant, [record.id])
                catalog.delete_document(tenant, record.id)
                if not isinstance(exc, IngestError):
                    log.exception("ingest.internal_error file=%s doc=%s", name, record.id)
                    raise IngestError(path, f"internal error: {type(exc).__name__}") from exc
            raise
        self._supersede_replaced(tenant, record.lineage)
        log.info(
            "ingest.document_indexed doc=%s tenant=%s pages=%d chunks=%d",
            record.id,
            tenant,
            len(document.pages),
            len(chunks),
        )
        return IngestResult(
            str(path),
            name,
            "indexed",
            record.id,
            len(document.pages),
            len(chunks),
            ocr_pages=sum(p.ocr for p in document.pages),
            version=record.version,
        )
