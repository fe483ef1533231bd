"""Citations: map ``[n]`` markers to evidence and check every quote against its page.

The invariant Dossier promises: a citation shown as verified has a quote that
occurs verbatim on the cited page of the cited document (``kb.page_text``),
comparing with whitespace normalised only (runs of whitespace -> one space;
case, punctuation and hyphenation must match exactly).

When an answer carries no ``[n]`` marker (small models often forget), the
evidence is attached by lexical overlap between answer sentences and evidence
passages; each such citation quotes one sentence taken verbatim from the
evidence chunk's body, so it verifies like any other.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from core.errors import NotFoundError
from core.types import Citation
from knowledge_base.service import KnowledgeBase
from tools.retrieval import Evidence

__all__ = [
    "SENTENCE_END",
    "CitationChecker",
    "attach_by_overlap",
    "best_evidence",
    "best_sentence",
    "citation_for",
    "cited_numbers",
    "normalise_whitespace",
    "split_sentences",
    "term_overlap",
    "terms_of",
]

logger = logging.getLogger(__name__)

_WS = re.compile(r"\s+")
_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_WORD = re.compile(r"[A-Za-z0-9]+")
# A sentence ends at . ! ? ; followed by space and a capital, digit, quote or an
# enumerator such as "(c)" / "(iv)"; a blank line always ends one.
SENTENCE_END = re.compile(
    r"(?<=[.!?;])\s+(?=[\"'(\[]?[A-Z0-9]|<|\((?:[a-z]{1,4}|\d{1,3})\)\s)|\n\s*\n"
)
_STOP = frozenset(
    re.findall(
        r"\S+",
        "a an the of to in on for by and or with as at be is are was were this that these "
        "those it its which who what when where how any all such from under shall will may "
        "not no than their there them they he she his her our we you your i do does did has "
        "have had ",
    )
)
#: A quote longer than this is cut at a sentence boundary for display.
MAX_QUOTE_CHARS = 400


def normalise_whitespace(text: str) -> str:
    return _WS.sub(" ", text).strip()


def cited_numbers(answer: str) -> list[int]:
    """The evidence numbers cited with ``[n]`` / ``[n, m]`` markers, first-seen order."""
    seen: list[int] = []
    for match in _MARKER.finditer(answer):
        for part in match.group(1).split(","):
            n = int(part)
            if n not in seen:
                seen.append(n)
    return seen


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, each a verbatim substring of it (stripped)."""
    out = []
    for piece in SENTENCE_END.split(text):
        piece = piece.strip()
        if piece:
            out.append(piece)
    return out


def _stem(word: str) -> str:
    """A crude suffix strip so "governs", "governed", "governing" and "laws" /
    "law" meet (matching only; quotes are never altered)."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def terms_of(text: str) -> set[str]:
    words = (m.lower() for m in _WORD.findall(text))
    return {_stem(w) for w in words if w not in _STOP and len(w) > 1}


def best_evidence(reference: str, evidence: Sequence[Evidence]) -> Evidence | None:
    """The passage holding the sentence closest to ``reference`` (ties: rank)."""
    ref = terms_of(reference)
    best: tuple[float, int] | None = None
    chosen: Evidence | None = None
    for item in evidence:
        score = max(
            (term_overlap(ref, terms_of(s)) for s in split_sentences(item.quote)), default=0.0
        )
        if best is None or (score, -item.n) > best:
            best, chosen = (score, -item.n), item
    return chosen


def term_overlap(a: set[str], b: set[str]) -> float:
    """Share of ``a``'s terms found in ``b`` (0..1)."""
    return len(a & b) / len(a) if a else 0.0


def best_sentence(body: str, reference: str) -> str:
    """The sentence of ``body`` sharing the most terms with ``reference``.

    The result is a verbatim substring of ``body`` (at most
    :data:`MAX_QUOTE_CHARS`, cut at whitespace), so it verifies on the page.
    """
    sentences = [s for s in split_sentences(body) if len(terms_of(s)) >= 2] or [body.strip()]
    ref = terms_of(reference)
    best = max(sentences, key=lambda s: (term_overlap(ref, terms_of(s)), -abs(len(s) - 160)))
    if len(best) > MAX_QUOTE_CHARS:
        cut = best[:MAX_QUOTE_CHARS]
        best = cut[: cut.rfind(" ")] if " " in cut else cut
    return best


def citation_for(item: Evidence, reference: str, n: int | None = None) -> Citation:
    """A citation of ``item`` whose quote is its sentence closest to ``reference``."""
    quote = best_sentence(item.quote, reference)
    offset = item.quote.find(quote)
    start = item.start + offset if offset >= 0 else None
    return Citation(
        n=item.n if n is None else n,
        document_id=item.document_id,
        document=item.document,
        page=item.page,
        quote=quote,
        start=start,
        end=start + len(quote) if start is not None else None,
        chunk_id=item.chunk_id,
    )


def attach_by_overlap(
    answer: str, evidence: Sequence[Evidence], *, min_overlap: float = 0.3, limit: int = 3
) -> list[Evidence]:
    """Evidence an unmarked answer most plausibly used, best first.

    For every answer sentence, the passage sharing the largest share of its
    content words (at least ``min_overlap``) is taken; at most ``limit`` items.
    """
    chosen: dict[int, float] = {}
    bodies = {item.n: terms_of(item.quote) for item in evidence}
    for sentence in split_sentences(answer):
        terms = terms_of(sentence)
        if len(terms) < 2:
            continue
        scored = [(term_overlap(terms, bodies[item.n]), item.n) for item in evidence]
        if not scored:
            break
        score, n = max(scored)
        if score >= min_overlap:
            chosen[n] = max(score, chosen.get(n, 0.0))
    ranked = sorted(chosen, key=lambda n: -chosen[n])[:limit]
    by_n = {item.n: item for item in evidence}
    return [by_n[n] for n in ranked]


class CitationChecker:
    """Checks citations against the stored page text of one tenant.

    Page texts are cached per (document, page) for the checker's lifetime.
    """

    def __init__(self, kb: KnowledgeBase, tenant: str) -> None:
        self.kb = kb
        self.tenant = tenant
        self._pages: dict[tuple[str, int], str | None] = {}

    def _page(self, document_id: str, page: int) -> str | None:
        key = (document_id, page)
        if key not in self._pages:
            try:
                self._pages[key] = normalise_whitespace(
                    self.kb.page_text(self.tenant, document_id, page)
                )
            except NotFoundError:
                self._pages[key] = None
        return self._pages[key]

    def check(self, citation: Citation) -> tuple[Citation, str | None]:
        """Return the citation with ``verified`` set, and the reason when it failed."""
        quote = normalise_whitespace(citation.quote)
        if not quote:
            return citation.model_copy(update={"verified": False}), "empty quote"
        page = self._page(citation.document_id, citation.page)
        if page is None:
            reason = f"page {citation.page} of {citation.document} not found"
        elif quote in page:
            return citation.model_copy(update={"verified": True}), None
        else:
            reason = f"quote not found on page {citation.page} of {citation.document}"
        logger.info("agent.citation_unverified doc=%s page=%d", citation.document_id, citation.page)
        return citation.model_copy(update={"verified": False}), reason

    def check_all(
        self, citations: Sequence[Citation]
    ) -> tuple[list[Citation], list[tuple[Citation, str]]]:
        """Split into (verified, [(dropped, reason), ...]), order preserved."""
        verified: list[Citation] = []
        dropped: list[tuple[Citation, str]] = []
        for citation in citations:
            checked, reason = self.check(citation)
            if reason is None:
                verified.append(checked)
            else:
                dropped.append((checked, reason))
        return verified, dropped
