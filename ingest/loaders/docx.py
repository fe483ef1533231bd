"""DOCX loader (python-docx + the raw WordprocessingML underneath).

- Body order: paragraphs and tables as they appear in ``document.element.body``
  (content controls ``w:sdt`` are entered; deleted and hidden text skipped).
- Word auto-numbering is rendered into the text ("5.2 Payment ...") by
  :class:`Numbering`: ``w:numPr`` on the paragraph or, failing that, on its style chain; levels
  from ``numbering.xml`` (numFmt, lvlText, start, lvlOverride/startOverride);
  a level's counter restarts when a higher level advances.
- Headings: styles "Heading N" / "Title" / "Subtitle" and outline levels,
  checked by :func:`ingest.structure.classify_paragraph` (a long paragraph in
  a heading style is TEXT, with its clause number).
- Tables: one TABLE block, cells " | ", rows "\\n". Single-column tables are
  layout boxes: their paragraphs are emitted as ordinary paragraphs.
- Pages: a DOCX has no fixed pages. Explicit page breaks (``w:br
  w:type="page"``, ``w:pageBreakBefore``) and Word's saved
  ``w:lastRenderedPageBreak`` markers are honoured; any page still longer than
  :data:`MAX_PAGE_CHARS` is split at paragraph boundaries into pages of about
  :data:`TARGET_PAGE_CHARS` characters.
- Safety: the zip's total uncompressed size and compression ratio are checked
  before parsing (zip bombs -> DocumentParseError).
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import DocumentParseError, EmptyDocumentError
from core.settings import IngestSettings
from core.types import BlockKind, Page
from ingest.structure import Para, assemble_page, classify_paragraph

__all__ = [
    "MAX_PAGE_CHARS",
    "MAX_UNCOMPRESSED_BYTES",
    "TARGET_PAGE_CHARS",
    "Numbering",
    "format_counter",
    "load_docx_pages",
]

logger = logging.getLogger(__name__)

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
TARGET_PAGE_CHARS = 3000
MAX_PAGE_CHARS = 6000
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
_MAX_RATIO = 200
_WS = re.compile(r"[\s\u00a0\u2000-\u200b\u3000]+")
_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentParseError(path, f"corrupt DOCX (bad zip container): {exc}") from exc
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if total > MAX_UNCOMPRESSED_BYTES or (total > 50 * 1024 * 1024 and total / packed > _MAX_RATIO):
        raise DocumentParseError(
            path,
            f"DOCX expands to {total / 1024 / 1024:.0f} MB uncompressed "
            f"(ratio {total / packed:.0f}:1); refusing a possible zip bomb",
        )


def _roman(n: int) -> str:
    out = []
    for value, sym in (
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ):
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


def format_counter(n: int, fmt: str) -> str:
    """Render counter ``n`` in a WordprocessingML ``numFmt`` (decimal,
    lowerLetter "a".."z","aa", upperLetter, lowerRoman, upperRoman,
    decimalZero "01"); unknown formats fall back to decimal."""
    if fmt in ("lowerLetter", "upperLetter"):
        s = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1) if n > 0 else "a"
        return s.upper() if fmt == "upperLetter" else s
    if fmt in ("lowerRoman", "upperRoman"):
        s = _roman(max(n, 1))
        return s.upper() if fmt == "upperRoman" else s
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt == "none":
        return ""
    return str(n)


class Numbering:
    """Word list numbering: resolves a paragraph's (numId, ilvl) and keeps
    the counters, so ``label`` returns what Word shows ("5.2", "(a)", "•")."""

    def __init__(self, numbering_el: Any, styles: dict[str, Any]) -> None:
        self.abstract: dict[str, dict[int, dict[str, Any]]] = {}
        self.style_link: dict[str, str] = {}  # abstractId -> numStyleLink style id
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}
        self.styles = styles
        self.counters: dict[str, list[int | None]] = {}
        if numbering_el is None:
            return
        for an in numbering_el.findall(f"{W}abstractNum"):
            aid = an.get(f"{W}abstractNumId", "")
            link = an.find(f"{W}numStyleLink")
            if link is not None:
                self.style_link[aid] = link.get(f"{W}val", "")
            self.abstract[aid] = {
                int(lv.get(f"{W}ilvl", "0")): self._level(lv) for lv in an.findall(f"{W}lvl")
            }
        for num in numbering_el.findall(f"{W}num"):
            ref = num.find(f"{W}abstractNumId")
            overrides: dict[int, int] = {}
            for ov in num.findall(f"{W}lvlOverride"):
                so = ov.find(f"{W}startOverride")
                if so is not None:
                    overrides[int(ov.get(f"{W}ilvl", "0"))] = int(so.get(f"{W}val", "1"))
            if ref is not None:
                self.nums[num.get(f"{W}numId", "")] = (ref.get(f"{W}val", ""), overrides)

    @staticmethod
    def _level(lv: Any) -> dict[str, Any]:
        def val(tag: str, default: str) -> str:
            el = lv.find(f"{W}{tag}")
            return el.get(f"{W}val", default) if el is not None else default

        return {
            "start": int(val("start", "1")),
            "fmt": val("numFmt", "decimal"),
            "text": val("lvlText", ""),
            "style": val("pStyle", ""),
            "legal": lv.find(f"{W}isLgl") is not None,
        }

    def _resolve(self, p: Any, chain: list[Any], style_id: str | None) -> tuple[str, int] | None:
        ppr = p.find(f"{W}pPr")
        numpr = ppr.find(f"{W}numPr") if ppr is not None else None
        num_id = ilvl = None
        if numpr is not None:
            n, i = numpr.find(f"{W}numId"), numpr.find(f"{W}ilvl")
            num_id = n.get(f"{W}val") if n is not None else None
            ilvl = int(i.get(f"{W}val", "0")) if i is not None else None
        if num_id is None:
            for st in chain:
                spp = st.find(f"{W}pPr")
                snp = spp.find(f"{W}numPr") if spp is not None else None
                if snp is not None:
                    n, i = snp.find(f"{W}numId"), snp.find(f"{W}ilvl")
                    num_id = n.get(f"{W}val") if n is not None else None
                    if ilvl is None and i is not None:
                        ilvl = int(i.get(f"{W}val", "0"))
                    if num_id is not None:
                        break
        if num_id is None or num_id == "0" or num_id not in self.nums:
            return None
        if ilvl is None:  # style-linked: the level whose pStyle is this style
            aid = self._abstract_id(num_id)
            ilvl = next(
                (k for k, v in self.abstract.get(aid, {}).items() if v["style"] == style_id), 0
            )
        return num_id, ilvl

    def _abstract_id(self, num_id: str) -> str:
        aid = self.nums[num_id][0]
        for _ in range(3):  # numStyleLink -> the style's own numId
            link = self.style_link.get(aid)
            if not link or link not in self.styles:
                break
            spp = self.styles[link].find(f"{W}pPr")
            n = spp.find(f"{W}numPr/{W}numId") if spp is not None else None
            if n is None or n.get(f"{W}val") not in self.nums:
                break
            aid = self.nums[n.get(f"{W}val")][0]
        return aid

    def label(self, p: Any, chain: list[Any], style_id: str | None) -> tuple[str, str | None]:
        """Advance the counters for paragraph ``p``; return (label, list key)
        where key identifies the list ("" label and None when unnumbered)."""
        found = self._resolve(p, chain, style_id)
        if found is None:
            return "", None
        num_id, ilvl = found
        aid = self._abstract_id(num_id)
        levels = self.abstract.get(aid, {})
        if ilvl not in levels:
            return "", None
        overrides = self.nums[num_id][1]
        key = f"n{num_id}" if overrides else f"a{aid}"
        counters = self.counters.setdefault(key, [None] * 10)

        def start(k: int) -> int:
            return overrides.get(k, levels.get(k, {}).get("start", 1))

        cur = counters[ilvl]
        counters[ilvl] = start(ilvl) if cur is None else cur + 1
        for deeper in range(ilvl + 1, 10):
            counters[deeper] = None
        lvl = levels[ilvl]
        if lvl["fmt"] == "bullet":
            return "•", key
        text = lvl["text"]
        for k in range(9):
            ph = f"%{k + 1}"
            if ph in text:
                value = counters[k] if counters[k] is not None else start(k)
                fmt = "decimal" if lvl["legal"] else levels.get(k, {}).get("fmt", "decimal")
                text = text.replace(ph, format_counter(int(value or 1), fmt))
        return _WS.sub(" ", text).strip(), key


class _Walker:
    """Walks the body, producing paragraphs with page-break markers."""

    def __init__(self, document: Any) -> None:
        self.styles: dict[str, Any] = {}
        for el in document.styles.element.findall(f"{W}style"):
            sid = el.get(f"{W}styleId")
            if sid:
                self.styles[sid] = el
        numbering_el = None
        try:
            numbering_el = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            numbering_el = None
        self.numbering = Numbering(numbering_el, self.styles)
        self.items: list[Para | None] = []  # None = page break
        self._last_num: str | None = None

    # -- styles -------------------------------------------------------------
    def _style_chain(self, style_id: str | None) -> Iterator[Any]:
        seen: set[str] = set()
        while style_id and style_id not in seen and style_id in self.styles:
            seen.add(style_id)
            el = self.styles[style_id]
            yield el
            based = el.find(f"{W}basedOn")
            style_id = based.get(f"{W}val") if based is not None else None

    def _heading_level(self, p: Any, style_id: str | None) -> int | None:
        ppr = p.find(f"{W}pPr")
        outline = ppr.find(f"{W}outlineLvl") if ppr is not None else None
        for el in self._style_chain(style_id):
            name_el = el.find(f"{W}name")
            name = (name_el.get(f"{W}val") if name_el is not None else "") or ""
            m = _HEADING_STYLE.match(name.strip())
            if m:
                return max(1, min(6, int(m.group(1))))
            if name.strip().lower() == "title":
                return 1
            if name.strip().lower() == "subtitle":
                return 2
            if outline is None:
                spp = el.find(f"{W}pPr")
                outline = spp.find(f"{W}outlineLvl") if spp is not None else None
        if outline is not None:
            val = int(outline.get(f"{W}val", "9"))
            if val < 9:
                return min(6, val + 1)
        return None

    # -- text ---------------------------------------------------------------
    def _para_text(self, p: Any) -> tuple[str, bool, bool]:
        """(text, page break before text, page break after text)."""
        out: list[str] = []
        before = after = False

        def walk(el: Any) -> None:
            nonlocal before, after
            for ch in el:
                tag = ch.tag
                if tag == f"{MC}Fallback" or tag == f"{W}del" or tag == f"{W}pPr":
                    continue
                if tag == f"{W}r":
                    rpr = ch.find(f"{W}rPr")
                    if rpr is not None and rpr.find(f"{W}vanish") is not None:
                        continue
                if tag == f"{W}t":
                    out.append(ch.text or "")
                elif tag in (f"{W}tab", f"{W}ptab"):
                    out.append("\t")
                elif tag == f"{W}br" or tag == f"{W}lastRenderedPageBreak":
                    is_page = tag != f"{W}br" or ch.get(f"{W}type") == "page"
                    if is_page:
                        if "".join(out).strip():
                            after = True
                        else:
                            before = True
                    else:
                        out.append(" ")
                elif tag == f"{W}cr":
                    out.append(" ")
                elif tag == f"{W}noBreakHyphen":
                    out.append("-")
                else:
                    walk(ch)

        walk(p)
        ppr = p.find(f"{W}pPr")
        if ppr is not None and ppr.find(f"{W}pageBreakBefore") is not None:
            v = ppr.find(f"{W}pageBreakBefore").get(f"{W}val", "true")
            before = before or v not in ("0", "false", "off")
        return _WS.sub(" ", "".join(out)).strip(), before, after

    def paragraph(self, p: Any, *, emit: bool = True) -> str:
        text, before, after = self._para_text(p)
        if before and emit:
            self.items.append(None)
        label = ""
        num_key: str | None = None
        if text:
            ppr = p.find(f"{W}pPr")
            ps = ppr.find(f"{W}pStyle") if ppr is not None else None
            style_id = ps.get(f"{W}val") if ps is not None else None
            label, num_key = self.numbering.label(p, list(self._style_chain(style_id)), style_id)
            full = f"{label} {text}" if label else text
            if emit:
                level = self._heading_level(p, style_id)
                kind, lvl, number = classify_paragraph(
                    full, heading_hint=level is not None, hint_level=level
                )
                if (label and label[0].isalnum()) or label.startswith("("):
                    number = label.rstrip(".") or number
                joiner = "\n" if num_key is not None and num_key == self._last_num else "\n\n"
                self.items.append(Para(full, kind, lvl, number, None, joiner))
                self._last_num = num_key
            text = full
        if after and emit:
            self.items.append(None)
        return text

    def table(self, tbl: Any) -> None:
        rows = tbl.findall(f"{W}tr")
        cols = max((len(r.findall(f"{W}tc")) for r in rows), default=0)
        if cols <= 1:  # a layout box: its content is ordinary body content
            for r in rows:
                for tc in r.findall(f"{W}tc"):
                    self.body(tc)
            return
        lines: list[str] = []
        for r in rows:
            cells: list[str] = []
            for tc in r.findall(f"{W}tc"):
                tcpr = tc.find(f"{W}tcPr")
                vmerge = tcpr.find(f"{W}vMerge") if tcpr is not None else None
                cont = vmerge is not None and vmerge.get(f"{W}val") in (None, "continue")
                parts = [self.paragraph(p, emit=False) for p in tc.iter(f"{W}p")]
                cells.append("" if cont else _WS.sub(" ", " ".join(x for x in parts if x)).strip())
            if any(cells):
                lines.append(" | ".join(cells))
        if lines:
            self.items.append(Para("\n".join(lines), BlockKind.TABLE, None, None, None, "\n\n"))
            self._last_num = None

    def body(self, container: Any) -> None:
        for ch in container:
            if ch.tag == f"{W}p":
                self.paragraph(ch)
            elif ch.tag == f"{W}tbl":
                self.table(ch)
            elif ch.tag == f"{W}sdt":
                content = ch.find(f"{W}sdtContent")
                if content is not None:
                    self.body(content)
            elif ch.tag in (f"{W}customXml", f"{W}smartTag"):
                self.body(ch)


def _paginate(items: list[Para | None]) -> list[list[Para]]:
    pages: list[list[Para]] = [[]]
    for it in items:
        if it is None:
            if pages[-1]:
                pages.append([])
        else:
            pages[-1].append(it)
    out: list[list[Para]] = []
    for paras in pages:
        if sum(len(p.text) + 2 for p in paras) <= MAX_PAGE_CHARS:
            out.append(paras)
            continue
        cur: list[Para] = []
        size = 0
        for p in paras:
            if cur and size + len(p.text) > TARGET_PAGE_CHARS:
                out.append(cur)
                cur, size = [], 0
            cur.append(p)
            size += len(p.text) + 2
        if cur:
            out.append(cur)
    return [p for p in out if p]


def load_docx_pages(path: Path, settings: IngestSettings) -> tuple[list[Page], dict[str, str]]:
    """Parse a DOCX into pages plus metadata (``docx_title``, ``page_source``).
    Raises DocumentParseError for corrupt files and zip bombs,
    EmptyDocumentError when there is no text."""
    import docx  # python-docx; imported lazily, it is slow to import

    _check_zip(path)
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # PackageNotFoundError, KeyError, lxml errors ...
        raise DocumentParseError(path, f"corrupt DOCX: {exc}") from exc
    walker = _Walker(document)
    walker.body(document.element.body)
    has_breaks = any(it is None for it in walker.items)
    pages_paras = _paginate(walker.items)
    if not pages_paras:
        raise EmptyDocumentError(path, "the DOCX has no text")
    pages = [assemble_page(i + 1, paras) for i, paras in enumerate(pages_paras)]
    meta = {"page_source": "page breaks" if has_breaks else f"~{TARGET_PAGE_CHARS} characters"}
    title = (document.core_properties.title or "").strip()
    if title:
        meta["docx_title"] = title
    return pages, meta
