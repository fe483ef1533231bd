"""Character-span retrieval metrics, as defined by LegalBench-RAG.

LegalBench-RAG (Pipitone & Houir Alami, 2024; reference implementation
``legalbenchrag/run_benchmark.py``, class ``QAResult``) scores one query by
comparing the character spans of the retrieved snippets with the ground-truth
spans, file by file:

* ``precision = relevant_retrieved_chars / total_retrieved_chars`` where
  ``total_retrieved_chars`` is the sum of the lengths of the retrieved snippets
  and ``relevant_retrieved_chars`` the characters of them that lie inside a
  ground-truth span **of the same file**;
* ``recall = relevant_retrieved_chars / total_ground_truth_chars``;
* a query with nothing retrieved has precision 0 (the reference returns 0 when
  the denominator is 0); likewise recall 0 for an empty ground truth;
* a benchmark score is the unweighted mean over queries (the reference's
  default weights are all 1.0), computed separately for every k, where the
  top-k snippets are what the retriever returns when asked for k.

The reference sums, per retrieved snippet, its overlap with every ground-truth
span. Its ground-truth spans are disjoint (it validates that), and its own
baseline's chunks never overlap, so it never has to decide what happens when
two *retrieved* snippets overlap. Our chunkers may return overlapping or
repeated spans, so we make one choice explicit, as the task requires:

* **overlap is counted on the union**: per file, the retrieved spans are merged
  (union) before they are intersected with the merged ground truth, so a
  ground-truth character covered by two retrieved chunks counts once.
  Recall therefore never exceeds 1;
* **the precision denominator is the plain sum** of retrieved lengths, exactly
  as in the reference: retrieving the same text twice costs context budget
  and is penalised. Precision therefore never exceeds 1 either.

With disjoint retrieved spans (the LegalBench-RAG baseline, any chunker
without overlap) both rules reduce exactly to the reference formulas.
Ground-truth spans are also merged per file (a no-op on valid data).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "FileSpan",
    "PrecisionRecall",
    "mean_precision_recall",
    "merge_spans",
    "overlap_length",
    "span_precision_recall",
]

#: ``(file name, start, end)``: characters ``[start, end)`` of one file's text.
FileSpan = tuple[str, int, int]


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float
    recall: float

    def to_json(self, digits: int = 4) -> dict[str, float]:
        return {"precision": round(self.precision, digits), "recall": round(self.recall, digits)}


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort and merge ``[start, end)`` intervals that overlap or touch.

    Empty or inverted intervals (``end <= start``) are dropped.
    """
    ordered = sorted((s, e) for s, e in spans if e > s)
    merged: list[tuple[int, int]] = []
    for start, end in ordered:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def overlap_length(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> int:
    """Characters shared by two *merged* (sorted, disjoint) interval lists."""
    i = j = total = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _by_file(spans: Iterable[FileSpan]) -> dict[str, list[tuple[int, int]]]:
    grouped: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for name, start, end in spans:
        grouped[name].append((start, end))
    return {name: merge_spans(intervals) for name, intervals in grouped.items()}


def span_precision_recall(
    retrieved: Sequence[FileSpan], truth: Sequence[FileSpan]
) -> PrecisionRecall:
    """LegalBench-RAG precision and recall of one query (see the module docstring).

    ``retrieved`` is the ranked top-k (order does not matter here); ``truth``
    the ground-truth spans. File names must be spelled the same way on both
    sides (use bare file names).
    """
    retrieved_chars = sum(max(0, end - start) for _, start, end in retrieved)
    truth_by_file = _by_file(truth)
    truth_chars = sum(e - s for intervals in truth_by_file.values() for s, e in intervals)
    relevant = 0
    for name, intervals in _by_file(retrieved).items():
        gt = truth_by_file.get(name)
        if gt:
            relevant += overlap_length(intervals, gt)
    precision = relevant / retrieved_chars if retrieved_chars else 0.0
    recall = relevant / truth_chars if truth_chars else 0.0
    return PrecisionRecall(precision, recall)


def mean_precision_recall(scores: Sequence[PrecisionRecall]) -> PrecisionRecall:
    """Unweighted mean over queries (NaN for no queries, like the reference)."""
    if not scores:
        return PrecisionRecall(float("nan"), float("nan"))
    n = len(scores)
    return PrecisionRecall(sum(s.precision for s in scores) / n, sum(s.recall for s in scores) / n)
