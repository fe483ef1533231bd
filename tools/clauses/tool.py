"""The ``extract_clauses`` agent tool: the review core over a stored document."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
from pydantic import BaseModel, Field

from core.errors import DossierError, NotFoundError, PlaybookError, ToolError
from core.types import Chunk, DocumentRecord
from knowledge_base.protocols import Embedder
from knowledge_base.service import KnowledgeBase
from tools.base import ToolResult
from tools.clauses.model import ClauseModel
from tools.clauses.playbook import Playbook, load_playbook
from tools.clauses.review import ContractReview, areview_document, review_document
from tools.clauses.taxonomy import canonical_category
from tools.clauses.values import ValueExtractor
from tools.retrieval import neutralise_instructions

__all__ = ["ExtractClausesArgs", "ExtractClausesTool", "review_stored_document"]

log = logging.getLogger(__name__)


class ExtractClausesArgs(BaseModel):
    document_id: str = Field(description="Id of the document to review.")
    categories: list[str] | None = Field(
        default=None,
        description="CUAD clause categories to check (e.g. 'Governing Law', 'Cap on Liability'); "
        "omit for all 41.",
    )


async def review_stored_document(
    kb: KnowledgeBase,
    tenant: str,
    document_id: str,
    *,
    model: ClauseModel,
    playbook: Playbook,
    categories: list[str] | None = None,
    value_extractor: ValueExtractor | None = None,
) -> ContractReview:
    """Review a READY document of ``tenant`` (NotFoundError otherwise)."""
    if value_extractor is None:
        # Read and review in one worker thread: the agent waits on this before
        # its answer, and each hop back to a busy event loop costs.
        def read_and_review() -> tuple[DocumentRecord, ContractReview]:
            record, chunks, embeddings, pages = _stored_inputs(kb, tenant, document_id)
            return record, review_document(
                chunks, pages, model, kb.embedder, playbook,
                categories=categories, embeddings=embeddings,
            )  # fmt: skip

        record, review = await asyncio.to_thread(read_and_review)
    else:
        record, chunks, embeddings, pages = await asyncio.to_thread(
            _stored_inputs, kb, tenant, document_id
        )
        review = await areview_document(
            chunks, pages, model, kb.embedder, playbook,
            value_extractor=value_extractor, categories=categories, embeddings=embeddings,
        )  # fmt: skip
    review.document_name = record.name
    review.document_id = record.id
    return review


def _stored_inputs(
    kb: KnowledgeBase, tenant: str, document_id: str
) -> tuple[DocumentRecord, list[Chunk], np.ndarray | None, dict[int, str]]:
    """The document's record, chunks, reusable vectors and cited pages' text,
    read in one worker thread (one query each)."""
    record = kb.get_document(tenant, document_id)
    chunks, vectors = kb.document_vectors(tenant, document_id)
    embeddings = _reusable(chunks, vectors, kb.embedder)
    wanted = {c.page for c in chunks}
    pages = {p.number: p.text for p in kb.pages(tenant, document_id) if p.number in wanted}
    return record, chunks, embeddings, pages


def _reusable(chunks: list[Chunk], vectors: np.ndarray, embedder: Embedder) -> np.ndarray | None:
    """The stored vectors when they are this embedder's vectors of ``chunk.text``
    (the default indexing; checked on the first chunk), else None (recompute).
    Saves re-embedding the whole document: ~6 s for a 100-page contract."""
    if not chunks or vectors.shape != (len(chunks), embedder.dimension):
        return None
    probe = embedder.embed_batch([chunks[0].text])[0]
    cosine = float(probe @ vectors[0]) / (
        float(np.linalg.norm(probe) * np.linalg.norm(vectors[0])) or 1.0
    )
    return vectors if cosine > 0.999 else None


class ExtractClausesTool:
    """Finds CUAD clause categories in one document and flags playbook risks."""

    name = "extract_clauses"
    description = (
        "Review one contract: find clauses (governing law, liability caps, termination, "
        "renewal, non-compete, assignment, audit rights and the other CUAD categories), "
        "extract their values and flag risks against the review playbook. Returns findings "
        "with page numbers and verbatim quotes."
    )
    input_model: type[BaseModel] = ExtractClausesArgs

    def __init__(
        self,
        kb: KnowledgeBase,
        tenant: str,
        *,
        model: ClauseModel | None = None,
        playbook: Playbook | None = None,
        value_extractor: ValueExtractor | None = None,
    ) -> None:
        self.kb = kb
        self.tenant = tenant
        self._model = model
        self.playbook = playbook or load_playbook()
        self.value_extractor = value_extractor

    @property
    def model(self) -> ClauseModel:
        if self._model is None:
            self._model = ClauseModel.load()
        return self._model

    async def run(self, args: BaseModel) -> ToolResult:
        assert isinstance(args, ExtractClausesArgs)
        try:
            cats = [canonical_category(c) for c in args.categories] if args.categories else None
        except KeyError as exc:
            raise ToolError(str(exc).strip("\"'")) from exc
        try:
            review = await review_stored_document(
                self.kb, self.tenant, args.document_id,
                model=self.model, playbook=self.playbook, categories=cats,
                value_extractor=self.value_extractor,
            )  # fmt: skip
        except NotFoundError as exc:
            raise ToolError(f"document {args.document_id!r} not found") from exc
        except (PlaybookError, DossierError) as exc:
            raise ToolError(str(exc)) from exc
        return ToolResult(content=_summary(review), data=review.to_json())


def _summary(review: ContractReview) -> str:
    """The text the model sees. Quotes and values are document text, so any
    sentence in them that addresses an AI model is withheld here, as in search
    evidence (the structured ``data`` keeps the verbatim quotes for citations)."""
    lines: list[str] = [f"Review of {review.document_name} ({review.playbook}):"]
    for f in review.findings:
        if f.verdict == "absent" and f.risk == "info":
            continue
        text = f"- {f.category}: {f.verdict}, risk {f.risk}"
        if f.value is not None:
            text += f", value {neutralise_instructions(f.value.text)[0]}"
        if f.reason:
            text += f" — {f.reason}"
        if f.evidence:
            e = f.evidence[0]
            quote = neutralise_instructions(" ".join(e.quote.split()))[0][:300]
            text += f' [p. {e.page}: "{quote}"]'
        lines.append(text)
    absent = [f.category for f in review.findings if f.verdict == "absent" and f.risk == "info"]
    if absent:
        lines.append("Not found: " + ", ".join(absent))
    return "\n".join(lines)
