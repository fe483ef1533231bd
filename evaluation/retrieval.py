"""The LegalBench-RAG retrieval evaluation: queries, corpus, runner, report.

The runner is independent of Dossier: it takes any
``search(query, k) -> list[(file name, start, end)]`` callable, asks it for
every k, and scores the answers with :mod:`evaluation.metrics`.
:func:`knowledge_base_search` adapts a Dossier ``KnowledgeBase`` to that
callable; :class:`evaluation.baseline.NaiveRetriever` is the paper's baseline.

Input format (LegalBench-RAG): ``{"tests": [{"query": ..., "snippets":
[{"file_path": "cuad/<txt name>", "span": [start, end], "answer": ...}]}]}``.
Spans are character offsets into the ``.txt`` file read as UTF-8 text. File
paths are reduced to their bare file name (the ``cuad/`` folder is the
benchmark's corpus layout, not ours).

Every query is run over the whole corpus (every file any selected query
refers to, as the reference implementation does), not only over its own
document, so retrieving from the wrong contract costs precision.

``--source pdf`` limitation: the ground truth refers to the CUAD ``.txt``
rendering. When the PDFs are indexed instead, each retrieved chunk (verbatim
PDF page text) is located in the ``.txt`` of the same stem by a
whitespace-insensitive exact match (:class:`TextLocator`). Chunks that cannot
be located (different line breaking, hyphenation, OCR, headers/footers) still
count as retrieved characters but overlap nothing, so PDF-mode scores are a
lower bound; the report gives the fraction of hits that could be mapped.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from core.types import Hit, SearchMode
from evaluation.metrics import (
    FileSpan,
    PrecisionRecall,
    mean_precision_recall,
    span_precision_recall,
)
from knowledge_base.protocols import Embedder

__all__ = [
    "DEFAULT_KS",
    "EvaluationInputError",
    "RetrievalQuery",
    "RetrievalReport",
    "SearchFn",
    "TextLocator",
    "corpus_files",
    "evaluate",
    "ingest_corpus",
    "knowledge_base_search",
    "load_queries",
    "parse_ks",
    "run_baseline",
]

log = logging.getLogger(__name__)

DEFAULT_KS = (1, 2, 4, 8, 16, 32, 64)
Source = Literal["txt", "pdf"]
#: ``search(query, k)``: best-first ``(file name, start, end)`` spans.
SearchFn = Callable[[str, int], list[FileSpan]]


class EvaluationInputError(ValueError):
    """The queries file or the corpus folder is unusable (names the file and why)."""


@dataclass(frozen=True)
class RetrievalQuery:
    query: str
    truth: tuple[FileSpan, ...]
    tags: tuple[str, ...] = ()

    @property
    def files(self) -> set[str]:
        return {name for name, _, _ in self.truth}


def load_queries(path: Path, *, limit: int | None = None) -> list[RetrievalQuery]:
    """Read a LegalBench-RAG benchmark file; the first ``limit`` queries if given."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvaluationInputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise EvaluationInputError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from exc
    tests = data.get("tests") if isinstance(data, dict) else None
    if not isinstance(tests, list):
        raise EvaluationInputError(f"{path}: expected an object with a 'tests' list")
    queries: list[RetrievalQuery] = []
    for i, test in enumerate(tests[:limit] if limit is not None else tests):
        try:
            truth = tuple(
                (Path(s["file_path"]).name, int(s["span"][0]), int(s["span"][1]))
                for s in test["snippets"]
            )
            queries.append(RetrievalQuery(str(test["query"]), truth, tuple(test.get("tags", ()))))
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise EvaluationInputError(f"{path}: test #{i} is malformed ({exc!r})") from exc
    if not queries:
        raise EvaluationInputError(f"{path}: no queries")
    return queries


def corpus_files(
    queries: Iterable[RetrievalQuery], corpus_dir: Path, source: Source = "txt"
) -> dict[str, Path]:
    """Map every ``.txt`` name the queries refer to onto the file to ingest.

    For ``source="pdf"`` the file is ``<stem>.pdf`` in ``corpus_dir``. Raises
    :class:`EvaluationInputError` naming the missing files.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise EvaluationInputError(f"{corpus_dir}: not a folder")
    wanted = sorted({name for q in queries for name in q.files})
    mapping: dict[str, Path] = {}
    missing: list[str] = []
    for name in wanted:
        path = corpus_dir / (name if source == "txt" else Path(name).stem + ".pdf")
        if path.is_file():
            mapping[name] = path
        else:
            missing.append(path.name)
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise EvaluationInputError(f"{corpus_dir}: {len(missing)} corpus file(s) missing: {shown}")
    return mapping


def parse_ks(text: str) -> tuple[int, ...]:
    """``"1,2,4"`` → ``(1, 2, 4)``; sorted, unique, all positive."""
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise EvaluationInputError(f"--k {text!r}: expected comma-separated integers") from exc
    if not ks or ks[0] <= 0:
        raise EvaluationInputError(f"--k {text!r}: expected positive integers")
    return tuple(ks)


@dataclass
class RetrievalReport:
    """Mean precision/recall per k over ``queries`` queries, plus timings."""

    queries: int
    at_k: dict[int, PrecisionRecall]
    query_ms_p50: float
    ingest_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "queries": self.queries,
            "k": {str(k): pr.to_json() for k, pr in sorted(self.at_k.items())},
            "ingest_s": round(self.ingest_s, 3) if self.ingest_s is not None else None,
            "query_ms_p50": round(self.query_ms_p50, 2),
        }
        out.update(self.extra)
        return out


def evaluate(
    queries: Sequence[RetrievalQuery],
    search: SearchFn,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    nested: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> RetrievalReport:
    """Run every query at every k and average the LegalBench-RAG scores.

    ``nested=True`` declares that the top-k of a smaller k is always a prefix
    of a larger one (true for exact dense search): the runner then asks once,
    for the largest k, and slices. Otherwise it asks once per k, because a
    fused (hybrid) ranking need not be prefix-stable. ``query_ms_p50`` is the
    median wall time of one ``search`` call.
    """
    ks = sorted(set(ks))
    per_k: dict[int, list[PrecisionRecall]] = {k: [] for k in ks}
    latencies: list[float] = []

    def timed(query: str, k: int) -> list[FileSpan]:
        t0 = time.perf_counter()
        spans = search(query, k)
        latencies.append((time.perf_counter() - t0) * 1000)
        return spans

    for i, q in enumerate(queries):
        if nested:
            ranked = timed(q.query, ks[-1])
            answers = {k: ranked[:k] for k in ks}
        else:
            answers = {k: timed(q.query, k)[:k] for k in ks}
        for k in ks:
            per_k[k].append(span_precision_recall(answers[k], q.truth))
        if on_progress is not None:
            on_progress(i + 1, len(queries))
    return RetrievalReport(
        queries=len(queries),
        at_k={k: mean_precision_recall(scores) for k, scores in per_k.items()},
        query_ms_p50=statistics.median(latencies) if latencies else 0.0,
    )


class _Searcher(Protocol):
    def search(
        self,
        tenant: str,
        query: str,
        *,
        k: int = 8,
        mode: SearchMode = "hybrid",
        document_ids: Sequence[str] | None = None,
        route: bool = True,
    ) -> list[Hit]: ...


_WS = re.compile(r"\s+")


class TextLocator:
    """Find a verbatim passage in a text, ignoring differences in whitespace.

    Used for ``--source pdf``: PDF chunk bodies are located in the CUAD
    ``.txt`` so their spans can be compared with the ground truth.
    """

    def __init__(self, text: str) -> None:
        pieces: list[str] = []
        self._offsets: list[int] = []  # normalised index -> original index
        for match in re.finditer(r"\S+", text):
            if pieces:
                pieces.append(" ")
                self._offsets.append(match.start())
            pieces.append(match.group())
            self._offsets.extend(range(match.start(), match.end()))
        self._normal = "".join(pieces)
        self._text_len = len(text)

    def locate(self, passage: str) -> tuple[int, int] | None:
        """``(start, end)`` in the original text of the first match, or None."""
        needle = _WS.sub(" ", passage).strip()
        if not needle:
            return None
        at = self._normal.find(needle)
        if at < 0:
            return None
        start = self._offsets[at]
        end = self._offsets[at + len(needle) - 1] + 1
        return start, end


def knowledge_base_search(
    kb: _Searcher,
    tenant: str,
    *,
    mode: SearchMode = "hybrid",
    name_map: dict[str, str] | None = None,
    locators: dict[str, TextLocator] | None = None,
    stats: dict[str, int] | None = None,
    route: bool = True,
) -> SearchFn:
    """Adapt ``KnowledgeBase.search`` to the runner's ``search(query, k)``.

    ``name_map`` maps the indexed document name to the ground-truth file name
    (identity for ``.txt``; ``<stem>.pdf`` → ``<stem>.txt`` for PDFs). With
    ``locators`` (PDF mode) a hit's span is found in the ``.txt`` by its body
    text; an unlocatable hit keeps its length under a name that matches no
    ground truth, so it counts as retrieved but irrelevant. ``stats`` (if
    given) counts ``hits`` and ``unmapped``.
    """

    def search(query: str, k: int) -> list[FileSpan]:
        spans: list[FileSpan] = []
        for hit in kb.search(tenant, query, k=k, mode=mode, route=route):
            chunk = hit.chunk
            name = (name_map or {}).get(chunk.document_name, chunk.document_name)
            if stats is not None:
                stats["hits"] = stats.get("hits", 0) + 1
            if locators is None:
                spans.append((name, chunk.start, chunk.end))
                continue
            locator = locators.get(name)
            where = locator.locate(chunk.body) if locator is not None else None
            if where is None:
                if stats is not None:
                    stats["unmapped"] = stats.get("unmapped", 0) + 1
                spans.append((f"<unmapped>{name}", 0, chunk.end - chunk.start))
            else:
                spans.append((name, *where))
        return spans

    return search


class _Ingester(Protocol):
    def ingest_file(self, path: Path, tenant: str, *, name: str | None = None) -> Any: ...

    def flush(self) -> None: ...


def ingest_corpus(
    pipeline: _Ingester,
    files: dict[str, Path],
    tenant: str,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[float, dict[str, int]]:
    """Ingest the corpus files into a Dossier knowledge base.

    Each file keeps its own name (the ``.txt`` or ``.pdf`` file name), so hits
    map back to ground-truth files. Returns wall seconds and a count per
    ingest status (``indexed``, ``unchanged``, ``failed``, plus ``pages`` and
    ``chunks``). Raises :class:`EvaluationInputError` if any file failed,
    naming it: a partial corpus would silently distort every score.
    """
    counts: dict[str, int] = {"indexed": 0, "unchanged": 0, "failed": 0, "pages": 0, "chunks": 0}
    failures: list[str] = []
    t0 = time.perf_counter()
    for i, path in enumerate(files.values()):
        result = pipeline.ingest_file(path, tenant, name=path.name)
        counts[result.status] = counts.get(result.status, 0) + 1
        counts["pages"] += int(result.pages or 0)
        counts["chunks"] += int(result.chunks or 0)
        if result.status == "failed":
            failures.append(str(result.error or path.name))
        if on_progress is not None:
            on_progress(i + 1, len(files))
    if counts["indexed"]:
        pipeline.flush()  # index what was written: searched brute force otherwise
    seconds = time.perf_counter() - t0
    if failures:
        raise EvaluationInputError(
            f"{len(failures)} corpus file(s) failed to ingest: " + "; ".join(failures[:3])
        )
    return seconds, counts


def run_baseline(
    queries: Sequence[RetrievalQuery],
    files: dict[str, Path],
    ks: Sequence[int] = DEFAULT_KS,
    *,
    model_path: Path | None = None,
    embedder: Embedder | None = None,
) -> RetrievalReport:
    """The LegalBench-RAG naive baseline on the same queries and ``.txt`` corpus.

    ``embedder``: encode with it (Dossier's MiniLM) instead of loading an fp32
    sentence-transformers copy; see :class:`evaluation.baseline.NaiveRetriever`.
    """
    from evaluation.baseline import NaiveRetriever

    t0 = time.perf_counter()
    retriever = NaiveRetriever(model_path, embedder=embedder)
    texts = {name: path.read_text(encoding="utf-8") for name, path in files.items()}
    chunks = retriever.add_documents(texts)
    ingest_s = time.perf_counter() - t0
    report = evaluate(queries, retriever.search, ks, nested=True)
    report.ingest_s = ingest_s
    report.extra.update({"documents": len(texts), "chunks": chunks})
    return report
