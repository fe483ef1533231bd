"""Segment lines of a report: revenue by business segment, where the filing has it.

A segment table is recognised by arithmetic, not by its caption: a row that
states the reported revenue (the income statement's current value, on another
page) preceded by a run of labelled rows whose current values add up to it.
Of the tables found, the one that names segments nearby and does not list
geographic regions is taken. Each segment line is a figure like the lead
figures (current, prior, change, cited to its row and column header); rows for
eliminations, unallocated and corporate items count towards the total and are
not shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from api.services.report_figures import Row, Statement, figure, read_statement
from core.reports import cell_number

__all__ = ["segment_lines"]

MAX_SEGMENTS = 6
_LOOK_BACK = 12
_GEOGRAPHY = re.compile(
    r"\b(?:united\s+states|u\.s\.|non-united\s+states|americas|asia\s+pacific|emea|"
    r"europe,\s+middle\s+east|worldwide|domestic|foreign)\b",
    re.I,
)
_NOT_SEGMENT = re.compile(
    r"eliminat|unallocated|corporate|reconcil|total\s+reportable|dual\s+credit", re.I
)


def _number(row: Row, i: int = 0) -> float | None:
    if len(row.cells) < 2 or "%" in row.cells[0][0] or "%" in row.cells[1][0]:
        return None
    return cell_number(row.cells[i][0])


def _block(rows: Sequence[Row], i: int, target: float) -> list[Row] | None:
    """The labelled rows just above ``rows[i]`` whose current values sum to ``target``."""
    total, run = 0.0, []
    for prev in reversed(rows[max(0, i - _LOOK_BACK) : i]):
        value = _number(prev)
        if value is None or not prev.label or re.search(r"\d", prev.label):
            return None
        total += value
        run.insert(0, prev)
        if len(run) >= 2 and abs(total - target) <= max(1.0, 0.001 * abs(target)):
            return run
    return None


def _score(text: str, block: list[Row]) -> float:
    before = text[max(0, block[0].start - 1500) : block[0].start]
    named = [r for r in block if not _NOT_SEGMENT.search(r.label)]
    geographic = any(_GEOGRAPHY.search(r.label) for r in block)
    return (
        (2.0 if re.search(r"segment", before, re.I) else 0.0)
        - (3.0 if geographic else 0.0)
        + (1.0 if len(named) >= 3 else 0.0)
    )


def _candidates(
    pages: Sequence[str], revenue: dict[str, Any]
) -> list[tuple[float, int, Statement, list[Row]]]:
    found = []
    for number, text in enumerate(pages, start=1):
        if number == revenue["page"] or revenue["cells"][0]["text"] not in text:
            continue
        statement = read_statement(number, text, "segment")
        for i, row in enumerate(statement.rows):
            if _number(row) != revenue["current"]:
                continue
            block = _block(statement.rows, i, revenue["current"])
            if block:
                found.append((_score(text, block), -number, -block[0].start, statement, block))
    return found


def segment_lines(
    pages: Sequence[str], revenue: dict[str, Any] | None, **fields: Any
) -> list[dict[str, Any]]:
    """Revenue by segment (figures with ``metric`` "segment_revenue"), or []."""
    if revenue is None:
        return []
    found = _candidates(pages, revenue)
    if not found:
        return []
    score, _, _, statement, block = max(found, key=lambda f: f[:3])
    if score < 0:
        return []
    out = []
    for row in block:
        if _NOT_SEGMENT.search(row.label):
            continue
        fig = figure(statement, "segment_revenue", f"{row.label} revenue", row, False, fields)
        if fig is not None:
            fig["segment"] = row.label
            out.append(fig)
    return out[:MAX_SEGMENTS]
