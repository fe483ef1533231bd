"""The ``search_documents`` tool: hybrid retrieval that returns numbered evidence.

Every hit the tool returns is registered in the turn's :class:`EvidenceLedger`
and numbered there: ``[n]`` in the answer refers to ledger item ``n`` (numbers
are stable for the whole turn; the same chunk found twice keeps its number).

What the model sees is *fenced data*: each passage sits inside an
``<evidence n=".." ...>`` element whose body is escaped (``&``, ``<``, ``>``),
so document text can never close the fence or open a fake one, and sentences
that look like instructions to an AI ("ignore previous instructions ...") are
replaced by a marker before the model sees them. The ledger keeps the raw chunk,
so citation quotes are always verbatim page text.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

import anyio
from pydantic import BaseModel, Field

from core.errors import KnowledgeBaseError, ToolError
from core.types import Chunk, Hit, SearchMode
from knowledge_base.lexical import bm25_terms
from knowledge_base.routing import Filing
from knowledge_base.service import KnowledgeBase
from tools.base import ToolResult
from tools.page_search import search_pages

__all__ = [
    "Evidence",
    "EvidenceLedger",
    "SearchDocumentsInput",
    "SearchDocumentsTool",
    "excerpt",
    "format_evidence",
    "neutralise_instructions",
]

logger = logging.getLogger(__name__)

INJECTION_MARKER = "[instruction-like text withheld from the model]"

# Sentences addressed to an AI model rather than to contract parties. Matching is
# deliberately narrow: contract language ("the Parties shall disregard ...")
# does not talk about prompts, instructions or assistants.
_INJECTION = re.compile(
    r"(?is)"
    r"(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+)?"
    r"(?:previous|prior|above|earlier|preceding|system|your)\s+(?:instructions?|prompts?|rules|directions)"
    r"|(?:you\s+are\s+now|act\s+as)\s+(?:an?\s+)?(?:ai|assistant|chatbot|language\s+model|dan)\b"
    r"|\b(?:system\s+prompt|assistant\s*:|new\s+instructions?\s*:)"
    r"|\b(?:respond|reply|answer)\s+(?:only\s+)?with\s+(?:only\s+)?(?:the\s+word|exactly)\b"
)
_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")


def neutralise_instructions(text: str) -> tuple[str, bool]:
    """Replace every sentence that addresses an AI model with a marker.

    Returns the new text and whether anything was replaced.
    """
    if not _INJECTION.search(text):
        return text, False
    parts: list[str] = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        parts.append(f"{INJECTION_MARKER} " if _INJECTION.search(sentence) else sentence)
    return "".join(parts), True


class Evidence(BaseModel):
    """One numbered passage of the turn. ``quote`` is the chunk body, verbatim."""

    n: int
    chunk_id: str
    document_id: str
    document: str
    page: int
    heading_path: list[str] = Field(default_factory=list)
    quote: str
    start: int
    end: int
    score: float = 0.0
    suspicious: bool = False

    @classmethod
    def from_chunk(cls, n: int, chunk: Chunk, score: float = 0.0) -> Evidence:
        return cls(
            n=n,
            chunk_id=chunk.id,
            document_id=chunk.document_id,
            document=chunk.document_name,
            page=chunk.page,
            heading_path=list(chunk.heading_path),
            quote=chunk.body,
            start=chunk.start,
            end=chunk.end,
            score=score,
            suspicious=neutralise_instructions(chunk.body)[1],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "document": self.document,
            "document_id": self.document_id,
            "page": self.page,
            "heading_path": " > ".join(self.heading_path),
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "chunk_id": self.chunk_id,
            "score": round(self.score, 6),
        }


class EvidenceLedger:
    """The turn's evidence list: numbers passages 1, 2, ... in first-seen order."""

    def __init__(self) -> None:
        self._items: list[Evidence] = []
        self._by_chunk: dict[str, Evidence] = {}

    def add(self, hit: Hit) -> Evidence:
        """Register a hit (idempotent per chunk id) and return its evidence item."""
        known = self._by_chunk.get(hit.chunk.id)
        if known is not None:
            return known
        item = Evidence.from_chunk(len(self._items) + 1, hit.chunk, hit.score)
        self._items.append(item)
        self._by_chunk[item.chunk_id] = item
        return item

    def add_passage(
        self, *, chunk_id: str, document_id: str, document: str, page: int,
        quote: str, start: int, end: int, score: float = 0.0,
    ) -> Evidence:  # fmt: skip
        """Register a passage another tool found (e.g. a clause's verbatim
        evidence, a chunk body); idempotent per chunk id like :meth:`add`."""
        known = self._by_chunk.get(chunk_id)
        if known is not None:
            return known
        item = Evidence(
            n=len(self._items) + 1, chunk_id=chunk_id, document_id=document_id,
            document=document, page=page, quote=quote, start=start, end=end, score=score,
            suspicious=neutralise_instructions(quote)[1],
        )  # fmt: skip
        self._items.append(item)
        self._by_chunk[chunk_id] = item
        return item

    def get(self, n: int) -> Evidence | None:
        return self._items[n - 1] if 1 <= n <= len(self._items) else None

    @property
    def items(self) -> list[Evidence]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)


def excerpt(text: str, max_chars: int, focus: str | None = None) -> str:
    """At most ``max_chars`` of ``text`` (plus the "…" marks): whole sentences
    around the ones that share most terms (stemmed, stop words dropped) with
    ``focus``, widened with their neighbours while they fit.

    Without ``focus``, or when no sentence shares a term, the start of the text.
    A cut is marked with "…" at either end.
    """
    if len(text) <= max_chars:
        return text
    spans = [m.span() for m in _SENTENCE.finditer(text) if m.group(0).strip()]
    wanted = set(bm25_terms(focus).split()) if focus else set()
    best: tuple[int, int, int] | None = None  # (-score, first, last) of the best window
    if wanted and spans:
        terms = [set(bm25_terms(text[a:b]).split()) & wanted for a, b in spans]
        for first in range(len(spans)):
            if not terms[first]:
                continue  # a window starts at a matching sentence
            union: set[str] = set()
            for last in range(first, len(spans)):
                if spans[last][1] - spans[first][0] > max_chars and last > first:
                    break
                union |= terms[last]
                candidate = (-len(union), first, last)
                if best is None or candidate < best:
                    best = candidate
    if best is None:
        return text[:max_chars].rsplit(" ", 1)[0] + " …"
    first, last = best[1], best[2]
    while True:  # fill the budget with the neighbouring sentences, following first
        if last + 1 < len(spans) and spans[last + 1][1] - spans[first][0] <= max_chars:
            last += 1
        elif first > 0 and spans[last][1] - spans[first - 1][0] <= max_chars:
            first -= 1
        else:
            break
    start, end = spans[first][0], spans[last][1]
    if end - start > max_chars:  # one sentence longer than the budget
        end = start + len(text[start : start + max_chars].rsplit(" ", 1)[0])
    prefix = "… " if text[:start].strip() else ""
    suffix = " …" if text[end:].strip() else ""
    return prefix + text[start:end].strip() + suffix


def format_evidence(
    items: Sequence[Evidence],
    *,
    max_chars: int | None = None,
    focus: str | None = None,
    brief: bool = False,
) -> str:
    """The fenced, escaped text of ``items`` as the model sees it.

    With ``max_chars`` each body is cut to an :func:`excerpt` around the
    sentences closest to ``focus`` (the question), so a short prompt still
    carries the words that answer it. ``brief`` headers carry the number, the
    page and the innermost section heading only: a CUAD file name alone is
    30-50 tokens, and the citations name the document anyway.
    """
    blocks = []
    for item in items:
        body, _ = neutralise_instructions(item.quote)
        if max_chars is not None:
            body = excerpt(body, max_chars, focus)
        path = item.heading_path[-1:] if brief else item.heading_path
        attrs = {
            "n": str(item.n),
            "document": "" if brief else item.document,
            "page": str(item.page),
            "section": " > ".join(path),
        }
        rendered = " ".join(f'{k}="{html.escape(v, quote=True)}"' for k, v in attrs.items() if v)
        blocks.append(f"<evidence {rendered}>\n{html.escape(body, quote=False)}\n</evidence>")
    return "\n".join(blocks)


class SearchDocumentsInput(BaseModel):
    """Arguments of ``search_documents``."""

    query: str = Field(
        min_length=1, max_length=2000, description="What to look for, in plain words."
    )
    k: int | None = Field(default=None, ge=1, le=20, description="How many passages (default 6).")
    document_ids: list[str] | None = Field(
        default=None, description="Restrict the search to these document ids."
    )


class SearchDocumentsTool:
    """Hybrid search over the tenant's ready documents, as numbered evidence:
    one passage per page, filings routed by company and period, statement
    pages first for statement questions (:func:`tools.page_search.search_pages`).

    ``document_ids`` given here (the request's ``--doc``) always restrict the
    search; ids the model passes can only narrow them further.
    ``seconds`` accumulates the time spent searching (the ``retrieval_s`` timing).
    """

    name = "search_documents"
    description = (
        "Search the user's documents. Returns numbered passages "
        "(<evidence n=...>) with document name and page; cite them as [n]."
    )
    input_model: type[BaseModel] = SearchDocumentsInput

    def __init__(
        self,
        kb: KnowledgeBase,
        tenant: str,
        *,
        k: int = 6,
        mode: SearchMode = "hybrid",
        ledger: EvidenceLedger | None = None,
        document_ids: Sequence[str] | None = None,
    ) -> None:
        self.kb = kb
        self.tenant = tenant
        self.k = k
        self.mode: SearchMode = mode
        self.ledger = ledger if ledger is not None else EvidenceLedger()
        self.document_ids = list(document_ids) if document_ids else None
        self.seconds = 0.0
        #: The filings searched this turn ("3M COMPANY 10-K FY2018 (3M_2018_10K.pdf)"),
        #: so the answer can say which report it used.
        self.filings: list[str] = []
        #: The same filings (:class:`knowledge_base.routing.Filing`), for the answer's filing line.
        self.searched_filings: list[Filing] = []

    def _scope(self, requested: list[str] | None) -> list[str] | None:
        if self.document_ids is None:
            return requested
        if requested is None:
            return self.document_ids
        return [d for d in requested if d in self.document_ids]

    async def search(
        self, query: str, k: int | None = None, document_ids: list[str] | None = None
    ) -> list[Evidence]:
        """Search and register; returns the evidence items of this search, best first."""
        scope = self._scope(document_ids)
        if scope is not None and not scope:
            return []
        t0 = time.perf_counter()
        try:
            found = await anyio.to_thread.run_sync(
                lambda: search_pages(
                    self.kb, self.tenant, query, k=k or self.k, mode=self.mode, document_ids=scope
                )
            )
        except KnowledgeBaseError as exc:
            raise ToolError(f"search_documents failed: {exc}") from exc
        finally:
            self.seconds += time.perf_counter() - t0
        for filing in found.filings:
            if filing.label not in self.filings:
                self.filings.append(filing.label)
                self.searched_filings.append(filing)
        return [self.ledger.add(hit) for hit in found.hits]

    async def run(self, args: BaseModel) -> ToolResult:
        assert isinstance(args, SearchDocumentsInput)
        items = await self.search(args.query, args.k, args.document_ids)
        logger.info("tools.search_documents hits=%d", len(items))
        if not items:
            return ToolResult(content="No passages found.", data={"evidence": []})
        content = format_evidence(items)
        if self.filings:
            content = f"Filings searched: {'; '.join(self.filings)}\n{content}"
        return ToolResult(
            content=content,
            data={"evidence": [item.to_json() for item in items], "filings": list(self.filings)},
        )
