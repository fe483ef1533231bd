"""A report's chunks, made to know the report: boilerplate labelled, tables
searchable as tables.

- **Boilerplate.** Each chunk gets :attr:`Chunk.boilerplate` from
  :func:`ingest.reports.boilerplate_label`; on a cover page (one of the first
  three pages, with three or more cover cues: check boxes, "exact name of
  registrant", "Commission file number", ...) every chunk is ``cover``, and
  on the signatures page every chunk after "duly caused this report to be
  signed" is ``signatures``.
- **Tables.** A chunk over a table (:mod:`ingest.tables`) becomes a TABLE
  chunk whose ``text`` (never ``body``) carries the table's caption, units and
  column headers, so "total revenue 2022" meets its row. A chunk too long for
  that header is split between rows into groups that each repeat it. Bodies
  stay page-exact: a piece is ``page.text[start:end]``, cut at a row's first
  character.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from core.reports import ReportTable
from core.types import BlockKind, Chunk, Document, chunk_id
from ingest.reports import boilerplate_label
from knowledge_base.tokens import TokenCounter

__all__ = ["label_report_chunks", "table_context"]

_COVER_CUES = re.compile(
    r"indicate\s+by\s+check\s+mark|exact\s+name\s+of\s+registrant|commission\s+file\s+"
    r"(?:number|no)|securities\s+registered\s+pursuant|large\s+accelerated\s+filer|"
    r"I\.R\.S\.\s+employer",
    re.I,
)
_CERTIFICATION = re.compile(
    r"\bcertification\b[^\n]{0,120}\n?[^\n]{0,200}\bcertify\b|\bI,\s+[A-Z][^,]{2,60},\s+certify",
    re.I,
)
_SIGNED = re.compile(r"duly\s+caused\s+this\s+report\s+to\s+be\s+signed", re.I)
#: Most tokens of the table header (caption, units, columns) in a chunk's text.
_CONTEXT_TOKENS = 60
_WINDOW = 256


_STATEMENT_NAMES = {
    "income": "income statement",
    "comprehensive_income": "statement of comprehensive income",
    "balance": "balance sheet",
    "cash_flow": "cash flow statement",
    "equity": "statement of shareholders' equity",
}


def table_context(table: ReportTable) -> str:
    """The header line of a table chunk: "Table (income statement):
    Consolidated Statements of Income (in millions) | columns: 2023; 2022"."""
    caption = re.sub(r"\s+", " ", table.caption).strip()
    units = f"({table.units})" if table.units and table.units not in caption else ""
    columns = "; ".join(c for c in table.columns if c)
    kind = f" ({_STATEMENT_NAMES[table.statement]})" if table.statement in _STATEMENT_NAMES else ""
    head = " ".join(p for p in (caption, units) if p)
    return f"Table{kind}: {head}" + (f" | columns: {columns}" if columns else "")


def _page_labels(document: Document) -> dict[int, tuple[str, int]]:
    """Page -> (label, offset from which every chunk has it)."""
    out: dict[int, tuple[str, int]] = {}
    for page in document.pages:
        if page.number <= 3 and len(_COVER_CUES.findall(page.text)) >= 3:
            out[page.number] = ("cover", 0)
        elif _CERTIFICATION.search(page.text[:400]):
            out[page.number] = ("certification", 0)
        elif (m := _SIGNED.search(page.text)) is not None:
            out[page.number] = ("signatures", m.start())
    return out


class _Fitter:
    def __init__(self, counter: TokenCounter, max_tokens: int) -> None:
        self.counter = counter
        self.limit = min(max_tokens, _WINDOW - 2)

    def fits(self, text: str) -> bool:
        return self.counter.count(text) <= self.limit


def _head(chunk: Chunk) -> str:
    """The chunk's title and heading-path lines (its text before the body)."""
    at = chunk.text.find(chunk.body[:40]) if chunk.body else -1
    return chunk.text[:at].rstrip("\n ") if at > 0 else ""


def _context(table: ReportTable, fitter: _Fitter) -> str:
    context = table_context(table)
    ids = fitter.counter.count(context)
    while ids > _CONTEXT_TOKENS and len(context) > 40:
        context = context[: int(len(context) * _CONTEXT_TOKENS / ids)].rstrip()
        ids = fitter.counter.count(context)
    return context


def _row_starts(table: ReportTable, start: int, end: int) -> list[int]:
    starts = []
    for row in table.rows:
        first = row.label_start
        if first is None:
            first = next((c.start for c in row.cells if c is not None), None)
        if first is not None and start < first < end:
            starts.append(first)
    return sorted(set(starts))


def _split(chunk: Chunk, table: ReportTable, text: str, fitter: _Fitter) -> list[Chunk]:
    """The chunk as TABLE pieces whose text is head + table context + body."""
    # The title line, then the table's own header: a statement page's heading
    # path is often an index line or the previous page's caption.
    head = _head(chunk).split("\n", 1)[0]
    context = _context(table, fitter)
    prefix = "\n".join(p for p in (head, context) if p)

    def make(s: int, e: int) -> Chunk:
        body = text[s:e]
        lead = len(body) - len(body.lstrip())
        body = body.strip()
        return chunk.model_copy(
            update={
                "start": s + lead,
                "end": s + lead + len(body),
                "body": body,
                "text": f"{prefix}\n{body}",
                "kind": BlockKind.TABLE,
            }
        )

    whole = make(chunk.start, chunk.end)
    if fitter.fits(whole.text):
        return [whole]
    cuts = [chunk.start, *_row_starts(table, chunk.start, chunk.end), chunk.end]
    pieces: list[Chunk] = []
    s = cuts[0]
    for i in range(1, len(cuts)):
        if i + 1 < len(cuts) and fitter.fits(f"{prefix}\n{text[s : cuts[i + 1]].strip()}"):
            continue  # the next row still fits: keep growing this group
        pieces.append(make(s, cuts[i]))
        s = cuts[i]
    if any(not fitter.fits(p.text) for p in pieces):
        return [chunk]  # a single row over the limit: leave the chunker's cut alone
    return [p for p in pieces if p.body]


def label_report_chunks(
    document: Document,
    chunks: Sequence[Chunk],
    tables: Sequence[ReportTable],
    counter: TokenCounter,
    max_tokens: int,
) -> list[Chunk]:
    """Boilerplate labels and table chunks (see the module docstring);
    ordinals and ids renumbered in reading order."""
    pages = _page_labels(document)
    by_page: dict[int, list[ReportTable]] = defaultdict(list)
    for t in tables:
        by_page[t.page].append(t)
    fitter = _Fitter(counter, max_tokens)
    out: list[Chunk] = []
    for c in chunks:
        label = boilerplate_label(c.body)
        page_label = pages.get(c.page)
        if page_label is not None and c.start >= page_label[1] and label is None:
            label = page_label[0]
        c = c.model_copy(update={"boilerplate": label}) if label != c.boilerplate else c
        table = next(
            (t for t in by_page.get(c.page, []) if 2 * _overlap(c, t) > c.end - c.start), None
        )
        if table is None or label is not None:
            out.append(c)
            continue
        out.extend(_split(c, table, document.pages[c.page - 1].text, fitter))
    return [
        c.model_copy(update={"ordinal": i, "id": chunk_id(c.document_id, i)})
        for i, c in enumerate(out)
    ]


def _overlap(c: Chunk, t: ReportTable) -> int:
    return max(0, min(c.end, t.end) - max(c.start, t.start))
