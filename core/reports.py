"""Domain types of financial reports (SEC filings, earnings releases, annual
reports): the profile read from the cover page and the tables read from the
pages. Filled by :mod:`ingest.reports` and :mod:`ingest.tables`, stored by
:mod:`knowledge_base.report_tables`.

Offsets follow :mod:`core.types`: a cell's ``start``/``end`` are character
offsets into its page's text, so ``page.text[cell.start:cell.end] == cell.text``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "BOILERPLATE_LABELS",
    "FORMS",
    "STATEMENTS",
    "ReportProfile",
    "ReportTable",
    "TableCell",
    "TableRow",
    "cell_number",
]

#: What :func:`ingest.reports.report_profile` reads as ``form``.
FORMS = ("10-K", "10-Q", "8-K", "20-F", "earnings release", "annual report")
#: Financial statements a table can be labelled as.
STATEMENTS = ("income", "comprehensive_income", "balance", "cash_flow", "equity")
#: Boilerplate labels of a chunk (``Chunk.boilerplate``): kept searchable,
#: ranked below content, never summarised.
BOILERPLATE_LABELS = (
    "cover",
    "index",
    "signatures",
    "certification",
    "exhibit-index",
    "safe-harbour",
    "see-notes",
)


_NUMBER = re.compile(r"^\(?-?\$?\s*\(?([0-9][0-9,]*(?:\.[0-9]+)?|\.[0-9]+)\)?\s*%?\)?$")
_DASHES = {"—", "–", "-", "— ", "nm", "n/a"}


def cell_number(text: str) -> float | None:
    """The number a cell states: "1,234" -> 1234.0, "(81)" -> -81.0,
    "$ 0.33" -> 0.33, "12.5%" -> 12.5, a dash ("—") -> 0.0; None for words."""
    t = text.strip().replace("\u2212", "-")
    if t.lower() in _DASHES:
        return 0.0
    m = _NUMBER.match(t)
    if m is None:
        return None
    value = float(m.group(1).replace(",", ""))
    negative = t.startswith("(") or t.startswith("-") or t.endswith(")")
    return -value if negative else value


@dataclass
class ReportProfile:
    """A report as its cover page states it; a field the cover lacks is None."""

    issuer: str | None = None  # "3M Company"
    form: str | None = None  # one of FORMS
    fiscal_period: str | None = None  # "FY2022" | "2023Q2"
    period_end: str | None = None  # ISO date "2022-12-31"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ReportProfile:
        data = data or {}
        return cls(**{k: data.get(k) for k in ("issuer", "form", "fiscal_period", "period_end")})


@dataclass
class TableCell:
    """One cell: ``page.text[start:end] == text``."""

    text: str
    start: int
    end: int

    @property
    def value(self) -> float | None:
        """The number the cell states ("(1,234)" -> -1234.0; "—" -> 0.0), or None."""
        return cell_number(self.text)


@dataclass
class TableRow:
    """A row: its label (the first column's text, "" if none) and one cell
    (or None) per column of :attr:`ReportTable.columns`."""

    label: str
    cells: list[TableCell | None] = field(default_factory=list)
    #: Offsets of the label on the page (None for a row without a label).
    label_start: int | None = None
    label_end: int | None = None


@dataclass
class ReportTable:
    """A table on one page. ``index`` is its 0-based position on the page."""

    page: int
    index: int
    caption: str = ""
    statement: str | None = None  # one of STATEMENTS, or None
    units: str | None = None  # "in millions, except per share amounts"
    columns: list[str] = field(default_factory=list)  # ["Three months ended June 30, 2023", ...]
    rows: list[TableRow] = field(default_factory=list)
    #: The table's span on the page (first to last character).
    start: int = 0
    end: int = 0

    def cell(self, row_label: str, column: int) -> TableCell | None:
        """The cell of the first row whose label starts with ``row_label``
        (case-insensitive) in column ``column``; None if absent."""
        want = row_label.strip().lower()
        for row in self.rows:
            if row.label.lower().startswith(want) and column < len(row.cells):
                return row.cells[column]
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "index": self.index,
            "caption": self.caption,
            "statement": self.statement,
            "units": self.units,
            "columns": list(self.columns),
            "start": self.start,
            "end": self.end,
            "rows": [
                {
                    "label": r.label,
                    "label_start": r.label_start,
                    "label_end": r.label_end,
                    "cells": [None if c is None else asdict(c) for c in r.cells],
                }
                for r in self.rows
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportTable:
        rows = [
            TableRow(
                label=r["label"],
                cells=[None if c is None else TableCell(**c) for c in r["cells"]],
                label_start=r.get("label_start"),
                label_end=r.get("label_end"),
            )
            for r in data.get("rows", [])
        ]
        return cls(
            page=data["page"],
            index=data["index"],
            caption=data.get("caption", ""),
            statement=data.get("statement"),
            units=data.get("units"),
            columns=list(data.get("columns", [])),
            rows=rows,
            start=data.get("start", 0),
            end=data.get("end", 0),
        )
