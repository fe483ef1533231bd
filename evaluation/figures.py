"""Figure accuracy on FinanceBench questions: the computed figure against the gold.

``python -m evaluation.figures --data ../shared/data/financebench-dev [--json]``
answers every figure question (question type ``metrics-generated``; the
``information extraction`` questions whose gold is a number are counted
separately) from its filing's statements with :func:`tools.figures.compute_figure`
and scores it with :func:`score_figure`.

Scoring: :func:`evaluation.report_checks.states_figure`, the same rule as
``dossier eval reports`` (the gold's rounding or 0.5 %; its module docstring).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.errors import DossierError
from evaluation.report_checks import gold_figure, states_figure
from knowledge_base.service import KnowledgeBase
from tools.figure_cells import report_rows
from tools.figures import FigureAnswer, compute_figure
from tools.figures_tool import document_rows

__all__ = ["TOLERANCE", "answer_figure", "evaluate", "score_figure"]

#: The scoring rule, as the README states it.
TOLERANCE = "half a unit of the gold's last digit or 0.5 % of it, whichever is larger"
_FIRST_NUMBER = re.compile(r"-?\$?\s?-?\d[\d,]*(?:\.\d+)?%?")


def score_figure(answer_text: str, gold: str) -> bool:
    """True when ``answer_text`` states the gold figure as a result; a gold
    in words ("The ratio is 0.96") is scored on its first number."""
    parsed = gold_figure(gold)
    if parsed is None:
        first = _FIRST_NUMBER.search(gold)
        parsed = gold_figure(first.group(0)) if first else None
    return parsed is not None and states_figure(answer_text, parsed)


def answer_figure(kb: KnowledgeBase, tenant: str, question: str, document_id: str) -> FigureAnswer:
    """The figure ``question`` asks for, from document ``document_id``'s
    statements. Raises ``ToolError`` when the question names no known metric
    or the statements lack an input."""
    rows, name = document_rows(kb, tenant, document_id)
    answer = compute_figure(question, rows)
    answer.document_id, answer.document = document_id, name
    return answer


def is_figure_question(q: dict[str, Any]) -> bool:
    """A question whose gold is a figure: FinanceBench's ``metrics-generated``."""
    return q.get("question_type") == "metrics-generated"


def evaluate(
    questions: Sequence[dict[str, Any]], pages_of: Callable[[str], list[str]]
) -> dict[str, Any]:
    """Accuracy over the figure questions, by question reasoning type."""
    rows: list[dict[str, Any]] = []
    for q in questions:
        if not is_figure_question(q):
            continue
        row: dict[str, Any] = {"id": q.get("financebench_id"), "doc": q["doc_name"],
                               "reasoning": q.get("question_reasoning"), "gold": q["answer"]}  # fmt: skip
        try:
            answer = compute_figure(q["question"], report_rows(pages_of(q["doc_name"])))
            row.update(answer=answer.display, shown=f"{answer.words} = {answer.shown}",
                       pages=sorted({i.page for i in answer.inputs}),
                       correct=score_figure(answer.display, q["answer"]))  # fmt: skip
        except DossierError as exc:
            row.update(answer=None, error=str(exc), correct=False)
        rows.append(row)
    by_type: dict[str, list[bool]] = {}
    for row in rows:
        by_type.setdefault(str(row["reasoning"]), []).append(row["correct"])
    return {
        "tolerance": TOLERANCE,
        "questions": len(rows),
        "accuracy": round(sum(r["correct"] for r in rows) / len(rows), 3) if rows else None,
        "by_type": {k: round(sum(v) / len(v), 3) for k, v in by_type.items()},
        "rows": rows,
    }


def _pdf_pages(data: Path) -> Callable[[str], list[str]]:
    from core.settings import Settings
    from ingest.loaders.pdf import load_pdf_pages

    settings = Settings().ingest

    def pages_of(name: str) -> list[str]:
        pages, _ = load_pdf_pages(data / "pdfs" / f"{name}.pdf", settings)
        return [p.text for p in pages]

    return pages_of


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.figures", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/financebench-dev"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    lines = (args.data / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line) for line in lines if line.strip()]
    report = evaluate(questions, _pdf_pages(args.data))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for row in report["rows"]:
        mark = "ok " if row["correct"] else "MISS"
        print(f"{mark} {row['doc']}: {row.get('answer') or row.get('error')} (gold {row['gold']})")
    print(f"figure accuracy {report['accuracy']} on {report['questions']} questions "
          f"(tolerance: {report['tolerance']})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
