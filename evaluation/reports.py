"""``dossier eval reports``: search, figures and summaries on SEC filings.

Data: FinanceBench's open sample as laid out in ``financebench-dev``
(``questions.jsonl``: question, gold ``answer``, ``question_type``,
``question_reasoning``, ``evidence`` with ``doc_name`` and a ZERO-based
``evidence_page_num``; ``pdfs/<doc_name>.pdf``).

Page recall@k: the share of a question's gold pages (1-based here) among the
first k pages retrieved, averaged over questions, in two settings:

- ``scoped``: the search restricted to the question's filing (``ask --doc``);
- ``all``: over every filing of the data set, with filing routing on (the
  ``routing_accuracy`` is how often the routed filings include the gold one).

Dossier's pages are those of :func:`tools.page_search.search_pages` (the
``search_documents`` tool's search: k distinct pages). The naive pipeline
(:class:`NaivePages`) is the LangChain tutorial one on PyMuPDF page text:
1000/200-character splits, the same MiniLM, exact cosine; its top-k chunks
give its pages (the same page may come several times, as it does for a user).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.claims import strip_markers
from agent.events import DoneEvent, ErrorEvent
from agent.filings import FILING_REASON
from agent.loop import Agent
from evaluation.report_checks import gold_figure, states_figure
from knowledge_base.protocols import Embedder
from knowledge_base.service import KnowledgeBase
from tools.page_search import search_pages

__all__ = [
    "KS",
    "NaivePages",
    "ReportQuestion",
    "load_report_questions",
    "page_recall",
    "run_figures",
    "run_naive",
    "run_search",
]

log = logging.getLogger(__name__)

KS = (1, 5)
PageRef = tuple[str, int]  # (doc_name, 1-based page)


class ReportDataError(ValueError):
    """The data folder is unusable (names the file and why)."""


@dataclass(frozen=True)
class ReportQuestion:
    question: str
    answer: str
    question_type: str
    reasoning: str
    doc_name: str
    pages: tuple[PageRef, ...]  # gold evidence pages, 1-based, distinct

    @property
    def docs(self) -> list[str]:
        return list(dict.fromkeys(d for d, _ in self.pages)) or [self.doc_name]


def load_report_questions(data: Path, limit: int | None = None) -> list[ReportQuestion]:
    """The questions of ``data/questions.jsonl`` in file order (the first ``limit``)."""
    path = Path(data) / "questions.jsonl"
    if not path.is_file():
        raise ReportDataError(f"{path}: no such file (expected FinanceBench's questions.jsonl)")
    rows: list[ReportQuestion] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            pages = tuple(dict.fromkeys(
                (str(e["doc_name"]), int(e["evidence_page_num"]) + 1) for e in r["evidence"]))  # fmt: skip
            rows.append(ReportQuestion(
                str(r["question"]), str(r["answer"]), str(r.get("question_type") or "unknown"),
                str(r.get("question_reasoning") or "None"), str(r["doc_name"]), pages))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportDataError(f"{path}: line {n} is malformed ({exc!r})") from exc
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise ReportDataError(f"{path}: no questions")
    return rows


def page_recall(found: Sequence[PageRef], gold: Sequence[PageRef], k: int) -> float:
    """Share of the gold pages among the first ``k`` of ``found``."""
    wanted = set(gold)
    return len(wanted & set(found[:k])) / len(wanted) if wanted else 0.0


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _summarise(per_question: list[dict[str, Any]], setting: str) -> dict[str, Any]:
    return {f"recall@{k}": _mean([r[setting][f"recall@{k}"] for r in per_question]) for k in KS}


def run_search(
    kb: KnowledgeBase,
    tenant: str,
    questions: Sequence[ReportQuestion],
    documents: dict[str, str],
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Dossier's page recall, scoped and over all ``documents`` (doc_name ->
    document id), per question and averaged."""
    names = {doc_id: name for name, doc_id in documents.items()}
    rows: list[dict[str, Any]] = []
    latencies: list[float] = []
    for i, q in enumerate(questions):
        row: dict[str, Any] = {"question": q.question, "doc": q.doc_name,
                               "gold_pages": [p for _, p in q.pages]}  # fmt: skip
        scope = [documents[d] for d in q.docs if d in documents]
        for setting, ids in (("scoped", scope), ("all", None)):
            t0 = time.perf_counter()
            found = search_pages(kb, tenant, q.question, k=max(KS), document_ids=ids)
            latencies.append((time.perf_counter() - t0) * 1000)
            pages = [(names.get(h.chunk.document_id, h.chunk.document_id), h.chunk.page)
                     for h in found.hits]  # fmt: skip
            row[setting] = {f"recall@{k}": page_recall(pages, q.pages, k) for k in KS}
            row[setting]["pages"] = [f"{d}:{p}" for d, p in pages]
            if setting == "all":
                routed = [names.get(f.document_id, f.document_id) for f in found.filings]
                row["routed"] = routed
                row["routed_right"] = bool(routed) and set(q.docs) <= set(routed)
                row["statements"] = found.statements
        rows.append(row)
        if on_progress is not None:
            on_progress(i + 1, len(questions))
    return {
        "scoped": _summarise(rows, "scoped"),
        "all": _summarise(rows, "all"),
        "routing_accuracy": _mean([float(r["routed_right"]) for r in rows]),
        "query_ms_p50": round(float(np.median(latencies)), 1) if latencies else None,
        "questions": rows,
    }


class NaivePages:
    """The naive LangChain pipeline over PDF pages, as tutorials build it (and
    as :func:`evaluation.baseline.langchain_ingest` measures its ingestion):
    PyMuPDF text of each page, ``RecursiveCharacterTextSplitter(1000, 200)``,
    the same MiniLM, exact cosine top-k; each chunk keeps its page."""

    def __init__(
        self, pdfs: dict[str, Path], embedder: Embedder, cache: Path | None = None
    ) -> None:
        """``embedder``: Dossier's MiniLM (same weights as the tutorials' model).
        ``cache``: a ``.npz`` holding the chunk vectors of these same PDFs
        (by name and size), read instead of embedding again, else written."""
        import pymupdf
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        self.refs: list[PageRef] = []
        texts: list[str] = []
        for name, path in pdfs.items():
            with pymupdf.open(path) as pdf:
                for number, page in enumerate(pdf, 1):
                    for piece in splitter.split_text(page.get_text()):
                        self.refs.append((name, number))
                        texts.append(piece)
        self.pages = len({ref for ref in self.refs})
        self.chunks = len(texts)
        self._embedder = embedder
        key = json.dumps(sorted((n, p.stat().st_size) for n, p in pdfs.items()))
        if cache is not None and cache.is_file():
            stored = np.load(cache, allow_pickle=False)
            if str(stored["key"]) == key and len(stored["matrix"]) == len(texts):
                self.matrix = stored["matrix"]
                return
        self.matrix = np.asarray(self._embedder.embed_batch(texts), dtype=np.float32)
        if cache is not None:
            np.savez(cache, key=np.asarray(key), matrix=self.matrix)

    def search(self, query: str, k: int, doc: str | None = None) -> list[PageRef]:
        """Pages of the top ``k`` chunks (of ``doc`` only when given), best first."""
        scores = self.matrix @ np.asarray(self._embedder.embed_batch([query])[0], np.float32)
        if doc is not None:
            scores = np.where([name == doc for name, _ in self.refs], scores, -np.inf)
        order = np.argsort(-scores, kind="stable")[:k]
        return [self.refs[i] for i in order if np.isfinite(scores[i])]


def run_naive(
    questions: Sequence[ReportQuestion],
    pdfs: dict[str, Path],
    embedder: Embedder,
    cache: Path | None = None,
) -> dict[str, Any]:
    """The naive pipeline's page recall, scoped and over all ``pdfs``."""
    t0 = time.perf_counter()
    naive = NaivePages(pdfs, embedder, cache)
    index_s = time.perf_counter() - t0
    rows = []
    for q in questions:
        row: dict[str, Any] = {}
        for setting, doc in (("scoped", q.doc_name), ("all", None)):
            pages = naive.search(q.question, max(KS), doc)
            row[setting] = {f"recall@{k}": page_recall(pages, q.pages, k) for k in KS}
        rows.append(row)
    return {
        "scoped": _summarise(rows, "scoped"),
        "all": _summarise(rows, "all"),
        "pages": naive.pages,
        "chunks": naive.chunks,
        "index_s": round(index_s, 1),
    }


# -- figures: the agent's answers (the code path of `dossier ask --doc`) -------------


async def run_figures(
    agent: Agent,
    questions: Sequence[ReportQuestion],
    documents: dict[str, str],
    tenant: str,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Ask each question scoped to its filing and score the figure it states
    (:func:`evaluation.report_checks.states_figure`); golds that are not one
    number are answered but not scored."""
    rows: list[dict[str, Any]] = []
    for i, q in enumerate(questions):
        gold = gold_figure(q.answer)
        scope = [documents[d] for d in q.docs if d in documents]
        done: DoneEvent | None = None
        error: str | None = None
        t0 = time.perf_counter()
        async for event in agent.stream_answer(q.question, tenant, document_ids=scope or None):
            if isinstance(event, DoneEvent):
                done = event
            elif isinstance(event, ErrorEvent):
                error = event.message
        answer = strip_markers(done.answer) if done else ""
        scored = answer
        for claim in done.claims if done else []:  # the filing line states no figure
            if claim.get("reason") == FILING_REASON:
                scored = scored.replace(str(claim["text"]), "", 1).strip()
        rows.append({
            "question": q.question, "type": q.question_type, "reasoning": q.reasoning,
            "doc": q.doc_name, "gold": q.answer, "answer": answer[:600],
            "correct": None if gold is None else states_figure(scored, gold),
            "error": error, "total_s": round(time.perf_counter() - t0, 2),
        })  # fmt: skip
        if on_progress is not None:
            on_progress(i + 1, len(questions))
    return {**_figure_summary(rows), "answers": rows}


def _accuracy(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    scored = [r for r in rows if r["correct"] is not None]
    return {
        "n": len(rows),
        "figure_golds": len(scored),
        "correct": sum(bool(r["correct"]) for r in scored),
        "accuracy": _mean([float(bool(r["correct"])) for r in scored]),
    }


def _figure_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    target = [r for r in rows if r["type"] == "metrics-generated"
              or "information extraction" in r["reasoning"].lower()]  # fmt: skip
    return {
        "overall": _accuracy(rows),
        "target": _accuracy(target),
        "by_type": {
            t: _accuracy([r for r in rows if r["type"] == t])
            for t in dict.fromkeys(r["type"] for r in rows)
        },
        "errors": sum(bool(r["error"]) for r in rows),
    }
