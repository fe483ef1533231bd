"""Scoring for ``dossier eval reports``: figures in answers, checks of summaries.

Figures (the one rule of ``dossier eval reports`` and ``python -m
evaluation.figures``). A gold answer is a *figure* when it is one number
("$1577.00", "10.3%", "-3.7", "0.68"). The answer is correct when it states
a *result* within the gold's rounding: at most half a unit of the gold's last
digit or 0.5 % of the gold, whichever is larger ("1,577" and "$1,577.0
million" match "$1577.00"; "10.3%" matches "10.3%", "0.103" does too as a
share, "54%" matches a ratio of "0.54"). A number written with "thousand",
"million" or "billion" also counts in the other two scales ("$8,738 million"
states "$8.74" asked in billions). The results of a sentence are the numbers
after its last "=" (a shown computation's inputs are not results), or, in a
sentence without "=", its numbers outside worded parentheses ("(capex 1,577
[1])" explains; a bare "(3.7)" is accounting notation for -3.7).

Summary checks, over the sentences of a report's summary text:
``boilerplate`` (cover, certifications, "see accompanying notes", safe
harbour: :func:`ingest.reports.boilerplate_label` when present, else the
patterns below), ``repeated`` (the same sentence again, case and spacing
aside), ``table_dumps`` (a "sentence" of 10 or more figures), ``figures``
(amounts, percentages and per-share numbers stated) and ``unsupported``
(those found in no cited quote or cell of the summary).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from agent.citations import split_sentences
from agent.claims import strip_markers

__all__ = ["gold_figure", "states_figure", "summary_checks"]

_GOLD = re.compile(r"\s*(?P<neg>-)?\$?\s*(?P<neg2>-)?(?P<num>\d[\d,]*(?:\.\d+)?)\s*(?P<pct>%)?\s*")
_NUMBER = re.compile(
    r"(?P<open>\()?(?P<neg>-|−)?\$?\s?(?P<num>\d[\d,]*(?:\.\d+)?)\)?\s?(?P<pct>%|percent)?"
    r"(?:\s*(?P<scale>billion|bn|million|thousand))?",
    re.I,
)


def gold_figure(answer: str) -> tuple[float, int, bool] | None:
    """``(value, decimals, percent)`` of a gold that is one number, else None."""
    m = _GOLD.fullmatch(answer)
    if m is None:
        return None
    digits = m.group("num").replace(",", "")
    value = float(digits) * (-1 if m.group("neg") or m.group("neg2") else 1)
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return value, decimals, bool(m.group("pct"))


_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "bn": 1e9}
_WORDED_PARENS = re.compile(r"\([^()]*[A-Za-z][^()]*\)")


def _result_parts(text: str) -> Iterable[str]:
    """The parts of ``text`` that state results (module docstring)."""
    for sentence in split_sentences(strip_markers(text)) or [text]:
        if "=" in sentence:
            yield sentence.rsplit("=", 1)[1]
        else:
            yield _WORDED_PARENS.sub(" ", sentence)


def _candidates(text: str, percent_gold: bool) -> Iterable[float]:
    for m in (m for part in _result_parts(text) for m in _NUMBER.finditer(part)):
        value = float(m.group("num").replace(",", ""))
        if m.group("neg") or (m.group("open") and m.group(0).rstrip().endswith(")")):
            value = -value
        yield value
        scale = _SCALES.get((m.group("scale") or "").lower())
        if scale:
            yield from (value * scale / other for other in set(_SCALES.values()) if other != scale)
        if m.group("pct") and not percent_gold:
            yield value / 100
        if not m.group("pct") and percent_gold:
            yield value * 100


def states_figure(text: str, gold: tuple[float, int, bool]) -> bool:
    """Whether ``text`` states the gold figure within its rounding (module docstring)."""
    value, decimals, percent = gold
    tolerance = max(0.5 * 10**-decimals, 0.005 * abs(value))
    return any(abs(x - value) <= tolerance + 1e-9 for x in _candidates(text, percent))


# -- summaries -----------------------------------------------------------------------

_BOILERPLATE = re.compile(
    r"see\s+(?:the\s+)?accompanying\s+notes|indicate\s+by\s+check\s+mark|forward-looking\s+"
    r"statements|pursuant\s+to\s+the\s+requirements\s+of|securities\s+exchange\s+act\s+of\s+1934|"
    r"exact\s+name\s+of\s+registrant|table\s+of\s+contents|hereby\s+certif|exhibit\s+\d|"
    r"incorporated\s+(?:herein\s+)?by\s+reference|/s/",
    re.I,
)
_FIGURE = re.compile(
    r"\$\s?\d[\d,]*(?:\.\d+)?(?:\s*(?:billion|million|thousand|bn))?|"
    r"\d[\d,]*(?:\.\d+)?\s?(?:%|percent)|\d[\d,]*(?:\.\d+)?\s+(?:billion|million)\b",
    re.I,
)
_ANY_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_EVIDENCE_KEYS = frozenset({"quote", "text", "cell", "cells", "value", "label", "row", "column"})
_TABLE_DUMP_FIGURES = 10


def _boilerplate_label() -> Callable[[str], str | None]:
    try:
        from ingest.reports import boilerplate_label
    except ImportError:  # before the report structure lands: the patterns here
        return lambda text: "boilerplate" if _BOILERPLATE.search(text) else None
    return lambda text: (
        boilerplate_label(text) or ("boilerplate" if _BOILERPLATE.search(text) else None)
    )


def _evidence_text(node: Any, key: str = "") -> list[str]:
    """Every quote and cell text under a summary's citations (any nesting)."""
    if isinstance(node, dict):
        return [t for k, v in node.items() if k != "summary" for t in _evidence_text(v, k)]
    if isinstance(node, list):
        return [t for v in node for t in _evidence_text(v, key)]
    if isinstance(node, (str, int, float)) and key in _EVIDENCE_KEYS:
        return [str(node)]
    return []


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _ANY_NUMBER.findall(text)}


def summary_checks(summary: dict[str, Any]) -> dict[str, Any]:
    """The checks of one report's summary (see the module docstring)."""
    text = strip_markers(str(summary.get("summary") or ""))
    sentences = [s.strip() for s in split_sentences(text) if s.strip()]
    label = _boilerplate_label()
    seen: set[str] = set()
    boilerplate, repeated, dumps = [], [], []
    for sentence in sentences:
        norm = re.sub(r"\W+", " ", sentence.lower()).strip()
        if norm in seen:
            repeated.append(sentence)
        seen.add(norm)
        if label(sentence):
            boilerplate.append(sentence)
        if len(_ANY_NUMBER.findall(sentence)) >= _TABLE_DUMP_FIGURES:
            dumps.append(sentence)
    evidence = _numbers(" ".join(_evidence_text(summary.get("citations") or [])
                                 + _evidence_text({k: v for k, v in summary.items()
                                                   if k not in ("summary", "citations")})))  # fmt: skip
    figures = list(dict.fromkeys(m.group(0).strip() for m in _FIGURE.finditer(text)))
    unsupported = [f for f in figures if not (_numbers(f) <= evidence)]
    return {
        "sentences": len(sentences),
        "boilerplate": len(boilerplate),
        "repeated": len(repeated),
        "table_dumps": len(dumps),
        "figures": len(figures),
        "unsupported_figures": len(unsupported),
        "examples": {
            "boilerplate": boilerplate[:2],
            "repeated": repeated[:2],
            "table_dumps": [d[:160] for d in dumps[:2]],
            "unsupported_figures": unsupported[:5],
        },
    }
