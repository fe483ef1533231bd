"""Rows and cells of the financial statements, read from a report's page text.

The PDF loader writes a statement's rows as running text ("Net sales $ 11,303
$ 11,503 $ 11,290 Cost of sales 7,772 ..."). A statement page is one whose
opening names a statement (income, balance sheet, cash flows); its column
header is the run of years (or "May 31, 2020 ... 2019" dates) above the rows;
a row is a label followed by one figure per column. Every cell keeps its
offsets in the page text (``page_text[start:end] == text``), so an answer can
cite the exact characters it used.

When the report's tables are stored (:mod:`core.reports`, ``KnowledgeBase.tables``)
:func:`rows_from_tables` reads the same rows from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Cell",
    "StatementRow",
    "match_row",
    "normalise_label",
    "report_rows",
    "rows_from_tables",
    "short_label",
    "statement_rows",
]

_TOKEN = re.compile(r"\S+")
_FIGURE = re.compile(r"^(\()?\$?(-)?\$?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(\))?%?$")
_FILLER = frozenset({"$", "|"})  # currency signs and cell rules between a row's figures
_DASH = frozenset({"—", "–", "-", "—-", "$—", "$-"})
_YEAR = re.compile(r"^(?:19[89]\d|20[0-4]\d)$")
_MONTH = re.compile(r"^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?$", re.I)
_TITLES = (
    ("cash_flow", re.compile(r"statements?of(?:consolidated)?cashflows?|cashflowsstatements?")),
    ("balance", re.compile(
        r"balancesheets?|statements?of(?:consolidated)?financial(?:position|condition)")),
    ("income", re.compile(
        r"statements?of(?:consolidated)?(?:income|operations|earnings)(?!and(?:retained|comprehensive))"
        r"|statements?of(?:income|operations|earnings)|incomestatements?")),
)  # fmt: skip
_UNITS = re.compile(r"\((?:dollars |amounts )?in (millions|thousands|billions)|\((millions|thousands|billions)\)"
                    r"|\bin (millions|thousands|billions)\b", re.I)  # fmt: skip
_NOTE_REF = re.compile(
    r"\((?:see )?notes?\s[^)]{0,30}\)|\$\s?[\d,.]+|(?<![\w])\d[\d,.]*(?![\w])", re.I
)
_NET_OF = re.compile(r"\bnet of\b.*$")


@dataclass(frozen=True)
class Cell:
    text: str
    start: int
    end: int
    value: float | None  # None: a dash (nothing reported)


@dataclass
class StatementRow:
    page: int  # 1-based
    statement: str  # "income" | "balance" | "cash_flow"
    label: str  # as printed: page_text[label_start:first cell], unstripped
    norm: str  # normalised label text (see :func:`normalise_label`)
    label_start: int
    columns: list[int]  # the fiscal year of each cell
    cells: list[Cell]
    units: str = "millions"
    title: str = ""  # the statement page's opening (issuer, statement, units)
    spans: list[tuple[str, int]] = field(default_factory=list)  # normalised words -> raw start

    @property
    def end(self) -> int:
        return self.cells[-1].end

    def cell(self, year: int, occurrence: int = 0) -> Cell | None:
        """The cell of fiscal ``year``: its ``occurrence``-th column (a 10-Q's
        "six months" columns repeat the quarter's years), else its first."""
        found = [c for col, c in zip(self.columns, self.cells, strict=True) if col == year]
        if not found:
            return None
        return found[occurrence] if occurrence < len(found) else found[0]


def figure_value(text: str) -> float | None:
    """The number a statement cell prints: "(1,577)" is -1577; a dash is None."""
    m = _FIGURE.match(text)
    if m is None:
        return None
    value = float(m.group(3).replace(",", "") + (m.group(4) or ""))
    negative = (m.group(1) and m.group(5)) or m.group(2)
    return -value if negative else value


def _is_figure(token: str) -> bool:
    m = _FIGURE.match(token)
    if m is None:
        return token in _DASH
    return bool(m.group(1)) == bool(m.group(5))  # balanced parentheses


def normalise_label(text: str) -> str:
    """Lower case, note references, dollar amounts and punctuation dropped,
    "net of accumulated depreciation ..." cut to "net"."""
    text = _NOTE_REF.sub(" ", text.replace("\u00a0", " "))
    text = re.sub(r"[^a-z&]+", " ", text.lower().replace("’", "'").replace("'", ""))
    text = " ".join(text.split())
    return _NET_OF.sub("net", text).strip()


def short_label(label: str) -> str:
    """A row label for a sentence: note references, "net of ..." details and
    cell rules dropped ("Property, plant and equipment, net of accumulated
    depreciation - $13,663 and $12,995 (Note 9)" -> "Property, plant and
    equipment, net")."""
    text = re.sub(r"\s*\((?:see )?notes?\b[^)]*\)", "", label.replace("|", " "), flags=re.I)
    text = re.sub(r"(\bnet)\s+of\b.*$", r"\1", text, flags=re.I | re.S)
    return " ".join(text.split()).rstrip(" -–—:,$")


def statement_kind(page_text: str) -> str | None:
    """The statement a page opens with, or None."""
    head = re.sub(r"[^a-z]", "", page_text[:300].lower())
    for kind, pattern in _TITLES:
        if pattern.search(head):
            return kind
    return None


def _units(page_text: str) -> str:
    m = _UNITS.search(page_text[:600])
    return next((g for g in m.groups() if g), "millions").lower() if m else "millions"


_WORD = re.compile(r"[A-Za-z&]+(?:['’][A-Za-z]+)?")


def _label(text: str, start: int, end: int) -> tuple[str, list[tuple[str, int]]]:
    """Normalised words of the raw label text[start:end], each with its raw
    start (see :func:`normalise_label`)."""
    raw = text[start:end].replace("\u00a0", " ")
    blanked = _NOTE_REF.sub(lambda m: " " * len(m.group(0)), raw)
    words = [(re.sub(r"['’]", "", m.group(0).lower()), start + m.start())
             for m in _WORD.finditer(blanked)]  # fmt: skip
    for i in range(len(words) - 1):
        if words[i][0] == "net" and words[i + 1][0] == "of":
            words = words[: i + 1]
            break
    return " ".join(w for w, _ in words), words


def statement_rows(page_text: str, page: int, statement: str | None = None) -> list[StatementRow]:
    """The rows of the statement on ``page`` (1-based); [] for a page that
    opens with no statement title (unless ``statement`` is given)."""
    kind = statement or statement_kind(page_text)
    if kind is None:
        return []
    tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(page_text)]
    rows: list[StatementRow] = []
    columns: list[int] = []
    pending: list[int] = []
    label_from = 0
    i = 0
    units, title = _units(page_text), " ".join(page_text[:200].split())
    while i < len(tokens):
        if not _is_figure(tokens[i][0]):
            i += 1
            continue
        j = i
        run: list[tuple[str, int, int]] = []
        while j < len(tokens) and (_is_figure(tokens[j][0]) or tokens[j][0] in _FILLER):
            if tokens[j][0] not in _FILLER:
                run.append(tokens[j])
            j += 1
        if j < len(tokens) and tokens[j][0][:1].islower():
            i = j  # "- $46 and $41": amounts inside a label, not a row's cells
            continue
        years = [int(t) for t, _, _ in run if _YEAR.match(t)]
        if run and len(years) == len(run):
            before = next((t for t, _, _ in reversed(tokens[max(i - 4, 0) : i])
                           if t not in _FILLER and not t.endswith(",")), "")  # fmt: skip
            if len(run) >= 2:
                columns, pending = years, []
            elif _MONTH.match(before) or (
                i >= 1 and tokens[i - 1][0].lower() in ("year", "fiscal")
            ):
                pending.append(years[0])
                if len(pending) >= 2:
                    columns = list(pending)
            label_from = tokens[j - 1][2] if j > i else label_from
        elif columns and len(run) >= len(columns):
            # Two rows' figures in one run ("Total costs (63,106) ... 3,502 ..."
            # above an unlabelled subtotal): the label's row is the first.
            twice = len(run) % len(columns) == 0 and len(run) > len(columns)
            values = run[: len(columns)] if twice else run[-len(columns) :]
            label_end = values[0][1]
            norm, words = _label(page_text, label_from, label_end)
            if norm:
                cells = [Cell(t, s, e, figure_value(t)) for t, s, e in values]
                rows.append(StatementRow(page, kind, page_text[label_from:label_end], norm,
                                         label_from, list(columns), cells, units, title, words))  # fmt: skip
            label_from, pending = run[-1][2], []
        i = max(j, i + 1)
    return rows


#: Fewest rows a page needs to count as a statement (an index page has none).
MIN_ROWS = 5


def report_rows(pages: Sequence[str]) -> list[StatementRow]:
    """The rows of a report's primary statements: per kind, the page with the
    most rows (MD&A summaries and notes repeat a few lines of a statement)
    plus the next page when it continues that statement."""
    by_kind: dict[str, list[list[StatementRow]]] = {}
    for number, text in enumerate(pages, 1):
        rows = statement_rows(text, number)
        if len(rows) >= MIN_ROWS:
            by_kind.setdefault(rows[0].statement, []).append(rows)
    out: list[StatementRow] = []
    for kind, candidates in by_kind.items():
        main = max(candidates, key=len)
        out += main
        page = main[0].page
        if page < len(pages) and statement_kind(pages[page]) in (None, kind):
            more = statement_rows(pages[page], page + 1, kind)
            if more and more[0].columns == main[0].columns:
                out += more
    return out


def match_row(
    rows: Iterable[StatementRow], patterns: Sequence[str]
) -> tuple[StatementRow, int] | None:
    """The first row whose normalised label ends with a pattern (patterns in
    order of preference), and the raw offset where the matched label starts."""
    rows = list(rows)
    for pattern in patterns:
        regex = re.compile(rf"(?:^|\s)({pattern})$")
        for row in rows:
            m = regex.search(row.norm)
            if m is None:
                continue
            at = len(row.norm[: m.start(1)].split())
            start = row.spans[at][1] if at < len(row.spans) else row.label_start
            return row, start
    return None


def rows_from_tables(
    tables: Iterable[dict[str, Any]], page_texts: dict[int, str]
) -> list[StatementRow]:
    """Statement rows from stored report tables (``ReportTable.to_json()``
    dicts): only tables labelled as a statement whose headers are years."""
    rows: list[StatementRow] = []
    for table in tables:
        kind = table.get("statement")
        if kind not in ("income", "balance", "cash_flow"):
            continue
        years = [_year(str(c)) for c in table.get("columns") or []]
        if not years or any(y is None for y in years):
            continue
        text = page_texts.get(int(table["page"]), "")
        for row in table.get("rows") or []:
            cells = row.get("cells") or []
            if len(cells) != len(years) or any(c is None for c in cells):
                continue
            norm, words = normalise_label(row["label"]), []
            start = text.find(row["label"])
            words = [(w, max(start, 0)) for w in norm.split()]
            built = [Cell(c["text"], c["start"], c["end"], figure_value(c["text"])) for c in cells]
            rows.append(StatementRow(int(table["page"]), kind, row["label"], norm, max(start, 0),
                                     [y for y in years if y is not None], built,
                                     _scale(table.get("units")), table.get("caption") or "",
                                     words))  # fmt: skip
    return rows


def _scale(units: object) -> str:
    found = re.search(r"millions|thousands|billions", str(units or ""), re.I)
    return found.group(0).lower() if found else "millions"


def _year(header: str) -> int | None:
    found = re.findall(r"(?:19[89]\d|20[0-4]\d)", header)
    return int(found[-1]) if found else None
