"""A report's lead figures, read from its financial statements.

The statements are found among the pages (a title such as "Consolidated
Statements of Income" near the top, and the rows a statement has); each
statement row is read as a label followed by a run of numbers, each number
with its page offsets, whether the page lays the table out with pipes
(``Net sales | $ | 3,243 | $ | 3,615``) or flattens it into one paragraph
(``Net sales $ 32,765 $ 31,657 $ 30,109 Operating expenses Cost of sales …``).
The column headers are the run of years above the first row.

A figure is the current and the prior period's values of one row (the first two
columns: the latest period comes first in SEC statements; a header that runs
oldest-first is read the other way round), the change computed from them with
its formula, and two citations: the row (label to prior value) and the column
header, both verbatim slices of the page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.reports import cell_number

__all__ = [
    "METRICS",
    "Row",
    "Statement",
    "figure",
    "find_statements",
    "lead_figures",
    "read_statement",
    "scan_rows",
]

_CELL = re.compile(
    r"(?:\([ \t]?\$?[ \t]?)?-?\d[\d,]*(?:\.\d+)?\)?%?(?![\w])|(?<=\s)[—–](?=\s*(?:[|$]|\(?\d|\n|$))"
)
_GAP = re.compile(r"^[ \t$|]*$")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_MONTH_DAY = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\s+(\d{1,2})\b"
)
_SPAN = re.compile(r"\b(three|six|nine|twelve)\s+months\s+ended\b", re.I)
_UNITS = re.compile(r"\b(?:in\s+)?(millions|thousands|billions)\b", re.I)

#: Statement titles (tolerant of PDF text that splits a word: "Incom e").
_TITLES = {
    "income": re.compile(
        r"statements?\s+of\s+(?:consolidated\s+)?(?:incom\s?e|operation\s?s|earning\s?s)\b"
        r"|^\s*(?:consolidated\s+)?income\s+statements?\s*$",
        re.I | re.M,
    ),
    "cash_flow": re.compile(r"statements?\s+of\s+(?:consolidated\s+)?cash\s+flow", re.I),
}


@dataclass
class Row:
    """A statement row: its label and numeric cells ``(text, start, end)``."""

    label: str
    start: int
    cells: list[tuple[str, int, int]] = field(default_factory=list)
    #: The last heading ending in ":" above the row ("Diluted earnings per share").
    context: str = ""


@dataclass
class Statement:
    kind: str  # "income" | "cash_flow"
    page: int
    text: str
    rows: list[Row]
    header: Row | None  # the run of column years
    units: str | None


def _is_value(text: str, match: re.Match[str]) -> bool:
    before = text[max(0, match.start() - 6) : match.start()].lower()
    return not before.rstrip().endswith(("note", "notes", "item"))


def _context(gap: str, context: str) -> str:
    """The heading above a row: text before a ":" ("Diluted earnings per
    share:"), or a whole line without numbers just above the row's line."""
    lines = [line.strip(" \t$|") for line in gap.split("\n")]
    above = [line for line in lines[:-1] if line]
    if ":" in gap:
        return gap[: gap.rfind(":")].split("\n")[-1].strip(" \t$|")[-80:]
    if above and len(above[-1]) < 100 and not re.search(r"\d", above[-1]):
        return above[-1]
    return context


def scan_rows(text: str) -> list[Row]:
    """Label-and-numbers rows of a page (see the module docstring)."""
    rows: list[Row] = []
    current: Row | None = None
    label_from, context = 0, ""
    for match in _CELL.finditer(text):
        if not _is_value(text, match):
            continue
        cell = (match.group(), match.start(), match.end())
        if current is not None and _GAP.match(text[current.cells[-1][2] : match.start()]):
            current.cells.append(cell)
            label_from = match.end()
            continue
        context = _context(text[label_from : match.start()], context)
        begin = max(label_from, text.rfind("\n", 0, match.start()) + 1)
        raw = text[begin : match.start()]
        label = raw.strip(" \t$|:(%")
        start = begin + raw.find(label) if label else match.start()
        current = Row(label, start, [cell], context)
        rows.append(current)
        label_from = match.end()
    return rows


def _header(rows: Sequence[Row]) -> Row | None:
    """The first row ending in two or more years (its year cells only)."""
    for row in rows:
        years = 0
        while years < len(row.cells) and _YEAR.match(row.cells[-1 - years][0]):
            years += 1
        if years >= 2:
            return Row(row.label, row.start, row.cells[-years:])
    return None


_REVENUE = (
    r"total\s+revenues\s+net\s+of\s+interest\s+expense",
    r"total\s+(?:net\s+|operating\s+)?revenues?",
    r"(?<!interest\s)(?<!non-interest\s)(?:net\s+|operating\s+)?revenues?",
    r"(?:total\s+)?net\s+sales",
)
_OPERATING = (
    r"(?:total\s+)?operating\s+(?:income|profit|earnings)(?:\s+\(loss\))?",
    r"(?:\(loss\)/?\s*)?(?:income|earnings|loss)(?:\s*/\s*\(?loss\)?)?\s+from\s+operations",
)
_NET = (
    r"net\s+(?:income|earnings|\(loss\)\s*/?\s*(?:income|earnings)|(?:income|earnings)\s*/?\s*"
    r"\(loss\)|loss)\s+attributable\s+to\s+(?!non|redeem|participat)[^|]{2,60}",
    r"net\s+(?:income|earnings|loss)(?:\s+\(loss\))?",
)
_EPS = (
    r"(?:[^|]{0,80}\s)?diluted(?:\s+\([^)]{1,20}\))?",
    r"diluted\s+(?:net\s+)?(?:earnings|income|loss|\(loss\)\s*/?\s*earnings|earnings\s*/?\s*"
    r"\(loss\))(?:\s+\(loss\))?\s+per\s+(?:common\s+)?share[^|]{0,40}",
)
_OCF = (
    r"net\s+cash\s+[a-z()/\s]{0,40}?operating\s+activities(?:\s+of\s+continuing\s+operations)?",
    r"cash\s+provided\s+by\s+operat(?:ing\s+activities|ions)",
)
#: (key, name, statement, label patterns in priority order, per-share?)
METRICS: tuple[tuple[str, str, str, tuple[str, ...], bool], ...] = (
    ("revenue", "Revenue", "income", _REVENUE, False),
    ("operating_income", "Operating income", "income", _OPERATING, False),
    ("net_income", "Net income", "income", _NET, False),
    ("eps_diluted", "Diluted EPS", "income", _EPS, True),
    ("operating_cash_flow", "Operating cash flow", "cash_flow", _OCF, False),
)
_COMPILED = {
    key: [re.compile(rf"(?:^|\s){p}$", re.I) for p in pats] for key, _, _, pats, _ in METRICS
}


def _per_share(row: Row) -> bool:
    words = f"{row.context} {row.label}"
    return bool(re.search(r"per\s+(?:common\s+)?share|\b(?:basic|diluted)\b", words, re.I))


def _diluted_eps(rows: Sequence[Row]) -> Row | None:
    """A row labelled diluted EPS, else the net income row under a "Diluted
    earnings per share:" heading (CVS), else the first row under it."""
    per_share = [r for r in rows if len(r.cells) >= 2 and _per_share(r)
                 and not re.search(r"shares|weighted|average", r.label, re.I)]  # fmt: skip
    for pattern in _COMPILED["eps_diluted"]:
        found = next((r for r in per_share if pattern.search(r.label)), None)
        if found is not None:
            return found
    under = [r for r in per_share if re.search(r"diluted", r.context, re.I)]
    net = next(
        (r for r in under if re.match(r"net\s+(?:income|earnings|\(?loss)", r.label, re.I)), None
    )
    return net or (under[0] if under else None)


def _find_row(rows: Sequence[Row], key: str, per_share: bool) -> Row | None:
    if per_share:
        return _diluted_eps(rows)
    for pattern in _COMPILED[key]:
        for row in rows:
            if len(row.cells) < 2 or not pattern.search(row.label) or _per_share(row):
                continue
            if re.search(r"shares|weighted|average|cost\s+of|reconcile", row.label, re.I):
                continue
            return row
    return None


def _title_weight(text: str, at: int) -> int:
    """4 for a title line near the top, 2 for a title named in prose."""
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    return 4 if len(line) < 160 and text.count("\n", 0, at) < 5 else 2


def _statement_score(kind: str, text: str, rows: Sequence[Row]) -> int:
    title = _TITLES[kind].search(text[:600])
    keys = [k for k, _, stmt, _, _ in METRICS if stmt == kind]
    found = sum(_find_row(rows, k, k == "eps_diluted") is not None for k in keys)
    if found == 0:
        return 0
    header = _header(rows)
    distinct = header is not None and len({c[0] for c in header.cells}) == len(header.cells)
    placed = 0 if title is None else _title_weight(text, title.start())
    return found + placed + (1 if distinct else 0)


def read_statement(page: int, text: str, kind: str) -> Statement:
    """A page read as a statement of ``kind``: its rows, column header and units."""
    rows = scan_rows(text)
    units = _UNITS.search(text[:800])
    return Statement(
        kind, page, text, rows, _header(rows), units.group(1).lower() if units else None
    )


def find_statements(pages: Sequence[str]) -> dict[str, Statement]:
    """The income statement and the cash-flow statement pages (1-based), when found."""
    best: dict[str, tuple[int, Statement]] = {}
    for number, text in enumerate(pages, start=1):
        if not re.search(r"\d", text):
            continue
        rows = scan_rows(text)
        for kind in _TITLES:
            score = _statement_score(kind, text, rows)
            if score >= 4 and score > best.get(kind, (0, None))[0]:
                best[kind] = (score, read_statement(number, text, kind))
    return {kind: statement for kind, (_, statement) in best.items()}


def _columns(statement: Statement, row: Row) -> tuple[int, int]:
    """Indices of the current and prior period's cells in ``row``."""
    header = statement.header
    oldest_first = header and len(header.cells) >= 2 and header.cells[0][0] < header.cells[1][0]
    if oldest_first and header and len(row.cells) == len(header.cells):
        return len(row.cells) - 1, len(row.cells) - 2
    return 0, 1


def _period(statement: Statement, column: int) -> str:
    """ "the three months ended June 30, 2023" / "2022" for a column."""
    header = statement.header
    if header is None or column >= len(header.cells):
        return "the current period" if column == 0 else "the prior period"
    year = header.cells[column][0]
    top = statement.text[max(0, header.start - 400) : header.cells[-1][1]]
    spans, days = list(_SPAN.finditer(top)), list(_MONTH_DAY.finditer(top))
    if spans and days:  # "Three months ended … Six months ended": a span per column group
        span = spans[min(column // max(len(header.cells) // len(spans), 1), len(spans) - 1)]
        day = days[min(column // max(len(header.cells) // len(days), 1), len(days) - 1)]
        return f"the {span.group(1).lower()} months ended {day.group(1)} {day.group(2)}, {year}"
    return year


def _change(current: float, prior: float, cur_text: str, prior_text: str) -> dict[str, Any]:
    if prior == 0:
        return {"pct": None, "formula": None}
    pct = round((current - prior) / abs(prior) * 100, 1)
    formula = f"({cur_text} − {prior_text}) ÷ |{prior_text}| × 100 = {pct:+.1f}%"
    return {"pct": pct, "formula": formula}


def _money(text: str, value: float, per_share: bool, units: str | None) -> str:
    bare = text.replace("$", "").strip("() \t")
    scale = "" if per_share else f" {(units or 'millions')[:-1]}"
    return f"{'-' if value < 0 else ''}${bare}{scale}"


def _sentence(name: str, fig: dict[str, Any]) -> str:
    pct = fig["change_pct"]
    trend = "" if pct is None else f" ({'up' if pct > 0 else 'down' if pct < 0 else 'flat'}"
    trend += "" if pct is None or pct == 0 else f" {abs(pct):.1f}%"
    trend += ")" if pct is not None else ""
    plain = re.sub(r"\s*\((?:notes?\s+[\d, and]+|[a-z])\)", "", fig["label"], flags=re.I)
    label = "" if plain.lower() in name.lower() else f" ({plain})"
    return (
        f"{name}{label} was {fig['current_text']} in {fig['period']}, "
        f"against {fig['prior_text']} in {fig['prior_period']}{trend}."
    )


def _label(row: Row, per_share: bool) -> str:
    """The row's label; an EPS row read under a "Diluted …" heading names it too."""
    if per_share and row.context and "dilut" not in row.label.lower():
        return f"{row.context.rstrip(' :')} — {row.label}"
    return row.label


def _cite(statement: Statement, start: int, end: int, **fields: Any) -> dict[str, Any]:
    quote = statement.text[start:end]
    return {**fields, "page": statement.page, "quote": quote, "start": start, "end": end}


def figure(statement: Statement, key: str, name: str, row: Row, per_share: bool,
            fields: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
    cur_i, prior_i = _columns(statement, row)
    (cur_t, cur_s, cur_e), (prior_t, prior_s, prior_e) = row.cells[cur_i], row.cells[prior_i]
    current, prior = cell_number(cur_t), cell_number(prior_t)
    if current is None or prior is None:
        return None
    cites = [_cite(statement, row.start, max(cur_e, prior_e), **fields)]
    header = statement.header
    if header is not None:
        top = max(statement.text.rfind("\n", 0, header.cells[0][1]) + 1, 0)
        span = _SPAN.search(statement.text[: header.cells[0][1]])
        first = min(span.start() if span else top, top)
        cites.append(_cite(statement, first, header.cells[-1][2], **fields))
    fig = {
        "metric": key, "name": name, "label": _label(row, per_share), "statement": statement.kind,
        "page": statement.page, "units": "per share" if per_share else statement.units,
        "current": current, "prior": prior,
        "current_text": _money(cur_t, current, per_share, statement.units),
        "prior_text": _money(prior_t, prior, per_share, statement.units),
        "period": _period(statement, cur_i), "prior_period": _period(statement, prior_i),
        "cells": [{"text": cur_t, "start": cur_s, "end": cur_e},
                  {"text": prior_t, "start": prior_s, "end": prior_e}],
        "citations": cites,
    }  # fmt: skip
    change = _change(current, prior, cur_t, prior_t)
    fig |= {"change_pct": change["pct"], "formula": change["formula"]}
    if change["pct"] is not None:  # the change is shown as computed from the cited cells
        fig["computation"] = {"formula": change["formula"], "inputs": fig["cells"],
                              "value": change["pct"]}  # fmt: skip
    fig["sentence"] = _sentence(name, fig)
    return fig


def lead_figures(pages: Sequence[str], **fields: Any) -> list[dict[str, Any]]:
    """Revenue, operating income, net income, diluted EPS and operating cash
    flow (those the statements state), each with the prior period, the change
    and its citations (``fields`` are added to every citation)."""
    statements = find_statements(pages)
    out = []
    for key, name, kind, _, per_share in METRICS:
        statement = statements.get(kind)
        row = _find_row(statement.rows, key, per_share) if statement else None
        if statement is None or row is None:
            continue
        fig = figure(statement, key, name, row, per_share, fields)
        if fig is not None:
            out.append(fig)
    return out
