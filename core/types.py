"""Domain types shared by every layer.

Offsets are character offsets into :attr:`Page.text`. Pages are numbered from 1
in the order the file presents them. The invariant that everything downstream
relies on (and the tests check): for every chunk,
``document.pages[chunk.page - 1].text[chunk.start:chunk.end] == chunk.body``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "Block",
    "BlockKind",
    "Chunk",
    "Citation",
    "Document",
    "DocumentRecord",
    "DocumentStatus",
    "Hit",
    "JobRecord",
    "JobStatus",
    "Page",
    "SearchMode",
    "chunk_id",
]

SearchMode = Literal["hybrid", "dense", "bm25"]


class BlockKind(StrEnum):
    TEXT = "text"
    HEADING = "heading"
    TABLE = "table"


class Block(BaseModel):
    """A run of page text with its layout role. ``page.text[start:end] == text``."""

    kind: BlockKind = BlockKind.TEXT
    text: str
    start: int
    end: int
    bbox: tuple[float, float, float, float] | None = None
    #: Heading level (1 = top) for headings; None otherwise.
    level: int | None = None
    #: Clause/section number as the reader sees it ("5.2", "ARTICLE 5", "(a)").
    number: str | None = None


class Page(BaseModel):
    number: int  # 1-based
    text: str
    blocks: list[Block] = Field(default_factory=list)
    ocr: bool = False
    width: float | None = None
    height: float | None = None


class Document(BaseModel):
    """A parsed file: what a loader returns. Not yet stored anywhere."""

    name: str
    mime: str
    pages: list[Page]
    title: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.pages)


class DocumentStatus(StrEnum):
    INDEXING = "indexing"  # chunks being written; invisible to search
    READY = "ready"
    FAILED = "failed"
    SUPERSEDED = "superseded"  # an older version of a changed file


class DocumentRecord(BaseModel):
    """A document as the catalog knows it."""

    id: str
    tenant: str
    name: str
    sha256: str
    mime: str
    pages: int = 0
    chunks: int = 0
    status: DocumentStatus = DocumentStatus.INDEXING
    version: int = 1
    #: The id of this document's first version; shared by all its versions.
    lineage: str | None = None
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobRecord(BaseModel):
    id: str
    tenant: str
    kind: str = "ingest"
    status: JobStatus = JobStatus.QUEUED
    file_name: str | None = None
    document_id: str | None = None
    pages: int = 0
    chunks: int = 0
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: JSON output of a finished review/summary job (None for ingest jobs).
    result: dict[str, Any] | None = None
    #: The worker that claimed the job last, and how many times it was claimed.
    worker_id: str | None = None
    attempts: int = 0
    heartbeat_at: datetime | None = None


def chunk_id(document_id: str, ordinal: int) -> str:
    """Deterministic chunk id, so re-writing a document's chunks is idempotent."""
    return hashlib.sha1(f"{document_id}:{ordinal}".encode()).hexdigest()[:32]


class Chunk(BaseModel):
    """A retrievable unit of one page.

    ``body`` is verbatim page text (``page.text[start:end]``); ``text`` is what
    is embedded and indexed: the document title and heading path, then the body
    (with, at a page break that cuts a sentence, the sentence's part on the other
    page joined by " … " before or after the body; see ``ingest.page_breaks``).
    """

    id: str
    document_id: str
    tenant: str
    document_name: str
    ordinal: int
    page: int  # 1-based; chunks never span pages
    start: int
    end: int
    body: str
    text: str
    heading_path: list[str] = Field(default_factory=list)
    clause_number: str | None = None
    kind: BlockKind = BlockKind.TEXT
    #: Boilerplate of a report (``core.reports.BOILERPLATE_LABELS``: "cover",
    #: "index", "signatures", "certification", "exhibit-index", "safe-harbour",
    #: "see-notes"), None for content: searchable, ranked below content by
    #: ``KnowledgeBase.search``, never to be summarised.
    boilerplate: str | None = None

    @property
    def page_start(self) -> int:
        return self.page

    @property
    def page_end(self) -> int:
        return self.page


class Hit(BaseModel):
    chunk: Chunk
    score: float
    rank: int = 0

    def to_json(self) -> dict[str, object]:
        """The stable JSON shape of a search hit (CLI ``--json`` and the API)."""
        c = self.chunk
        return {
            "document": c.document_name,
            "document_id": c.document_id,
            "page": c.page,
            "heading_path": " > ".join(c.heading_path),
            "clause_number": c.clause_number,
            "text": c.body,
            "start": c.start,
            "end": c.end,
            "chunk_id": c.id,
            "score": round(self.score, 6),
        }


class Citation(BaseModel):
    """A claim's source: a quote that must occur verbatim on the cited page."""

    n: int
    document_id: str
    document: str
    page: int
    quote: str
    start: int | None = None
    end: int | None = None
    chunk_id: str | None = None
    verified: bool = False
    #: For a passage of a court opinion, the passage in citation form
    #: ("Deal v. Huddleston, 288 Ark. 96, 98 (1986)"; see agent.opinion_answers).
    cite: str | None = None
