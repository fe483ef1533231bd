"""Tables of a parsed document as tables: caption, units, column headers
(periods), row labels and cells with page-exact offsets
(``page.text[cell.start:cell.end] == cell.text``).

Two page forms are read, both from the stored page text (so offsets are exact
by construction and nothing is re-read from the file):

- **TABLE blocks** (ruled PDF tables, :mod:`ingest.loaders.pdf_tables`; DOCX
  tables, :mod:`ingest.loaders.docx`): cells joined by ``" | "``, rows by
  ``"\\n"``. Leading rows without numbers are the column headers; ``$``
  cells (a currency sign drawn in a column of its own) are dropped.
- **Flattened text tables** (SEC filings rendered from HTML draw no rules; the
  loader joins a row's label and figures into running text): a header line
  of period columns ("2018 2017 2016", "December 31, 2022 2021") followed by
  rows of the form ``label figure figure ...`` with exactly as many figures as
  columns ("Net sales $ 32,765 $ 31,657 $ 30,109").

Financial statements are labelled from the caption above the table (income /
operations / earnings, comprehensive income, balance sheet / financial
position, cash flows, equity), else from tell-tale rows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from core.reports import ReportTable, TableCell, TableRow, cell_number
from core.types import BlockKind, Page

__all__ = ["extract_tables", "statement_kind", "table_units"]

_FIG = r"\(?\$?\(?-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\)?%?\)?|—|–"
_FIGURE = re.compile(rf"(?:\$\s+)?({_FIG})(?=\s|$)")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_HEADER_LINE = re.compile(r"(?:\b(?:19|20)\d{2}\b[^\n\d]{0,40}){2,}")
_UNITS = re.compile(
    r"\(?((?:unaudited[;,]\s*)?(?:dollars|amounts|\$|shares)?\s*(?:in\s+)?"
    r"(?:millions|thousands|billions)(?:\s+of\s+dollars)?(?:,?\s+except\s+[^)\n]{1,60})?)\)?",
    re.I,
)
_STATEMENTS = (
    ("comprehensive_income", r"statements?of(?:consolidated)?comprehensive"),
    ("income", r"statements?of(?:consolidated)?(?:income|operations|earnings)|incomestatements?"),
    ("balance", r"balancesheets?|statements?offinancial(?:position|condition)"),
    ("cash_flow", r"statements?of(?:consolidated)?cashflows?|cashflowstatements?"),
    ("equity", r"(?:shareholders|stockholders|shareowners)[’']?equity|changesinequity"),
)
_ROW_CUES = (
    ("balance", ("total assets", "total liabilities")),
    ("cash_flow", ("net cash provided by", "investing activities")),
    ("income", ("net income", "per share")),
)
_NOTES = re.compile(r"(?:the|see)\s+accompanying\s+notes", re.I)


def statement_kind(caption: str, labels: Sequence[str] = ()) -> str | None:
    """Which financial statement a table is, from its caption (spaces and
    case ignored: "Statement of Incom e" is read), else from its rows."""
    squashed = re.sub(r"[^a-z’']", "", caption.lower())
    for kind, pattern in _STATEMENTS:
        if re.search(pattern, squashed):
            if kind == "equity" and "balance" in squashed:
                continue
            return kind
    rows = " ".join(labels).lower()
    for kind, cues in _ROW_CUES:
        if all(c in rows for c in cues):
            return kind
    return None


def table_units(text: str) -> str | None:
    """ "(Unaudited; in millions, except per share amounts)" -> "in millions,
    except per share amounts"; None when the text states no unit."""
    m = _UNITS.search(text)
    if m is None:
        return None
    units = re.sub(r"^unaudited[;,]\s*", "", m.group(1).strip(), flags=re.I)
    units = re.sub(r"\s+", " ", units)
    return (
        "in " + units.lower()
        if re.match(r"(?:millions|thousands|billions)", units, re.I)
        else units
    )


# ----------------------------------------------------------------- TABLE blocks
def _cells(text: str, base: int) -> list[TableCell]:
    out: list[TableCell] = []
    pos = 0
    if text.startswith("| "):  # an empty first cell
        out.append(TableCell("", base, base))
        text, base = text[2:], base + 2
    for part in text.split(" | "):
        raw_start = pos
        pos += len(part) + 3
        stripped = part.strip()
        if not stripped:
            out.append(TableCell("", base + raw_start, base + raw_start))
            continue
        lead = len(part) - len(part.lstrip())
        s = base + raw_start + lead
        out.append(TableCell(stripped, s, s + len(stripped)))
    return out


def _from_block(page: Page, start: int, end: int) -> tuple[list[str], list[TableRow]] | None:
    grid: list[list[TableCell]] = []
    pos = start
    for line in page.text[start:end].split("\n"):
        if line.strip():
            grid.append(_cells(line, pos))
        pos += len(line) + 1
    width = max((len(r) for r in grid), default=0)
    if width < 2 or len(grid) < 2:
        return None

    def figure(c: TableCell) -> bool:
        return cell_number(c.text) is not None and not _YEAR.fullmatch(c.text)

    n_head = 0
    if any(figure(c) for r in grid for c in r[1:]):  # headers: rows before the figures
        while n_head < len(grid) and not any(figure(c) for c in grid[n_head][1:]):
            n_head += 1
    else:  # a table of words (DOCX key terms): only title rows of one cell head it
        while n_head < len(grid) and sum(bool(c.text) for c in grid[n_head]) <= 1:
            n_head += 1
    data = grid[n_head:]
    keep = [
        i for i in range(1, width) if any(i < len(r) and r[i].text not in ("", "$") for r in data)
    ]
    if not keep or not data:
        return None
    rows = []
    for r in data:
        label = r[0] if r and r[0].text else None
        cells = [r[i] if i < len(r) and r[i].text not in ("", "$") else None for i in keep]
        rows.append(
            TableRow(
                label=label.text if label else "",
                cells=cells,
                label_start=label.start if label else None,
                label_end=label.end if label else None,
            )
        )
    return _column_names(grid[:n_head], len(keep)), rows


def _column_names(head: list[list[TableCell]], n: int) -> list[str]:
    """Header rows to one name per data column, by order: a row with n texts
    names each column; one with fewer (a divisor of n) spans them evenly
    ("Three months ended" over 2023 and 2022)."""
    names: list[list[str]] = [[] for _ in range(n)]
    for row in head:
        texts = [c.text for c in row[1:] if c.text and c.text != "$"]
        if not texts or n % len(texts):
            continue
        span = n // len(texts)
        for i in range(n):
            names[i].append(texts[i // span])
    return [" ".join(parts) for parts in names]


# -------------------------------------------------------- flattened text tables
def _periods(years: list[str]) -> bool:
    """Years as statement columns: consecutive ("2018 2017 2016"), or such a
    run repeated ("2023 2022 2023 2022": three and six months)."""
    n = len(set(years))
    if n < 2 or len(years) % n:
        return False
    group = [int(y) for y in years[:n]]
    consecutive = all(abs(a - b) == 1 for a, b in pairwise(group))
    return consecutive and years == years[:n] * (len(years) // n)


def _header(text: str, start: int, end: int) -> tuple[int, int, list[str]] | None:
    """The first run in [start, end) that names two or more distinct years:
    its start, its end and the years (the column headers)."""
    for m in _HEADER_LINE.finditer(text, start, end):
        years = _YEAR.findall(m.group(0))
        if _periods(years):
            last = list(_YEAR.finditer(m.group(0)))[-1]
            return m.start(), m.start() + last.end(), years
    return None


def _text_rows(text: str, start: int, end: int, n: int) -> list[TableRow]:
    """Rows "label fig fig ... (n figures)" in text[start:end], in order."""
    figs = list(_FIGURE.finditer(text, start, end))
    rows: list[TableRow] = []
    i, label_from = 0, start
    while i + n <= len(figs):
        run = figs[i : i + n]
        gaps = [text[a.end() : b.start()] for a, b in pairwise(run)]
        after = figs[i + n].start() if i + n < len(figs) else None
        joined = all(re.fullmatch(r"\s*(?:\$\s*)?", g) for g in gaps)
        continues = after is not None and re.fullmatch(
            r"\s*(?:\$\s*)?", text[run[-1].end() : after]
        )
        label = text[label_from : run[0].start()].strip(" \n$")
        label = label.rsplit("\n", 1)[-1].strip()  # a section heading stays out
        if joined and not continues and re.search(r"[A-Za-z]", label):
            ls = text.index(label, label_from) if label else None
            cells: list[TableCell | None] = [
                TableCell(f.group(1), f.start(1), f.end(1)) for f in run
            ]
            rows.append(TableRow(label, cells, ls, None if ls is None else ls + len(label)))
            label_from = run[-1].end()
            i += n
        else:
            i += 1
            if not joined:
                label_from = max(label_from, run[0].end()) if not label else label_from
    return rows


def _caption(page: Page, before: int) -> str:
    head = page.text[:before].strip()
    lines = [ln.strip() for ln in head.split("\n") if ln.strip()]
    return " ".join(lines[-3:])[:300] if lines else ""


def _page_tables(page: Page, text_tables: bool) -> list[ReportTable]:
    text, tables = page.text, []
    spans = [(b.start, b.end) for b in page.blocks if b.kind is BlockKind.TABLE]
    for start, end in spans:
        parsed = _from_block(page, start, end)
        if parsed is None or not parsed[1]:
            continue
        columns, rows = parsed
        table = _table(page, start, end, columns, rows)
        title = _title_rows(page.text, start, rows)
        if title and not any(columns):  # "Key Terms" over a table of words
            table.caption = title
        tables.append(table)
    covered = spans[:]
    pos = 0
    while text_tables:
        head = _header(text, pos, len(text))
        if head is None:
            break
        h_start, h_end, years = head
        if any(s <= h_end < e for s, e in covered):
            pos = h_end
            continue
        stop = min([s for s, _ in covered if s > h_end] + [len(text)])
        notes = _NOTES.search(text, h_end, stop)
        stop = notes.start() if notes else stop
        rows = _text_rows(text, h_end, stop, len(years))
        if len(rows) >= 2:
            start = text.rfind("\n", 0, h_start) + 1
            end = max(c.end for r in rows for c in r.cells if c)
            tables.append(_table(page, start, end, years, rows))
            covered.append((start, end))
            pos = end
        else:
            pos = h_end
    tables.sort(key=lambda t: t.start)
    for i, t in enumerate(tables):
        t.index = i
    return tables


def _title_rows(text: str, start: int, rows: list[TableRow]) -> str:
    """The block's text before its first data row (a merged title row)."""
    first = next((r.label_start for r in rows if r.label_start is not None), None)
    return " ".join(text[start:first].split()).strip(" |") if first is not None else ""


def _table(
    page: Page, start: int, end: int, columns: list[str], rows: list[TableRow]
) -> ReportTable:
    caption = _caption(page, start)
    near = page.text[max(0, start - 300) : min(len(page.text), start + 200)]
    return ReportTable(
        page=page.number,
        index=0,
        caption=caption,
        statement=statement_kind(caption, [r.label for r in rows]),
        units=table_units(near),
        columns=columns,
        rows=rows,
        start=start,
        end=end,
    )


def extract_tables(pages: Sequence[Page], *, text_tables: bool = True) -> list[ReportTable]:
    """Every table on the pages, in reading order (see the module docstring);
    without ``text_tables`` only the TABLE blocks."""
    out: list[ReportTable] = []
    for page in pages:
        out.extend(_page_tables(page, text_tables))
    return out
