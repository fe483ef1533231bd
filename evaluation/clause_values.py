"""Value accuracy of the clause values (``dossier eval clauses``'s ``values``).

For each contract and value category (title, parties, dates, governing law,
renewal term, notice period) whose CUAD normalised ``answer`` is scorable
(:func:`evaluation.value_match.gold_scorable`), the value read from a
contract's candidate passages by :func:`tools.clauses.values.document_values`
is correct when its text states the gold
(:func:`evaluation.value_match.states_value`). Two settings:

- ``gold_passages``: the chunks that hold a gold quote of the category, in
  reading order (what the value rules can do when the passage is right);
- ``predicted_passages``: the clause model's reported passages, best first
  (what a review or a composed answer gets).

A category with no passage, or no value read, counts as wrong. Golds that
cannot be scored are counted as ``unscored``, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from evaluation.value_match import gold_scorable, states_value
from tools.clauses.corpus import ContractLabels
from tools.clauses.values import ClauseValue, document_values

__all__ = ["VALUE_CATEGORIES", "score_values"]

#: The categories whose CUAD answer is a value (not Yes/No).
VALUE_CATEGORIES = (
    "Document Name",
    "Parties",
    "Agreement Date",
    "Effective Date",
    "Expiration Date",
    "Governing Law",
    "Renewal Term",
    "Notice Period to Terminate Renewal",
)

Reader = Callable[[Mapping[str, Sequence[str]]], Mapping[str, ClauseValue]]


def score_values(
    labels: Sequence[ContractLabels],
    passages: Sequence[dict[str, list[str]]],
    *,
    read: Reader = document_values,
) -> dict[str, Any]:
    """Accuracy of the values ``read(passages[i])`` against ``labels[i]``'s
    answers: per category ``{"n", "correct", "accuracy", "unscored",
    "no_value"}``, then micro and macro accuracy."""
    counts = {
        c: dict.fromkeys(("n", "correct", "unscored", "no_value"), 0) for c in VALUE_CATEGORIES
    }
    for lab, found in zip(labels, passages, strict=True):
        values = read({c: found.get(c) or [] for c in VALUE_CATEGORIES})
        for category in VALUE_CATEGORIES:
            gold = lab.answers.get(category)
            if not gold or not lab.present(category):
                continue
            k = counts[category]
            if not gold_scorable(category, gold):
                k["unscored"] += 1
                continue
            k["n"] += 1
            value = values.get(category)
            if value is None:
                k["no_value"] += 1
            elif states_value(category, gold, value.text):
                k["correct"] += 1
    per_category = {
        c: {**k, "accuracy": round(k["correct"] / k["n"], 4) if k["n"] else 0.0}
        for c, k in counts.items()
    }
    n = sum(k["n"] for k in counts.values())
    scored = [m["accuracy"] for m in per_category.values() if m["n"]]
    return {
        "per_category": per_category,
        "n": n,
        "unscored": sum(k["unscored"] for k in counts.values()),
        "micro_accuracy": round(sum(k["correct"] for k in counts.values()) / n, 4) if n else 0.0,
        "macro_accuracy": round(sum(scored) / len(scored), 4) if scored else 0.0,
    }
