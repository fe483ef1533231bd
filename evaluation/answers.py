"""``dossier eval answers``: are the words of an answer right?

Each question of ``answers.jsonl`` (CUAD dev: a lawyer's question about one
contract with CUAD's gold answer) is asked through :class:`agent.loop.Agent`,
the code path of ``dossier ask``, scoped to its contract (``--doc``). Scoring:

- ``value``: correct when the answer text (markers removed; citations are not
  read) states the gold value in any usual form
  (:func:`evaluation.value_match.states_value`). Golds that cannot be
  normalised are counted as unscored.
- ``yes_no``: correct when the answer's first sentence says yes or no as the
  gold does (:func:`says_yes`).
- unsupported: the answer text states a jurisdiction, date, number, amount or
  duration found in none of its verified citations' quotes
  (:func:`agent.facts.unsupported`), except a value the answer shows as
  computed from cited inputs (a claim's ``computed``: "ends on February 10,
  2019: five (5) years from the effective date, February 10, 2014").
- citation precision: verified citations / all citations shown or dropped.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.citations import split_sentences
from agent.claims import strip_markers
from agent.events import DoneEvent, ErrorEvent, TokenEvent
from agent.facts import unsupported
from agent.loop import Agent
from evaluation.value_match import gold_scorable, states_value

__all__ = ["Question", "load_questions", "run_answers", "says_yes", "score_answer", "summarise"]

#: The fields of each answer in the report.
_ANSWER_KEYS = ("question", "category", "file", "gold", "answer", "correct", "unsupported",
                "ttft_s", "error")  # fmt: skip
#: Fact kinds that count as unsupported claims (names are not scored here).
SCORED_FACTS = ("jurisdiction", "date", "number", "amount", "duration")
_YES = re.compile(r"^\W*(?:yes|yeah|correct|indeed)\b", re.I)
_NO = re.compile(r"^\W*no\b", re.I)
_NEGATION = re.compile(
    r"\b(?:not|no|none|never|neither|nor|without|cannot|can't|doesn't|isn't|aren't|"
    r"does\s+not|do\s+not|is\s+not|are\s+not)\b",
    re.I,
)


@dataclass(frozen=True)
class Question:
    file: str
    pdf: str
    category: str
    kind: str
    question: str
    gold: str


def load_questions(path: Path, limit: int | None = None) -> list[Question]:
    """The questions of ``path`` in file order (grouped by contract), the first ``limit``."""
    rows: list[Question] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            r = json.loads(line)
            rows.append(Question(r["file"], r["pdf"], r["category"], r["kind"], r["question"],
                                 str(r["gold"])))  # fmt: skip
            if limit is not None and len(rows) >= limit:
                break
    return rows


def says_yes(answer: str) -> bool | None:
    """What the first sentence says: True (yes), False (no), None (neither)."""
    sentences = split_sentences(strip_markers(answer))
    first = sentences[0] if sentences else ""
    if _YES.search(first):
        return True
    if _NO.search(first):
        return False
    if not first:
        return None
    return not bool(_NEGATION.search(first))


def score_answer(q: Question, done: DoneEvent | None) -> dict[str, Any]:
    """One answer's row: correct (None = unscored), unsupported facts, citations."""
    answer = done.answer if done else ""
    text = strip_markers(answer)
    correct: bool | None
    if q.kind == "yes_no":
        said = says_yes(answer)
        correct = None if not answer else said is (q.gold.strip().lower() == "yes")
    elif not gold_scorable(q.category, q.gold):
        correct = None
    else:
        correct = bool(states_value(q.category, q.gold, text))
    quotes = " ".join(c.quote for c in done.citations) if done else ""
    shown = [str(s) for c in (done.claims if done else []) for s in c.get("computed") or []]
    missing = [f.surface for f in unsupported(text, quotes) if f.kind in SCORED_FACTS
               and f.surface not in shown]  # fmt: skip
    return {
        "question": q.question, "category": q.category, "kind": q.kind, "file": q.file,
        "gold": q.gold, "answer": answer, "correct": correct, "unsupported": missing,
        "citations": len(done.citations) if done else 0,
        "dropped": len(done.dropped) if done else 0,
    }  # fmt: skip


async def run_answers(
    agent: Agent,
    questions: Sequence[Question],
    documents: dict[str, str],
    tenant: str,
    on_answer: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Ask every question scoped to its contract (``documents``: file -> id)."""
    rows: list[dict[str, Any]] = []
    for i, q in enumerate(questions):
        doc = documents.get(q.file)
        t0 = time.perf_counter()
        first: float | None = None
        done: DoneEvent | None = None
        error: str | None = None
        if doc is not None:
            async for event in agent.stream_answer(q.question, tenant, document_ids=[doc]):
                if isinstance(event, TokenEvent) and first is None:
                    first = time.perf_counter() - t0
                elif isinstance(event, DoneEvent):
                    done = event
                elif isinstance(event, ErrorEvent):
                    error = event.message
        else:
            error = "contract not ingested"
        row = score_answer(q, done)
        row.update(ttft_s=None if first is None else round(first, 4), error=error,
                   total_s=round(time.perf_counter() - t0, 3))  # fmt: skip
        rows.append(row)
        if on_answer is not None:
            on_answer(i + 1, len(questions))
    return rows


def _accuracy(rows: Sequence[dict[str, Any]]) -> float | None:
    scored = [r for r in rows if r["correct"] is not None]
    return round(sum(bool(r["correct"]) for r in scored) / len(scored), 4) if scored else None


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The report (``--json``'s last line) of :func:`run_answers` rows."""
    scored = [r for r in rows if r["correct"] is not None]
    per_category: dict[str, dict[str, Any]] = {}
    for cat in dict.fromkeys(r["category"] for r in rows):
        mine = [r for r in rows if r["category"] == cat]
        per_category[cat] = {
            "n": len(mine),
            "scored": sum(r["correct"] is not None for r in mine),
            "accuracy": _accuracy(mine),
        }
    per_kind = {
        kind: {"n": len(mine), "accuracy": _accuracy(mine)}
        for kind in ("value", "yes_no")
        if (mine := [r for r in rows if r["kind"] == kind])
    }
    shown = sum(r["citations"] for r in rows)
    dropped = sum(r["dropped"] for r in rows)
    ttfts = [r["ttft_s"] for r in rows if r["ttft_s"] is not None]
    return {
        "questions": len(rows),
        "scored": len(scored),
        "unscored": len(rows) - len(scored),
        "accuracy": _accuracy(rows),
        "per_kind": per_kind,
        "per_category": per_category,
        "unsupported_rate": round(sum(bool(r["unsupported"]) for r in rows) / len(rows), 4)
        if rows
        else None,
        "citation_precision": round(shown / (shown + dropped), 4) if shown + dropped else None,
        "ttft_p50_s": round(statistics.median(ttfts), 4) if ttfts else None,
        "errors": sum(bool(r["error"]) for r in rows),
        "answers": [{k: r[k] for k in _ANSWER_KEYS} for r in rows],
    }
