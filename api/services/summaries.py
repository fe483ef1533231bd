"""Document summaries, map-reduce over sections, every sentence cited.

- **map**: the document's chunks (reading order) are grouped by top-level
  section (the first element of ``heading_path``; a document without headings
  is cut into runs of ``SECTION_CHUNKS`` chunks). Each section is summarised:
  *extractive* — its most central sentences by embedding centrality
  (mean cosine similarity to the section's other sentences, LexRank-style),
  kept in reading order, each a verbatim quote with document, page and
  offsets; or *llm* — the model writes two sentences from the section text and
  the extractive sentences are kept as its cited support.
- **reduce**: the section picks are ranked by similarity to the whole
  document's centroid; the top ``DOC_SENTENCES`` (in reading order) are the
  document summary (llm: the model combines the section summaries).
- **digest**: across documents, each document's lead sentence plus the
  sentences most central to the whole set.

``method``: "extractive", "llm", or "auto" (llm when a server answers, else
extractive). A failed LLM call falls back to extractive for that section.
Every quote occurs verbatim on its page (``page_text[start:end] == quote``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from agent.claims import ClaimChecker, strip_markup
from api.services.report_summary import summarize_report
from api.services.summary_render import (
    render_digest_csv,
    render_digest_markdown,
    render_summary_markdown,
)
from api.services.summary_text import drop_repeats, is_boilerplate, split_sentences
from core.errors import LLMError, NotFoundError
from core.report_digest import comparison_rows
from core.settings import LLMSettings
from core.types import Chunk, DocumentStatus
from ingest.reports import report_profile
from knowledge_base.citation_graph import CitationGraph
from knowledge_base.service import KnowledgeBase
from tools.retrieval import Evidence

__all__ = [
    "SummaryService",
    "checked_sentences",
    "render_digest_csv",
    "render_digest_markdown",
    "render_summary_markdown",
]

log = logging.getLogger(__name__)

SECTION_SENTENCES = 2
DOC_SENTENCES = 5
DIGEST_SENTENCES = 6
SECTION_CHUNKS = 8
MAX_SENTENCES_PER_SECTION = 300
_LLM_SECTION_CHARS = 3000
#: A model sentence in a summary restates one quoted passage: a higher cosine
#: floor than answers' (0.45), which let a sentence mixing three quotes stand.
SUMMARY_MIN_SIMILARITY = 0.65
SUMMARY_COVERAGE = 0.8


def _sentences(chunk: Chunk) -> list[dict[str, Any]]:
    """Quotable sentences of a chunk body with page offsets (verbatim slices);
    none from a boilerplate passage."""
    if is_boilerplate("", chunk.body):
        return []
    return split_sentences(
        chunk.body, page=chunk.page, offset=chunk.start, document_id=chunk.document_id,
        document=chunk.document_name, chunk_id=chunk.id, ordinal=chunk.ordinal,
    )  # fmt: skip


def _sections(chunks: Sequence[Chunk]) -> list[tuple[str, list[Chunk]]]:
    sections: list[tuple[str, list[Chunk]]] = []
    for chunk in chunks:
        title = chunk.heading_path[0] if chunk.heading_path else None
        if title is None:
            if (
                sections
                and sections[-1][0].startswith("Part ")
                and len(sections[-1][1]) < SECTION_CHUNKS
            ):
                sections[-1][1].append(chunk)
                continue
            title = f"Part {sum(1 for t, _ in sections if t.startswith('Part ')) + 1}"
        if sections and sections[-1][0] == title:
            sections[-1][1].append(chunk)
        else:
            sections.append((title, [chunk]))
    return sections


def _by_centrality(vectors: np.ndarray) -> list[int]:
    """Row indices, most central first (mean cosine to the other rows, LexRank-style)."""
    if len(vectors) == 0:
        return []
    sims = vectors @ vectors.T
    scores = (sims.sum(axis=1) - 1.0) / max(len(vectors) - 1, 1)
    return [int(i) for i in np.argsort(-scores, kind="stable")]


_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "from",
        "was",
        "were",
        "are",
        "has",
        "have",
        "had",
        "its",
        "their",
        "which",
        "into",
        "also",
        "than",
        "other",
        "such",
        "all",
        "any",
        "can",
        "may",
        "our",
        "been",
        "being",
        "including",
    ]
)


def _covered(sentence: str, quote: str) -> bool:
    """At least :data:`SUMMARY_COVERAGE` of the sentence's words are in the quote
    (the claim check's facts and cosine let a sentence splice in an unquoted clause)."""
    words = {w for w in re.findall(r"[a-z0-9$%]{3,}", sentence.lower()) if w not in _STOP}
    found = set(re.findall(r"[a-z0-9$%]{3,}", quote.lower()))
    return not words or len(words & found) / len(words) >= SUMMARY_COVERAGE


def checked_sentences(
    text: str, cites: Sequence[dict[str, Any]], checker: ClaimChecker
) -> list[str]:
    """The sentences of model-written ``text`` that the claim check finds in
    ``cites`` (verbatim quotes), repeats and unsupported sentences left out."""
    pool = [
        Evidence(n=i, chunk_id=c.get("chunk_id") or f"{c['document_id']}:{c['page']}:{c['start']}",
                 document_id=c["document_id"], document=c["document"], page=c["page"],
                 quote=c["quote"], start=c["start"], end=c["end"])
        for i, c in enumerate(cites, start=1)
    ]  # fmt: skip
    kept: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", strip_markup(text).strip()):
        if not sentence.strip():
            continue
        claim = checker.check(sentence, pool, earlier=kept)
        if claim.support is not None and _covered(claim.text, claim.support.quote):
            kept.append(claim.text)
    return kept


def _public(sentence: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sentence.items() if k != "ordinal"}


def _digest_entry(summary: dict[str, Any]) -> dict[str, Any]:
    """A document's line in the digest: its lead sentence, or for a report its
    revenue and net income sentences with their rows (``citations``)."""
    entry = {"document_id": summary["document_id"], "document": summary["document"]}
    if summary.get("kind") != "report":
        lead = summary["citations"][0] if summary["citations"] else None
        return entry | {"lead": lead, "summary": summary["summary"]}
    heads = [f for f in summary.get("figures", []) if f["metric"] in ("revenue", "net_income")]
    if not heads:
        return entry | {"lead": None, "summary": summary["summary"]}
    return entry | {"lead": None, "summary": " ".join(f["sentence"] for f in heads),
                    "citations": [f["citations"][0] for f in heads]}  # fmt: skip


class SummaryService:
    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        llm_base_url: str | None = None,
        llm_settings: LLMSettings | None = None,
    ) -> None:
        self.kb = kb
        self.llm_base_url = llm_base_url
        self.llm_settings = llm_settings or LLMSettings()

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.kb.embedder.embed_batch(texts), dtype=np.float32)

    # -- one document -------------------------------------------------------------
    def summarize_document(
        self, tenant: str, document_id: str, *, method: str = "auto"
    ) -> dict[str, Any]:
        """Summary of one READY document (NotFoundError otherwise): a report's
        (results, drivers, risks; see :mod:`api.services.report_summary`) or the
        map-reduce summary of any other document."""
        record = self.kb.get_document(tenant, document_id)
        if record.status is not DocumentStatus.READY:
            raise NotFoundError(f"document {document_id} is not ready ({record.status})")
        use_llm = method == "llm" or (method == "auto" and self.llm_base_url is not None)
        profile = self._report_profile(tenant, document_id)
        if profile is not None:
            pages = [p.text for p in self.kb.pages(tenant, document_id)]
            summary = summarize_report(record, pages, profile, self._embed)
            if not summary["drivers"]:  # no MD&A (an earnings release, an 8-K)
                chunks = self.kb.document_chunks(tenant, document_id)
                self._add_highlights(summary, record, chunks)
            if use_llm:
                self._llm_sections(summary, skip=("Results",))
        else:
            chunks = self.kb.document_chunks(tenant, document_id)
            summary = self._map_reduce(record, chunks, use_llm)
        log.info("summaries.document doc=%s kind=%s sections=%d method=%s", document_id,
                 summary.get("kind", "document"), len(summary["sections"]),
                 summary["method"])  # fmt: skip
        return summary

    def _report_profile(self, tenant: str, document_id: str) -> dict[str, Any] | None:
        """The report profile when the document is a report, else None."""
        stored = getattr(self.kb, "report_profile", None)
        found = stored(tenant, document_id) if stored is not None else None
        if found is not None:
            return dict(found)
        graph = CitationGraph(self.kb.catalog).profile(tenant, document_id)
        if graph is None or graph.kind != "report":
            return None
        pages = [p.text for p in self.kb.pages(tenant, document_id)[:3]]
        name = self.kb.get_document(tenant, document_id).name
        return report_profile(pages, name).to_json()

    def _add_highlights(
        self, summary: dict[str, Any], record: Any, chunks: Sequence[Chunk]
    ) -> None:
        """A report without a management discussion: its most central quotable
        sentences (the map-reduce picks) as a Highlights section."""
        picks = self._map_reduce(record, chunks, False)["citations"]
        if not picks:
            return
        summary["sections"].append({"title": "Highlights", "pages": sorted({c["page"] for c in picks}),
                                    "summary": " ".join(c["quote"] for c in picks),
                                    "method": "extractive", "citations": picks})  # fmt: skip
        summary["summary"] = " ".join(
            [summary["summary"], *(c["quote"] for c in picks[:3])]
        ).strip()
        summary["citations"] = summary["citations"] + picks[:3]

    def _map_reduce(self, record: Any, chunks: Sequence[Chunk], use_llm: bool) -> dict[str, Any]:
        sections_out: list[dict[str, Any]] = []
        picked: list[dict[str, Any]] = []
        picked_vecs: list[np.ndarray] = []
        all_vecs: list[np.ndarray] = []
        for title, members in _sections(chunks):
            sentences = [s for c in members for s in _sentences(c)][:MAX_SENTENCES_PER_SECTION]
            if not sentences:
                continue
            vecs = self._embed([s["quote"] for s in sentences])
            all_vecs.append(vecs)
            idx = sorted(drop_repeats(_by_centrality(vecs), sentences, vecs, SECTION_SENTENCES))
            cites = [sentences[i] for i in idx]
            picked.extend(cites)
            picked_vecs.extend(vecs[i] for i in idx)
            sections_out.append({
                "title": title, "pages": sorted({c.page for c in members}),
                "summary": " ".join(s["quote"] for s in cites), "method": "extractive",
                "citations": [_public(s) for s in cites], "_text": " ".join(c.body for c in members),
            })  # fmt: skip
        doc_cites: list[dict[str, Any]] = []
        if picked:
            centroid = np.vstack(all_vecs).mean(axis=0)
            centroid /= np.linalg.norm(centroid) or 1.0
            stacked = np.vstack(picked_vecs)
            order = list(np.argsort(-(stacked @ centroid), kind="stable"))
            doc_cites = [
                picked[i] for i in sorted(drop_repeats(order, picked, stacked, DOC_SENTENCES))
            ]
        summary = {
            "document_id": record.id, "document": record.name, "pages": record.pages,
            "method": "extractive", "summary": " ".join(s["quote"] for s in doc_cites),
            "citations": [_public(s) for s in doc_cites], "sections": sections_out,
        }  # fmt: skip
        if use_llm:
            self._llm_sections(summary)
        for section in sections_out:
            section.pop("_text", None)
        return summary

    # -- across documents ---------------------------------------------------------
    def digest(self, summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Each document's lead sentence, the most central sentences overall
        (no repeats) and, for reports, the comparison table (``comparison``)."""
        pool = [c for s in summaries for c in s["citations"] if s.get("kind") != "report"]
        pool += [c for s in summaries if s.get("kind") == "report" for c in s.get("drivers", [])]
        overview: list[dict[str, Any]] = []
        if pool:
            vecs = self._embed([c["quote"] for c in pool])
            overview = [pool[i] for i in sorted(
                drop_repeats(_by_centrality(vecs), pool, vecs, DIGEST_SENTENCES))]  # fmt: skip
        return {
            "documents": [_digest_entry(s) for s in summaries],
            "overview": overview,
            "comparison": comparison_rows(summaries),
        }  # fmt: skip

    # -- LLM -------------------------------------------------------------------------
    def _llm_sections(self, summary: dict[str, Any], skip: Sequence[str] = ()) -> None:
        """Model-written section summaries, each sentence kept only when the
        claim check finds it in the section's cited sentences; a section
        with no such sentence keeps its extractive text."""
        checker = ClaimChecker(self.kb.embedder, min_similarity=SUMMARY_MIN_SIMILARITY)
        for section in summary["sections"]:
            if section["title"] in skip or not section["citations"]:
                continue
            source = section.get("_text") or section["summary"]
            generated = self._llm_summary(section["title"], source)
            kept = checked_sentences(generated or "", section["citations"], checker)
            if kept:
                section["summary"] = " ".join(kept)
                section["method"] = summary["method"] = "llm"

    def _complete(self, prompt: str, max_tokens: int) -> str | None:
        from agent.llm import OpenAIChatModel

        async def go() -> str:
            model = OpenAIChatModel(self.llm_settings, self.llm_base_url)
            try:
                reply = await model.complete(
                    [{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0.1
                )
                return reply.text.strip()
            finally:
                await model.aclose()

        try:
            text = asyncio.run(go())
        except LLMError as exc:
            log.warning("summaries.llm_failed error=%s", type(exc).__name__)
            return None
        return text or None

    def _llm_summary(self, title: str, text: str) -> str | None:
        prompt = (
            "Summarise this section of a legal document in at most two plain sentences. "
            "State only what the text says.\n\n"
            f"Section: {title}\n\n{text[:_LLM_SECTION_CHARS]}"
        )
        return self._complete(prompt, 120)
