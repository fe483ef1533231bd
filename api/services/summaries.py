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

from core.errors import LLMError
from core.settings import LLMSettings
from core.types import Chunk
from knowledge_base.service import KnowledgeBase

__all__ = ["SummaryService", "render_digest_markdown", "render_summary_markdown"]

log = logging.getLogger(__name__)

SECTION_SENTENCES = 2
DOC_SENTENCES = 5
DIGEST_SENTENCES = 6
SECTION_CHUNKS = 8
MAX_SENTENCES_PER_SECTION = 300
_MIN_LEN, _MAX_LEN = 40, 600
_SENTENCE_END = re.compile(
    r"(?<=[.!?;:])\s+(?=[\"'“(\[A-Z0-9])|\n\s*\n|\n(?=\s*(?:\(?[a-z0-9]{1,3}[.)]\s))"
)
_LLM_SECTION_CHARS = 3000


def _sentences(chunk: Chunk) -> list[dict[str, Any]]:
    """Sentences of a chunk body with page offsets (verbatim slices)."""
    out = []
    body, pos = chunk.body, 0
    for match in [*_SENTENCE_END.finditer(body), None]:
        end = match.start() if match else len(body)
        raw = body[pos:end]
        lead = len(raw) - len(raw.lstrip())
        text = raw.strip()
        if _MIN_LEN <= len(text) <= _MAX_LEN and sum(ch.isalpha() for ch in text) > len(text) / 2:
            start = chunk.start + pos + lead
            out.append({
                "document_id": chunk.document_id, "document": chunk.document_name,
                "page": chunk.page, "quote": text, "start": start, "end": start + len(text),
                "chunk_id": chunk.id, "ordinal": chunk.ordinal,
            })  # fmt: skip
        pos = match.end() if match else len(body)
    return out


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


def _central(vectors: np.ndarray, k: int, reference: np.ndarray | None = None) -> list[int]:
    """Indices of the k most central rows (or most similar to ``reference``), in order."""
    if len(vectors) == 0:
        return []
    if reference is not None:
        scores = vectors @ reference
    else:
        sims = vectors @ vectors.T
        scores = (sims.sum(axis=1) - 1.0) / max(len(vectors) - 1, 1)
    top = np.argsort(-scores, kind="stable")[:k]
    return sorted(int(i) for i in top)


def _public(sentence: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sentence.items() if k != "ordinal"}


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

    # -- one document -------------------------------------------------------------
    def summarize_document(
        self, tenant: str, document_id: str, *, method: str = "auto"
    ) -> dict[str, Any]:
        """Map-reduce summary of one READY document (NotFoundError otherwise)."""
        record = self.kb.get_document(tenant, document_id)
        chunks = self.kb.document_chunks(tenant, document_id)
        use_llm = method == "llm" or (method == "auto" and self.llm_base_url is not None)
        sections_out: list[dict[str, Any]] = []
        picked: list[dict[str, Any]] = []
        picked_vecs: list[np.ndarray] = []
        all_vecs: list[np.ndarray] = []
        for title, members in _sections(chunks):
            sentences = [s for c in members for s in _sentences(c)][:MAX_SENTENCES_PER_SECTION]
            if not sentences:
                continue
            vecs = np.asarray(self.kb.embedder.embed_batch([s["quote"] for s in sentences]))
            all_vecs.append(vecs)
            idx = _central(vecs, SECTION_SENTENCES)
            cites = [sentences[i] for i in idx]
            picked.extend(cites)
            picked_vecs.extend(vecs[i] for i in idx)
            text = " ".join(s["quote"] for s in cites)
            used = "extractive"
            if use_llm:
                generated = self._llm_summary(title, " ".join(c.body for c in members))
                if generated:
                    text, used = generated, "llm"
            sections_out.append({
                "title": title, "pages": sorted({c.page for c in members}), "summary": text,
                "method": used, "citations": [_public(s) for s in cites],
            })  # fmt: skip
        doc_cites: list[dict[str, Any]] = []
        if picked:
            centroid = np.vstack(all_vecs).mean(axis=0)
            centroid /= np.linalg.norm(centroid) or 1.0
            doc_cites = [
                picked[i] for i in _central(np.vstack(picked_vecs), DOC_SENTENCES, centroid)
            ]
        summary_text = " ".join(s["quote"] for s in doc_cites)
        method_used = "extractive"
        if use_llm and any(s["method"] == "llm" for s in sections_out):
            combined = self._llm_combine(record.name, [s["summary"] for s in sections_out])
            if combined:
                summary_text, method_used = combined, "llm"
        log.info("summaries.document doc=%s sections=%d method=%s", document_id,
                 len(sections_out), method_used)  # fmt: skip
        return {
            "document_id": record.id, "document": record.name, "pages": record.pages,
            "method": method_used, "summary": summary_text,
            "citations": [_public(s) for s in doc_cites], "sections": sections_out,
        }  # fmt: skip

    # -- across documents ---------------------------------------------------------
    def digest(self, summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Each document's lead sentence plus the most central sentences overall."""
        pool = [c for s in summaries for c in s["citations"]]
        overview: list[dict[str, Any]] = []
        if pool:
            vecs = np.asarray(self.kb.embedder.embed_batch([c["quote"] for c in pool]))
            overview = [pool[i] for i in _central(vecs, DIGEST_SENTENCES)]
        return {
            "documents": [
                {"document_id": s["document_id"], "document": s["document"],
                 "lead": s["citations"][0] if s["citations"] else None,
                 "summary": s["summary"]}
                for s in summaries
            ],
            "overview": overview,
        }  # fmt: skip

    # -- LLM -------------------------------------------------------------------------
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

    def _llm_combine(self, name: str, parts: Sequence[str]) -> str | None:
        joined = "\n".join(f"- {p}" for p in parts)[:_LLM_SECTION_CHARS]
        prompt = (
            f"These are summaries of the sections of the document {name!r}. "
            f"Write one short paragraph summarising the whole document.\n\n{joined}"
        )
        return self._complete(prompt, 200)


def _cite_line(n: int, c: dict[str, Any]) -> str:
    return f'[^{n}]: {c["document"]}, p. {c["page"]}: "{c["quote"]}"'


def render_summary_markdown(summary: dict[str, Any]) -> str:
    """A document summary as Markdown with numbered footnotes."""
    lines = [
        f"# {summary['document']}",
        "",
        f"*{summary['pages']} pages · {summary['method']} summary*",
        "",
    ]
    notes: list[str] = []

    def cite(cs: Sequence[dict[str, Any]]) -> str:
        refs = []
        for c in cs:
            notes.append(_cite_line(len(notes) + 1, c))
            refs.append(f"[^{len(notes)}]")
        return "".join(refs)

    lines += ["## Summary", "", f"{summary['summary']} {cite(summary['citations'])}".strip(), ""]
    for section in summary["sections"]:
        pages = section["pages"]
        span = f"p. {pages[0]}" if len(pages) == 1 else f"pp. {pages[0]}–{pages[-1]}"
        lines += [f"## {section['title']} ({span})", "",
                  f"{section['summary']} {cite(section['citations'])}".strip(), ""]  # fmt: skip
    return "\n".join(lines + notes) + "\n"


def render_digest_markdown(digest: dict[str, Any]) -> str:
    lines = ["# Digest", ""]
    notes: list[str] = []
    for d in digest["documents"]:
        lead = d.get("lead")
        ref = ""
        if lead:
            notes.append(_cite_line(len(notes) + 1, lead))
            ref = f" [^{len(notes)}]"
        lines.append(f"- **{d['document']}**: {(lead or {}).get('quote', d['summary'])}{ref}")
    if digest["overview"]:
        lines += ["", "## Across the documents", ""]
        for c in digest["overview"]:
            notes.append(_cite_line(len(notes) + 1, c))
            lines.append(f"- {c['quote']} [^{len(notes)}]")
    return "\n".join([*lines, "", *notes]) + "\n"
