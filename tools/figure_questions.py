"""What a figure question asks for: the metric of :mod:`tools.finance_metrics`,
the fiscal year(s), the units and the rounding ("What is the FY2018 capital
expenditure amount (in USD millions) for 3M?" -> capex, [2018], millions)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.finance_metrics import LINES, METRICS, Metric

__all__ = ["FigureRequest", "choose_metric", "is_figure_question", "parse_request"]

_YEAR = r"(?:19[89]\d|20[0-4]\d)"
_FY = re.compile(rf"\b(?:FY|fiscal(?: year)?)\s?'?({_YEAR}|\d\d)\b", re.I)
_RANGE = re.compile(rf"\b(?:FY\s?)?({_YEAR})\s*(?:-|–|to|through)\s*(?:FY\s?)?({_YEAR})\b", re.I)
_ANY_YEAR = re.compile(rf"\b({_YEAR})\b")
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "zero": 0}
_ROUND = re.compile(r"round(?:ed)?\s+(?:your\s+|the\s+)?(?:answer\s+)?to\s+(\w+)\s+decimal", re.I)
_SCALE = re.compile(r"\b(?:in\s+)?(?:USD|US\$|\$)\s*(millions|billions|thousands)\b|"
                    r"\bin\s+(millions|billions|thousands)\b", re.I)  # fmt: skip
_TO_DATE = re.compile(
    r"\b(?:six|nine) months\b|year[- ]to[- ]date|\bytd\b|first (?:half|nine)", re.I
)


@dataclass
class FigureRequest:
    metric: Metric
    years: list[int]  # one year, or the years of a multi-year average
    scale: str | None  # "millions" | "billions" | "thousands": the unit asked for
    decimals: int | None  # rounding asked for
    occurrence: int = 0  # 1: a quarterly report's year-to-date columns

    @property
    def year(self) -> int:
        return self.years[-1]


def _number_word(text: str) -> int | None:
    return int(text) if text.isdigit() else _WORDS.get(text.lower())


def choose_metric(question: str) -> Metric | None:
    """The metric the question asks for: a computed metric before a single
    statement line ("free cash flow ... defined as cash from operations -
    capex"), then the earliest mention, then the longest (most specific)."""
    text = question.lower()
    best: tuple[bool, int, int, Metric] | None = None
    for metric in METRICS.values():
        single = metric.formula in LINES
        for alias in metric.aliases:
            m = re.search(alias, text)
            if m is None:
                continue
            key = (single, m.start(), -len(m.group(0)), metric)
            if best is None or key[:3] < best[:3]:
                best = key
    return best[3] if best else None


def _years(question: str) -> list[int]:
    span = _RANGE.search(question)
    if span and re.search(r"\baverage\b|\bmean\b", question, re.I):
        first, last = sorted((int(span.group(1)), int(span.group(2))))
        if 0 < last - first <= 10:
            return list(range(first, last + 1))
    fiscal = [int(y) for y in _FY.findall(question)]
    if fiscal:  # the latest named ("FY2022 compared to FY2021")
        return [max(y + 2000 if y < 100 else y for y in fiscal)]
    found = [int(y) for y in _ANY_YEAR.findall(question)]
    return [max(found)] if found else []


def parse_request(question: str) -> FigureRequest | None:
    """The metric, years, units and rounding a question asks for; None when it
    names no metric of the table."""
    metric = choose_metric(question)
    if metric is None:
        return None
    scale = _SCALE.search(question)
    rounding = _ROUND.search(question)
    decimals = _number_word(rounding.group(1)) if rounding else None
    unit = next((g for g in scale.groups() if g), None) if scale else None
    to_date = _TO_DATE.search(question) is not None
    return FigureRequest(
        metric, _years(question), unit.lower() if unit else None, decimals, int(to_date)
    )


def is_figure_question(question: str) -> bool:
    """A question asking for a metric of the table in a fiscal year or period
    ("FY2022 fixed asset turnover", "capital expenditure in 2018")."""
    return bool(_ANY_YEAR.search(question) or _FY.search(question)) and (
        parse_request(question) is not None
    )
