"""PDF loader (PyMuPDF ``get_text("dict")``, Tesseract OCR for scanned pages).

Pipeline, per document:

1. Open (MuPDF repairs damaged cross-reference tables on open). Password
   protection -> EncryptedDocumentError; unrecoverable -> DocumentParseError;
   zero pages -> EmptyDocumentError.
2. Per page, read text lines with font size and boldness. A page with fewer
   than ``ocr_min_chars`` characters that is covered by an image is OCR'd
   (:mod:`ingest.loaders.ocr`) and marked ``Page.ocr``. Pages with enough
   ruling lines (drawings) are searched for tables with ``find_tables`` (it
   costs about a second a page, so only where line art suggests a table);
   each table becomes one TABLE block (cells " | ", rows "\\n"; see
   :mod:`ingest.loaders.pdf_tables`).
3. Running headers and footers are removed: lines among the first/last three
   of a page whose text (digits normalised to "#") recurs at about the same
   height on at least 30% of the pages (and 3 or more), plus lone page-number
   lines ("Page 3 of 10", "- 3 -", "iv", "B-2") at the top or bottom; deeper,
   up to six lines in, a line continues such a run when it recurs near the
   edge on half the pages (a five-line legal-notice footer).
4. Lines are joined into paragraphs (a line-end hyphen is dropped where the
   typesetter broke a word, "termi-" + "nation" -> "termination", and kept in
   a compound, "non-" + "compete" -> "non-compete": see
   :mod:`ingest.loaders.hyphenation`), split at vertical gaps, first-line
   indents, short last lines, bullets and clause numbers. Headings come from
   font size / bold relative to the document's body font plus the numbering
   patterns of :mod:`ingest.structure`.
"""

from __future__ import annotations

import itertools
import logging
import re
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf

from core.errors import (
    DocumentParseError,
    EmptyDocumentError,
    EncryptedDocumentError,
    IngestError,
)
from core.settings import IngestSettings
from core.types import BlockKind, Page
from ingest.loaders.hyphenation import Lexicon, join_lines
from ingest.loaders.ocr import needs_ocr, ocr_textpage
from ingest.loaders.pdf_tables import Table as _Table
from ingest.loaders.pdf_tables import find_tables as _find_tables
from ingest.structure import Para, assemble_page, classify_paragraph, match_clause_number

__all__ = ["load_pdf_pages"]

logger = logging.getLogger(__name__)

_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP
_WS = re.compile(r"[\s\u00a0\u2000-\u200b\u3000]+")
_ROMAN_PAGE = r"m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_PAGE_NUMBER = re.compile(
    rf"^(?:(?:page|pg\.?|p\.)\s*)?[-–—]?\s*(?:\d{{1,4}}|{_ROMAN_PAGE})\s*[-–—]?"
    rf"(?:\s*(?:of|/)\s*\d{{1,4}})?$|^[A-Z]{{1,2}}\s?[-–]\s?\d{{1,3}}$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^[•●▪◦·■□\-–*]\s")
_SENTENCE_END = re.compile(r"[.:;!?][\"'”’)]*$")
_OPEN_END = re.compile(r"(?:[^\W\d_]|,)$")
_LIST_END = re.compile(r"[;:]\s*(?:and|or)$", re.IGNORECASE)
_HF_SHARE = 0.3  # share of pages a header/footer line must recur on
_HF_Y_TOLERANCE = 24.0  # points
#: Lines from each page edge looked at for running heads and feet.
_HF_WINDOW = 6
#: Table search stops for the rest of a document after this much time.
_TABLE_BUDGET_S = 5.0


@dataclass
class _Line:
    text: str
    bbox: tuple[float, float, float, float]
    size: float
    bold: bool


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _hf_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower())


def _read_lines(page: pymupdf.Page, textpage: Any = None) -> list[_Line]:
    """Text lines of a page in MuPDF's order, side-by-side fragments of one
    baseline merged ("5.2" + tab + "The Supplier ...")."""
    data = page.get_text("dict", flags=_FLAGS, textpage=textpage)
    lines: list[_Line] = []
    for block in data["blocks"]:
        if block.get("type") != 0:
            continue
        for line in block["lines"]:
            spans = [s for s in line["spans"] if s["text"].strip()]
            if not spans:
                continue
            parts: list[str] = []
            prev_x1: float | None = None
            weights: Counter[float] = Counter()
            bold = True
            for s in spans:
                x0 = s["bbox"][0]
                if prev_x1 is not None and x0 - prev_x1 > 0.2 * s["size"]:
                    parts.append(" ")
                parts.append(s["text"])
                prev_x1 = s["bbox"][2]
                weights[round(s["size"] * 2) / 2] += len(s["text"].strip())
                bold = bold and (bool(s["flags"] & 16) or "bold" in s["font"].lower())
            text = _norm("".join(parts))
            if not text or _garbled(text):
                continue
            size = weights.most_common(1)[0][0]
            bbox = tuple(line["bbox"])
            prev = lines[-1] if lines else None
            if prev is not None and _same_baseline(prev.bbox, bbox):
                prev.text = f"{prev.text} {text}"
                prev.bbox = _union(prev.bbox, bbox)  # type: ignore[arg-type]
                prev.bold = prev.bold and bold
                continue
            lines.append(_Line(text, bbox, size, bold))  # type: ignore[arg-type]
    return lines


def _garbled(text: str) -> bool:
    """Text whose font lost its Unicode mapping (U+FFFD, control or
    private-use characters): useless to read or index, so dropped."""
    bad = sum(1 for c in text if c == "\ufffd" or ord(c) < 32 or 0xE000 <= ord(c) <= 0xF8FF)
    return bad > 0.3 * len(text)


def _same_baseline(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    height = min(a[3] - a[1], b[3] - b[1])
    return height > 0 and overlap > 0.6 * height and b[0] >= a[2] - 1.0


def _union(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float, float]:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _place_tables(lines: list[_Line], tables: list[_Table]) -> list[_Line | _Table]:
    """Replace the lines inside each table's box by the table, at the
    position of its first line (reading order kept, table never cut)."""
    if not tables:
        return list(lines)
    items: list[_Line | _Table] = []
    placed: set[int] = set()
    for ln in lines:
        cx, cy = (ln.bbox[0] + ln.bbox[2]) / 2, (ln.bbox[1] + ln.bbox[3]) / 2
        hit = next(
            (
                i
                for i, t in enumerate(tables)
                if t.bbox[0] - 2 <= cx <= t.bbox[2] + 2 and t.bbox[1] - 2 <= cy <= t.bbox[3] + 2
            ),
            None,
        )
        if hit is None:
            items.append(ln)
        elif hit not in placed:
            placed.add(hit)
            items.append(tables[hit])
    items.extend(t for i, t in enumerate(tables) if i not in placed)
    return items


def _strip_headers_footers(pages: list[list[_Line]]) -> None:
    """Remove running headers/footers and page numbers in place."""
    n = len(pages)
    seen: dict[str, set[int]] = defaultdict(set)  # among the outer 3 lines
    deep: dict[str, set[int]] = defaultdict(set)  # among the outer _HF_WINDOW
    ys: dict[str, list[float]] = defaultdict(list)
    for i, lines in enumerate(pages):
        order = sorted(range(len(lines)), key=lambda j: lines[j].bbox[1])
        for j in order[:_HF_WINDOW] + order[-_HF_WINDOW:]:
            deep[_hf_key(lines[j].text)].add(i)
        for j in order[:3] + order[-3:]:
            key = _hf_key(lines[j].text)
            if i not in seen[key]:
                seen[key].add(i)
                ys[key].append(lines[j].bbox[1])
    threshold = max(3, _HF_SHARE * n)
    repeated = {
        k: statistics.median(ys[k])
        for k, pages_ in seen.items()
        if n >= 3 and len(pages_) >= threshold
    }
    # Lines on most pages are running heads wherever they sit (short pages
    # pull a footer up); rarer ones must also keep their height.
    anywhere = {k for k in repeated if len(seen[k]) >= max(3, 0.5 * n)}
    # Deeper than three lines, only a line on half the pages (and 5 or more)
    # continues a run: a footer block of a legend, a notice, a page number
    # and a source line is five lines deep. Signature blocks that end a few
    # pages stay.
    deep_running = {k for k, pages_ in deep.items() if len(pages_) >= max(5, 0.5 * n)}
    for i, lines in enumerate(pages):
        order = sorted(range(len(lines)), key=lambda j: lines[j].bbox[1])
        drop: set[int] = set()
        for edge in (order[:_HF_WINDOW], order[::-1][:_HF_WINDOW]):
            for depth, j in enumerate(edge):
                ln = lines[j]
                key = _hf_key(ln.text)
                if depth < 3:
                    if (
                        key in anywhere
                        or (key in repeated and abs(ln.bbox[1] - repeated[key]) <= _HF_Y_TOLERANCE)
                        or (depth < 2 and _PAGE_NUMBER.match(ln.text))
                    ):
                        drop.add(j)
                elif edge[depth - 1] in drop and key in deep_running:
                    drop.add(j)
                else:
                    break
        if drop:
            pages[i] = [ln for j, ln in enumerate(lines) if j not in drop]


def _is_bare_number(text: str) -> bool:
    found = match_clause_number(text)
    return found is not None and not text[found[1] :].strip(" .:-–—")


def _wraps_into(prev: _Line, right: float, left: float) -> bool:
    """Whether a line starting with a clause number only continues the
    sentence of ``prev``: a full line ending in a word or comma ("... set out
    in" + "Schedule A.", "... a term of three" + "(3) years"), not in a
    list's "; and" / "; or"."""
    return (
        prev.bbox[2] >= right - 0.15 * (right - left)
        and _OPEN_END.search(prev.text) is not None
        and _LIST_END.search(prev.text) is None
    )


def _paragraphs(
    items: list[_Line | _Table],
    body_size: float,
    page_width: float,
    use_fonts: bool,
    lexicon: Lexicon,
) -> list[Para]:
    lines = [it for it in items if isinstance(it, _Line)]
    if lines:
        left = min(ln.bbox[0] for ln in lines)
        right = max(ln.bbox[2] for ln in lines)
    else:
        left, right = 0.0, page_width
    gaps = [
        b.bbox[1] - a.bbox[3]
        for a, b in itertools.pairwise(lines)
        if 0 <= b.bbox[1] - a.bbox[3] < 3 * body_size
    ]
    typical_gap = statistics.median(gaps) if gaps else 0.3 * body_size

    def hinted(ln: _Line) -> bool:
        if not use_fonts or len(ln.text) > 120:
            return False
        return ln.size >= body_size * 1.15 or (ln.bold and any(c.isalpha() for c in ln.text))

    paras: list[Para] = []
    cur: list[_Line] = []
    cur_joiner = "\n\n"

    def flush() -> None:
        if not cur:
            return
        text = cur[0].text
        for ln in cur[1:]:
            text = join_lines(text, ln.text, lexicon)
        bbox = cur[0].bbox
        for ln in cur[1:]:
            bbox = _union(bbox, ln.bbox)
        hint = all(hinted(ln) for ln in cur)
        kind, level, number = classify_paragraph(text, heading_hint=hint)
        if kind is BlockKind.HEADING and number is None and hint:
            size = max(ln.size for ln in cur)
            level = 1 if size >= body_size * 1.5 else 2 if size >= body_size * 1.2 else 3
        paras.append(Para(text, kind, level, number, bbox, cur_joiner))
        cur.clear()

    prev: _Line | None = None
    for it in items:
        if isinstance(it, _Table):
            flush()
            paras.append(Para(it.text, BlockKind.TABLE, None, None, it.bbox, "\n\n"))
            prev = None
            cur_joiner = "\n\n"
            continue
        ln = it
        if prev is None:
            flush()
            cur_joiner = "\n\n"
            cur.append(ln)
            prev = ln
            continue
        gap = ln.bbox[1] - prev.bbox[3]
        size = max(ln.size, 1.0)
        big_gap = gap > typical_gap + 0.5 * size or gap < -2 * size
        brk = (
            big_gap
            or hinted(ln) != hinted(prev)
            or (hinted(prev) and abs(ln.size - prev.size) > 0.5)
            or abs(ln.size - prev.size) > 1.5
            or (match_clause_number(ln.text) is not None and not _wraps_into(prev, right, left))
            or _BULLET.match(ln.text) is not None
            or (
                ln.bbox[0] > prev.bbox[0] + 1.5 * size
                and _SENTENCE_END.search(prev.text) is not None
            )
            or (
                prev.bbox[2] < right - 0.15 * (right - left)
                and _SENTENCE_END.search(prev.text) is not None
            )
        )
        if (
            brk
            and len(cur) == 1
            and _is_bare_number(cur[0].text)
            and (hinted(ln) or ln.text.isupper())
        ):
            brk = False  # "ARTICLE III" / "GOVERNANCE" on two lines: one heading
        if brk:
            flush()
            cur_joiner = "\n\n" if big_gap else "\n"
        cur.append(ln)
        prev = ln
    flush()
    if paras:
        paras[0].joiner = "\n\n"
    return paras


def _open(path: Path) -> pymupdf.Document:
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:  # MuPDF raises FileDataError/RuntimeError/ValueError
        raise DocumentParseError(path, f"corrupt PDF that could not be repaired: {exc}") from exc
    if doc.needs_pass:
        doc.close()
        raise EncryptedDocumentError(
            path, "the PDF is password-protected; remove the password and retry"
        )
    return doc


def load_pdf_pages(path: Path, settings: IngestSettings) -> tuple[list[Page], dict[str, str]]:
    """Parse a PDF into pages (numbered as in the file) plus metadata
    (``pdf_title``, ``ocr_pages``, ``unreadable_pages``). Raises only
    IngestError subclasses."""
    doc = _open(path)
    try:
        return _load(doc, path, settings)
    finally:
        doc.close()


def _load(
    doc: pymupdf.Document, path: Path, settings: IngestSettings
) -> tuple[list[Page], dict[str, str]]:
    try:
        count = doc.page_count
    except Exception as exc:
        raise DocumentParseError(path, f"cannot read the page tree: {exc}") from exc
    if count == 0:
        if getattr(doc, "is_repaired", False):
            raise DocumentParseError(
                path, "corrupt or truncated PDF: no page could be recovered by repair"
            )
        raise EmptyDocumentError(path, "the PDF has no pages")
    page_lines: list[list[_Line]] = []
    page_tables: list[list[_Table]] = []
    dims: list[tuple[float, float]] = []
    ocr_pages: list[int] = []
    failed: list[int] = []
    table_seconds = 0.0
    for i in range(count):
        lines: list[_Line] = []
        tables: list[_Table] = []
        width = height = 0.0
        try:
            page = doc.load_page(i)
            width, height = page.rect.width, page.rect.height
            lines = _read_lines(page)
            chars = sum(len(ln.text) for ln in lines)
            if needs_ocr(page, chars, settings):
                lines = _read_lines(page, ocr_textpage(page, path, settings))
                ocr_pages.append(i)
            elif table_seconds < _TABLE_BUDGET_S:
                t0 = time.perf_counter()
                tables = _find_tables(page)
                table_seconds += time.perf_counter() - t0
        except IngestError:
            raise
        except Exception as exc:  # a damaged page: keep the others
            logger.warning(
                "ingest.pdf_page_unreadable file=%s page=%d error=%s", path.name, i + 1, exc
            )
            failed.append(i + 1)
        page_lines.append(lines)
        page_tables.append(tables)
        dims.append((width, height))
    if len(failed) == count:
        raise DocumentParseError(path, "no page of the PDF could be read")

    sizes: Counter[float] = Counter()
    for i, lines in enumerate(page_lines):
        if i not in ocr_pages:
            for ln in lines:
                sizes[ln.size] += len(ln.text)
    body_size = sizes.most_common(1)[0][0] if sizes else 10.0
    _strip_headers_footers(page_lines)
    lexicon = Lexicon([ln.text for ln in lines] for lines in page_lines)

    pages: list[Page] = []
    for i, lines in enumerate(page_lines):
        items = _place_tables(lines, page_tables[i])
        paras = _paragraphs(
            items, body_size, dims[i][0], use_fonts=i not in ocr_pages, lexicon=lexicon
        )
        pages.append(
            assemble_page(
                i + 1,
                paras,
                ocr=i in ocr_pages,
                width=dims[i][0] or None,
                height=dims[i][1] or None,
            )
        )
    if not any(p.text.strip() for p in pages) and getattr(doc, "is_repaired", False):
        raise DocumentParseError(path, "corrupt or truncated PDF: no readable text after repair")
    if not any(p.text.strip() for p in pages):
        hint = "" if settings.ocr else " (OCR is disabled)"
        raise EmptyDocumentError(path, f"the PDF has no extractable text, even after OCR{hint}")
    meta = {"page_count": str(count)}
    title = _norm((doc.metadata or {}).get("title") or "")
    if title:
        meta["pdf_title"] = title
    if ocr_pages:
        meta["ocr_pages"] = ",".join(str(i + 1) for i in ocr_pages)
    if failed:
        meta["unreadable_pages"] = ",".join(map(str, failed))
    return pages, meta
