"""Contract review: clause findings for every category, judged by a playbook.

:func:`review_document` is the pure core (chunks in, :class:`ContractReview`
out; rule-based values). :func:`areview_document` is the same with any
:class:`~tools.clauses.values.ValueExtractor` (e.g. the LLM one, which may also
reject candidate passages). Both return one :class:`ClauseFinding` per
category of the model, in taxonomy order.

Evidence quotes are verbatim page text: ``pages[e.page][e.start:e.end] ==
e.quote`` (when ``pages`` is not given, chunk bodies are used; they satisfy
the same invariant by construction).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from core.types import Chunk
from knowledge_base.protocols import Embedder
from tools.clauses.extract import CategoryScore, chunk_features, score_document
from tools.clauses.model import ClauseModel
from tools.clauses.playbook import RISK_ORDER, Playbook, Risk, Rule
from tools.clauses.values import (
    ClauseValue,
    Extraction,
    RuleValueExtractor,
    ValueExtractor,
    document_values,
)

__all__ = [
    "ClauseEvidence",
    "ClauseFinding",
    "ContractReview",
    "Verdict",
    "apply_playbook",
    "areview_document",
    "review_document",
]

log = logging.getLogger(__name__)

Verdict = Literal["present", "absent", "deviates"]


class ClauseEvidence(BaseModel):
    page: int
    quote: str
    start: int
    end: int
    chunk_id: str | None = None
    score: float = 0.0


class ClauseFinding(BaseModel):
    """One category's outcome. ``confidence`` is the calibrated probability that
    the clause is present (for ``absent`` findings, low means confidently absent)."""

    category: str
    verdict: Verdict
    risk: Risk = "info"
    reason: str = ""
    rule_id: str | None = None
    value: ClauseValue | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[ClauseEvidence] = Field(default_factory=list)


class ContractReview(BaseModel):
    document_id: str | None = None
    document_name: str | None = None
    playbook: str
    findings: list[ClauseFinding]
    seconds: float = 0.0

    def finding(self, category: str) -> ClauseFinding:
        return next(f for f in self.findings if f.category.lower() == category.lower())

    @property
    def risk_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("high", "medium", "low"), 0)
        for f in self.findings:
            if f.risk in counts:
                counts[f.risk] += 1
        return counts

    @property
    def issues(self) -> list[ClauseFinding]:
        """Present clauses a rule flagged, worst first."""
        flagged = [f for f in self.findings if f.verdict != "absent" and f.risk != "info"]
        return sorted(flagged, key=lambda f: (RISK_ORDER[f.risk], -f.confidence))

    @property
    def missing_protections(self) -> list[ClauseFinding]:
        """Absent clauses a rule requires, worst first."""
        missing = [f for f in self.findings if f.verdict == "absent" and f.risk != "info"]
        return sorted(missing, key=lambda f: RISK_ORDER[f.risk])

    def to_json(self) -> dict[str, object]:
        return {**self.model_dump(mode="json"), "risk_counts": self.risk_counts}


def _evidence(chunk: Chunk, score: float, pages: Mapping[int, str] | None) -> ClauseEvidence:
    start, end, quote = chunk.start, chunk.end, chunk.body
    if pages is not None and chunk.page in pages:
        text = pages[chunk.page]
        if text[start:end] != quote:  # defensive: re-anchor on the page text
            found = text.find(quote)
            if found >= 0:
                start, end = found, found + len(quote)
            else:
                log.warning("clauses.evidence_unanchored chunk=%s page=%d", chunk.id, chunk.page)
    return ClauseEvidence(
        page=chunk.page, quote=quote, start=start, end=end, chunk_id=chunk.id, score=round(score, 4)
    )


def _judge(
    scores: Sequence[CategoryScore],
    extractions: Mapping[str, list[Extraction]],
    chunks: Sequence[Chunk],
    pages: Mapping[int, str] | None,
    playbook: Playbook,
) -> list[ClauseFinding]:
    findings: dict[str, ClauseFinding] = {}
    # Rule values read across each category's passages (dates in order: an
    # expiration can be computed from the effective date).
    ruled = document_values({s.category: [chunks[i].body for i, _ in s.passages] for s in scores})
    for s in scores:
        passages = s.passages
        ex = extractions.get(s.category, [])
        if ex:  # the LLM may reject candidates
            passages = [p for p, e in zip(passages, ex, strict=True) if e.relevant is not False]
        value = next((e.value for e in ex if e.value is not None and e.relevant is not False), None)
        if all(e.relevant is None for e in ex):  # rule values: the document's reading
            value = ruled.get(s.category)
        present = bool(passages)
        findings[s.category] = ClauseFinding(
            category=s.category,
            verdict="present" if present else "absent",
            value=value if present else None,
            confidence=round(min(max(s.confidence, 0.0), 1.0), 4),
            evidence=[_evidence(chunks[i], p, pages) for i, p in passages],
        )
    return apply_playbook(list(findings.values()), playbook)


def apply_playbook(findings: list[ClauseFinding], playbook: Playbook) -> list[ClauseFinding]:
    """Judge ``findings`` (verdict ``present``/``absent``, values set) in place:
    each rule that fires sets its finding's risk, reason and rule id (the worst
    risk wins) and turns ``present`` into ``deviates``. Rules about categories
    without a finding are skipped. Returns ``findings``."""
    by_category = {f.category: f for f in findings}
    present_set = {f.category for f in findings if f.verdict != "absent"}
    for rule in playbook.rules:
        finding = by_category.get(rule.category)
        if finding is None or not rule.fires(present_set, finding.value):
            continue
        _apply(finding, rule)
    return findings


def _apply(finding: ClauseFinding, rule: Rule) -> None:
    """Record a fired rule on its finding (the worst risk wins)."""
    if finding.rule_id is not None and RISK_ORDER[finding.risk] <= RISK_ORDER[rule.risk]:
        return
    finding.risk = rule.risk
    finding.reason = rule.reason
    finding.rule_id = rule.id
    if finding.verdict == "present":
        finding.verdict = "deviates"


def _scores(
    chunks: Sequence[Chunk],
    model: ClauseModel,
    embedder: Embedder,
    categories: Sequence[str] | None,
    embeddings: np.ndarray | None = None,
) -> list[CategoryScore]:
    if any(b.ordinal < a.ordinal for a, b in pairwise(chunks)):
        raise ValueError("chunks must be in reading (ordinal) order")
    return score_document(chunk_features(chunks, embedder, embeddings), model, categories)


def review_document(
    chunks: Sequence[Chunk],
    pages: Mapping[int, str] | None,
    model: ClauseModel,
    embedder: Embedder,
    playbook: Playbook,
    *,
    categories: Sequence[str] | None = None,
    embeddings: np.ndarray | None = None,
) -> ContractReview:
    """Review one document's chunks (reading order) against ``playbook``.

    Pure: reads nothing but its arguments. Values come from the rule-based
    extractor. ``categories`` restricts the review (default: all);
    ``embeddings`` are the chunks' ``embedder`` vectors of ``chunk.text`` when
    already known (e.g. stored in the index), else they are computed.
    """
    t0 = time.perf_counter()
    scores = _scores(chunks, model, embedder, categories, embeddings)
    rules = RuleValueExtractor()
    extractions = {
        s.category: [rules.extract_sync(s.category, chunks[i].body) for i, _ in s.passages]
        for s in scores
    }
    return _finish(chunks, pages, playbook, scores, extractions, t0)


async def areview_document(
    chunks: Sequence[Chunk],
    pages: Mapping[int, str] | None,
    model: ClauseModel,
    embedder: Embedder,
    playbook: Playbook,
    *,
    value_extractor: ValueExtractor,
    categories: Sequence[str] | None = None,
    embeddings: np.ndarray | None = None,
) -> ContractReview:
    """:func:`review_document` with ``value_extractor`` verifying each candidate
    passage and reading values (scoring runs in a worker thread)."""
    t0 = time.perf_counter()
    scores = await asyncio.to_thread(_scores, chunks, model, embedder, categories, embeddings)
    extractions: dict[str, list[Extraction]] = {}
    for s in scores:
        extractions[s.category] = [
            await value_extractor.extract(s.category, chunks[i].body) for i, _ in s.passages
        ]
    return _finish(chunks, pages, playbook, scores, extractions, t0)


def _finish(
    chunks: Sequence[Chunk],
    pages: Mapping[int, str] | None,
    playbook: Playbook,
    scores: Sequence[CategoryScore],
    extractions: Mapping[str, list[Extraction]],
    t0: float,
) -> ContractReview:
    findings = _judge(scores, extractions, chunks, pages, playbook)
    first = chunks[0] if chunks else None
    review = ContractReview(
        document_id=first.document_id if first else None,
        document_name=first.document_name if first else None,
        playbook=playbook.name,
        findings=findings,
        seconds=round(time.perf_counter() - t0, 3),
    )
    log.info(
        "clauses.reviewed doc=%s chunks=%d present=%d high=%d ms=%.0f",
        review.document_id,
        len(chunks),
        sum(f.verdict != "absent" for f in findings),
        review.risk_counts["high"],
        review.seconds * 1000,
    )
    return review
