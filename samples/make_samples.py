"""Render the sample contract (samples/contract.py) as PDF and DOCX.

    python samples/make_samples.py [OUT_DIR]     (default: samples/)

The PDF has running headers and "Page N of M" footers (the loader must strip
them) and draws the fee table with ruling lines, as typeset contracts do (the
HTML renderer draws no cell borders, so the grid is drawn afterwards where the
cells were placed); the DOCX uses real Word auto-numbering (numbering.xml, ``w:numPr``) for
its "1." / "1.1" clause numbers, exactly like law-firm templates do.
"""

from __future__ import annotations

import html
import itertools
import sys
from collections import defaultdict
from pathlib import Path

import docx
import pymupdf
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from contract import ARTICLES, FEE_TABLE, PREAMBLE, SIGNATURES, TITLE

HEADER = "Northwind Analytics / Harbor & Vale Logistics — Master Services Agreement — Confidential"
FEE_ARTICLE = 3  # the fee table follows Article 3
CELL_PADDING = 3  # points


def _html() -> str:
    parts = [f"<h1>{html.escape(TITLE)}</h1>", f"<p>{html.escape(PREAMBLE)}</p>"]
    for a, (title, clauses) in enumerate(ARTICLES, start=1):
        parts.append(f"<h2>ARTICLE {a}. {html.escape(title.upper())}</h2>")
        for c, text in enumerate(clauses, start=1):
            parts.append(f"<p><b>{a}.{c}</b> {html.escape(text)}</p>")
        if a == FEE_ARTICLE:
            rows = "".join(
                "<tr>"
                + "".join(
                    f"<td id='fee-{r}-{c}'>{html.escape(cell)}</td>" for c, cell in enumerate(row)
                )
                + "</tr>"
                for r, row in enumerate(FEE_TABLE)
            )
            parts.append(f"<table cellpadding='{CELL_PADDING}'>{rows}</table>")
    parts.extend(f"<p>{html.escape(line)}</p>" for line in SIGNATURES.split("\n"))
    return "\n".join(parts)


CSS = """
body { font-family: serif; font-size: 10.5pt; }
h1 { font-size: 16pt; text-align: center; font-weight: bold; }
h2 { font-size: 12pt; font-weight: bold; margin-top: 10pt; }
p { text-align: justify; margin-bottom: 5pt; }
td { font-size: 10pt; }
"""


def _draw_grid(page: pymupdf.Page, cells: list[tuple[int, int, pymupdf.Rect]]) -> None:
    """Rule the table whose cell text boxes are ``cells`` ((row, column, rect)
    on this page): an outer frame and a line between every two rows and
    every two columns, each midway between the neighbouring cells."""
    if not cells:
        return
    pad = CELL_PADDING
    rows: dict[int, pymupdf.Rect] = {}
    cols: dict[int, pymupdf.Rect] = {}
    for r, c, rect in cells:
        rows[r] = rows[r] | rect if r in rows else pymupdf.Rect(rect)
        cols[c] = cols[c] | rect if c in cols else pymupdf.Rect(rect)
    row_rects = [rows[r] for r in sorted(rows)]
    col_rects = [cols[c] for c in sorted(cols)]
    ys = [row_rects[0].y0 - pad]
    ys += [(a.y1 + b.y0) / 2 for a, b in itertools.pairwise(row_rects)]
    ys.append(row_rects[-1].y1 + pad)
    xs = [col_rects[0].x0 - pad]
    xs += [(a.x1 + b.x0) / 2 for a, b in itertools.pairwise(col_rects)]
    xs.append(col_rects[-1].x1 + pad)
    shape = page.new_shape()
    for y in ys:
        shape.draw_line((xs[0], y), (xs[-1], y))
    for x in xs:
        shape.draw_line((x, ys[0]), (x, ys[-1]))
    shape.finish(color=(0, 0, 0), width=0.5)
    shape.commit()


def make_pdf(path: Path) -> None:
    story = pymupdf.Story(html=_html(), user_css=CSS)
    mediabox = pymupdf.paper_rect("letter")
    # Margins 72/90/72/80 pt. Not ``(*mediabox, 72, ...)`` (ruff's RUF005
    # "fix" of ``mediabox + (...)``): an 8-tuple places nothing, and the PDF
    # came out as one blank page.
    where = pymupdf.Rect(mediabox.x0 + 72, mediabox.y0 + 90, mediabox.x1 - 72, mediabox.y1 - 80)
    cells: dict[int, list[tuple[int, int, pymupdf.Rect]]] = defaultdict(list)

    def record(pos: pymupdf.ElementPosition) -> None:
        if (pos.id or "").startswith("fee-") and pos.open_close & 1:  # each cell once
            _, r, c = pos.id.split("-")
            cells[pos.page].append((int(r), int(c), pymupdf.Rect(pos.rect)))

    writer = pymupdf.DocumentWriter(str(path) + ".tmp")
    more, page_no = True, 0
    while more:
        device = writer.begin_page(mediabox)
        more, _ = story.place(where)
        story.element_positions(record, {"page": page_no})
        story.draw(device)
        writer.end_page()
        page_no += 1
    writer.close()
    doc = pymupdf.open(str(path) + ".tmp")
    for page in doc:
        _draw_grid(page, cells.get(page.number, []))
        page.insert_text((72, 50), HEADER, fontsize=8, fontname="helv")
        page.insert_text(
            (mediabox.width / 2 - 30, mediabox.height - 40),
            f"Page {page.number + 1} of {doc.page_count}",
            fontsize=8,
            fontname="helv",
        )
    doc.set_metadata({"title": TITLE, "author": "Dossier sample"})
    doc.save(str(path), garbage=3, deflate=True)
    doc.close()
    Path(str(path) + ".tmp").unlink()


def _add_numbering(document: docx.document.Document) -> int:
    """Define a two-level legal list ("1." then "1.1") in numbering.xml."""
    numbering = document.part.numbering_part.element
    abstract = OxmlElement("w:abstractNum")
    abstract.set(qn("w:abstractNumId"), "90")
    for ilvl, (fmt, text) in enumerate([("decimal", "%1."), ("decimal", "%1.%2")]):
        lvl = OxmlElement("w:lvl")
        lvl.set(qn("w:ilvl"), str(ilvl))
        for tag, val in (("w:start", "1"), ("w:numFmt", fmt), ("w:lvlText", text)):
            el = OxmlElement(tag)
            el.set(qn("w:val"), val)
            lvl.append(el)
        abstract.append(lvl)
    num = OxmlElement("w:num")
    num.set(qn("w:numId"), "90")
    ref = OxmlElement("w:abstractNumId")
    ref.set(qn("w:val"), "90")
    num.append(ref)
    # abstractNum elements must precede num elements
    first_num = numbering.find(qn("w:num"))
    if first_num is not None:
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    numbering.append(num)
    return 90


def _number(paragraph: docx.text.paragraph.Paragraph, num_id: int, ilvl: int) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    numpr = OxmlElement("w:numPr")
    for tag, val in (("w:ilvl", ilvl), ("w:numId", num_id)):
        el = OxmlElement(tag)
        el.set(qn("w:val"), str(val))
        numpr.append(el)
    ppr.append(numpr)


def make_docx(path: Path) -> None:
    document = docx.Document()
    document.styles["Normal"].font.size = Pt(10.5)
    num_id = _add_numbering(document)
    document.add_heading(TITLE, level=0)
    document.add_paragraph(PREAMBLE)
    for a, (title, clauses) in enumerate(ARTICLES, start=1):
        heading = document.add_heading(title, level=1)
        _number(heading, num_id, 0)
        for text in clauses:
            _number(document.add_paragraph(text), num_id, 1)
        if a == FEE_ARTICLE:
            table = document.add_table(rows=len(FEE_TABLE), cols=len(FEE_TABLE[0]))
            table.style = "Table Grid"
            for r, row in enumerate(FEE_TABLE):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
    for line in SIGNATURES.split("\n"):
        document.add_paragraph(line)
    document.core_properties.title = TITLE
    document.save(str(path))


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    make_pdf(out / "master-services-agreement.pdf")
    make_docx(out / "master-services-agreement.docx")
    print(f"wrote {out / 'master-services-agreement.pdf'} and .docx")


if __name__ == "__main__":
    main(sys.argv)
