"""Loaders over real files from ../shared/data: formats, errors, structure, offsets."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pymupdf
import pytest

from core.errors import (
    DocumentParseError,
    EmptyDocumentError,
    EncryptedDocumentError,
    FileTooLargeError,
    IngestError,
    UnsupportedFormatError,
)
from core.settings import IngestSettings
from core.types import BlockKind, Document
from ingest.loaders import detect_format, load_document
from ingest.loaders.ocr import needs_ocr
from ingest.structure import clause_level, match_clause_number
from tests.ingest.conftest import pdf_with_lines

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
CUAD_PDF = DATA / "cuad-dev" / "pdf"
CUAD_TXT = DATA / "cuad-dev" / "txt"
COURT = DATA / "court"
DOCX = DATA / "docx"
CSA = DOCX / "common-paper-cc-by-4.0" / "common-paper-cloud-service-agreement" / "template.docx"
ARRAY = "Array BioPharma Inc. - LICENSE, DEVELOPMENT AND COMMERCIALIZATION AGREEMENT"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared test data not present")


@pytest.fixture(scope="module")
def settings() -> IngestSettings:
    return IngestSettings()


def assert_blocks_exact(doc: Document) -> None:
    """The Page/Block contract every loader must keep."""
    assert doc.pages, doc.name
    for i, page in enumerate(doc.pages, start=1):
        assert page.number == i
        last_end = 0
        for b in page.blocks:
            assert page.text[b.start : b.end] == b.text, (doc.name, page.number, b.start)
            assert b.start >= last_end, "blocks must be in reading order and not overlap"
            assert b.text.strip() == b.text
            assert b.text
            last_end = b.end
            if b.kind is BlockKind.HEADING:
                assert b.level is not None
                assert 1 <= b.level <= 6
            else:
                assert b.level is None


# --- PDF -------------------------------------------------------------------


def test_ten_cuad_pdfs_parse_with_text(settings: IngestSettings) -> None:
    files = sorted(CUAD_PDF.iterdir())[:10]
    assert len(files) == 10
    for f in files:
        doc = load_document(f, settings)
        assert doc.mime == "application/pdf"
        assert doc.name == f.name
        assert sum(len(p.text) for p in doc.pages) > 1000, f.name
        assert sum(1 for p in doc.pages if p.text.strip()) >= len(doc.pages) // 2
        assert_blocks_exact(doc)
        assert all(b.bbox is not None for p in doc.pages for b in p.blocks)


def test_running_headers_footers_and_page_numbers_removed(settings: IngestSettings) -> None:
    # Every page of this contract carries "Supply Agreement - FUSION" at the
    # top and "Page N of 13 CONFIDENTIAL" at the bottom.
    f = next(CUAD_PDF.glob("FUSIONPHARMACEUTICALS*"))
    doc = load_document(f, settings)
    assert len(doc.pages) == 14
    assert_blocks_exact(doc)
    for page in doc.pages:
        assert "Supply Agreement - FUSION" not in page.text
        assert f"Page {page.number} of 13" not in page.text
    # EDGAR "Source: ..." footers on every page of another filing.
    doc = load_document(next(CUAD_PDF.glob("AimmuneTherapeutics*")), settings)
    assert "Source: AIMMUNE THERAPEUTICS" not in doc.text
    assert not any(b.text.isdigit() for p in doc.pages for b in p.blocks)


def test_a_five_line_legal_notice_footer_is_removed(settings: IngestSettings) -> None:
    """This AT&T agreement ends most pages with "Proprietary and Confidential",
    a two-line notice, the page number and the EDGAR source line: five lines,
    so the notice sat deeper than the outer three and became a heading on every
    page. A few pages wrap the notice differently, which ends the run there."""
    doc = load_document(next(CUAD_PDF.glob("AtnInternationalInc_*")), settings)
    assert_blocks_exact(doc)
    notices = [p.number for p in doc.pages if "Proprietary and Confidential" in p.text]
    assert len(doc.pages) == 71
    assert len(notices) <= 4
    headings = [b.text for p in doc.pages for b in p.blocks if b.kind is BlockKind.HEADING]
    assert headings.count("Proprietary and Confidential") <= 4
    assert "Source: ATN INTERNATIONAL" not in doc.text
    # The body around the footers is all there.
    assert "Government Flow Downs" in doc.text


def test_headings_and_clause_numbers_on_a_cuad_contract(settings: IngestSettings) -> None:
    doc = load_document(CUAD_PDF / f"{ARRAY}.PDF", settings)
    assert_blocks_exact(doc)
    assert doc.title == "LICENSE, DEVELOPMENT AND COMMERCIALIZATION AGREEMENT"
    blocks = [b for p in doc.pages for b in p.blocks]
    headings = {b.number: b for b in blocks if b.kind is BlockKind.HEADING and b.number}
    assert headings["ARTICLE I"].text.startswith("ARTICLE I DEFINITIONS")
    assert headings["ARTICLE I"].level == 1
    # "ARTICLE III" and "GOVERNANCE" are on two lines: one heading.
    assert headings["ARTICLE III"].text == "ARTICLE III GOVERNANCE"
    numbered = {b.number for b in blocks if b.kind is BlockKind.TEXT and b.number}
    assert {"1.1", "1.2", "1.4", "(a)", "(b)"} <= numbered
    first = next(b for b in blocks if b.number == "1.1")
    assert first.text.startswith("1.1")
    assert "Affiliate" in first.text


@pytest.mark.slow
def test_scanned_pdf_is_ocrd(settings: IngestSettings) -> None:
    doc = load_document(COURT / "image-pdf.pdf", settings)
    assert_blocks_exact(doc)
    assert all(p.ocr for p in doc.pages)
    assert "SUPREME COURT OF THE UNITED STATES" in doc.text
    assert "syllabus" in doc.text.lower()
    assert doc.metadata["ocr_pages"] == "1,2"


def test_ocr_disabled_scanned_pdf_is_empty(tmp_path: Path) -> None:
    with pytest.raises(EmptyDocumentError, match=r"image-pdf-2\.pdf: .*OCR is disabled"):
        load_document(COURT / "image-pdf-2.pdf", IngestSettings(ocr=False))


def test_broken_header_pdf_is_repaired(settings: IngestSettings) -> None:
    doc = load_document(COURT / "broken-mime.pdf", settings)
    assert len(doc.pages) > 5
    assert "Supreme Court" in doc.text or "SUPREME COURT" in doc.text
    assert_blocks_exact(doc)


def test_zero_byte_pdf_is_empty(settings: IngestSettings) -> None:
    with pytest.raises(EmptyDocumentError, match=r"^empty\.pdf: "):
        load_document(COURT / "empty.pdf", settings)


def test_encrypted_pdf(tmp_path: Path, settings: IngestSettings) -> None:
    path = tmp_path / "secret.pdf"
    pdf = pymupdf.open()
    pdf.new_page().insert_text((72, 72), "Privileged and confidential")
    pdf.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")
    pdf.close()
    with pytest.raises(EncryptedDocumentError, match=r"secret\.pdf: .*password"):
        load_document(path, settings)


def test_truncated_pdf_repairs_or_fails_cleanly(tmp_path: Path, settings: IngestSettings) -> None:
    # First 30% of the bytes. MuPDF rebuilds the cross-reference table, but
    # this contract's fonts (and their Unicode maps) sit in the lost 70%:
    # the garbled text is dropped and the file reported as truncated.
    data = (CUAD_PDF / f"{ARRAY}.PDF").read_bytes()
    garbled = tmp_path / "truncated-contract.pdf"
    garbled.write_bytes(data[: int(len(data) * 0.3)])
    with pytest.raises(DocumentParseError, match=r"truncated-contract\.pdf: .*truncated"):
        load_document(garbled, settings)
    # ... while this opinion loses its page tree: a parse error, not a crash.
    data = (COURT / "vector-pdf.pdf").read_bytes()
    lost = tmp_path / "truncated-opinion.pdf"
    lost.write_bytes(data[: int(len(data) * 0.3)])
    with pytest.raises(DocumentParseError, match=r"truncated-opinion\.pdf: .*truncated"):
        load_document(lost, settings)


def test_file_over_size_limit(settings: IngestSettings) -> None:
    with pytest.raises(FileTooLargeError, match=r"vector-pdf\.pdf: .*limit"):
        load_document(COURT / "vector-pdf.pdf", IngestSettings(max_file_mb=0.5))


def _pdf_bytes(*objects: str) -> bytes:
    """A minimal, valid PDF written by hand (object 1 is the catalog), with a
    correct cross-reference table so MuPDF needs no repair."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_zero_page_pdf_is_empty(tmp_path: Path, settings: IngestSettings) -> None:
    # PyMuPDF refuses to save a document without pages, so the bytes are
    # written by hand: a well-formed PDF whose page tree is empty.
    path = tmp_path / "no-pages.pdf"
    path.write_bytes(
        _pdf_bytes("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>")
    )
    with pymupdf.open(path) as pdf:
        assert pdf.page_count == 0
        assert not pdf.is_repaired  # valid, not corrupt
    assert detect_format(path) == "pdf"
    with pytest.raises(EmptyDocumentError, match=r"^no-pages\.pdf: the PDF has no pages$") as info:
        load_document(path, settings)
    assert info.value.path == str(path)


def test_blank_scan_has_no_text_even_after_ocr(tmp_path: Path, settings: IngestSettings) -> None:
    # One page covered by a white image: a "scan" of a blank sheet.
    path = tmp_path / "blank-scan.pdf"
    white = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 850, 1100), False)
    white.set_rect(white.irect, (255, 255, 255))
    pdf = pymupdf.open()
    page = pdf.new_page()
    page.insert_image(page.rect, pixmap=white)
    pdf.save(path)
    pdf.close()
    with pymupdf.open(path) as scan:  # the page really goes to Tesseract
        assert needs_ocr(scan[0], 0, settings)
    assert settings.ocr
    with pytest.raises(EmptyDocumentError) as info:
        load_document(path, settings)
    assert str(info.value) == "blank-scan.pdf: the PDF has no extractable text, even after OCR"


# --- PDF line joining ----------------------------------------------------------


def test_line_end_hyphenation_is_joined(tmp_path: Path, settings: IngestSettings) -> None:
    # A line ending in letter + "-" followed by a line starting in lower case,
    # where the head is no word or compound prefix (ingest/loaders/hyphenation.py),
    # is one word broken by the typesetter: hyphen and line break are removed.
    path = pdf_with_lines(
        tmp_path / "wrapped.pdf",
        [
            "Either party may seek the termi-",
            "nation of this Agreement on notice. The",
            "Supplier shall indem-",
            "nify the Customer.",
        ],
    )
    doc = load_document(path, settings)
    assert_blocks_exact(doc)
    text = doc.pages[0].text
    assert "seek the termination of this Agreement" in text
    assert "shall indemnify the Customer" in text
    assert "termi-" not in text
    assert "indem-" not in text


def test_line_end_hyphen_kept_before_capital_or_digit(
    tmp_path: Path, settings: IngestSettings
) -> None:
    # A hyphen before a capitalised word or after a digit is kept (the lines
    # are joined with a space): "Non-" + "Compete", "1990-" + "2000".
    path = pdf_with_lines(
        tmp_path / "dashes.pdf",
        [
            "The restricted period runs 1990-",
            "2000 and the Non-",
            "Compete Covenant applies to the Employee.",
        ],
    )
    text = load_document(path, settings).pages[0].text
    assert "runs 1990- 2000 and" in text
    assert "the Non- Compete Covenant" in text


def test_compound_hyphen_at_line_end_is_kept(tmp_path: Path, settings: IngestSettings) -> None:
    # "non" is a compound prefix: its hyphen stays even with no other evidence
    # in the document (more cases in tests/ingest/test_hyphenation.py).
    path = pdf_with_lines(
        tmp_path / "compound.pdf",
        ["The Employee accepts a non-", "compete covenant for two years."],
    )
    doc = load_document(path, settings)
    assert_blocks_exact(doc)
    assert "accepts a non-compete covenant" in doc.pages[0].text


# --- formats ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [("word-doc.doc", "OLE2"), ("word-perfect.wpd", "WordPerfect")],
)
def test_unsupported_formats_name_file_and_suggest_conversion(
    name: str, kind: str, settings: IngestSettings
) -> None:
    with pytest.raises(UnsupportedFormatError) as info:
        load_document(COURT / name, settings)
    msg = str(info.value)
    assert msg.startswith(f"{name}: ")
    assert kind in msg
    assert "convert" in msg
    assert "libreoffice" in msg
    assert info.value.path.endswith(name)


def test_type_comes_from_bytes_not_extension(tmp_path: Path, settings: IngestSettings) -> None:
    pdf_as_txt = tmp_path / "really-a-pdf.txt"
    shutil.copy(COURT / "missouri.pdf", pdf_as_txt)
    assert detect_format(pdf_as_txt) == "pdf"
    assert load_document(pdf_as_txt, settings).mime == "application/pdf"

    txt_as_pdf = tmp_path / "really-text.pdf"
    txt_as_pdf.write_text("MASTER AGREEMENT\n\n1. Term. Five years.\n", encoding="utf-8")
    assert detect_format(txt_as_pdf) == "txt"
    doc = load_document(txt_as_pdf, settings)
    assert doc.mime == "text/plain"
    assert doc.title == "MASTER AGREEMENT"

    png = tmp_path / "scan.pdf"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(UnsupportedFormatError, match="PNG image"):
        detect_format(png)

    plain_zip = tmp_path / "bundle.docx"
    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(UnsupportedFormatError, match="not a Word document"):
        load_document(plain_zip, settings)


# --- DOCX ------------------------------------------------------------------


def test_docx_auto_numbering_headings_and_tables(settings: IngestSettings) -> None:
    doc = load_document(CSA, settings)
    assert doc.mime.endswith("wordprocessingml.document")
    assert doc.title == "Cloud Service Agreement"
    assert_blocks_exact(doc)
    text = doc.text
    # Word auto-numbering (style-linked, Heading 1/2/3), not in the XML text.
    assert "1. Service" in text
    assert "1.1 Access and Use." in text
    assert "5.3 Termination." in text
    blocks = [b for p in doc.pages for b in p.blocks]
    by_number = {b.number: b for b in blocks if b.number}
    assert by_number["1"].kind is BlockKind.HEADING
    assert by_number["1"].level == 1
    assert by_number["1.1"].kind is BlockKind.TEXT  # a whole clause in a heading style
    assert by_number["2.1"].text == "2.1 Restrictions on Customer."
    assert by_number["2.1"].kind is BlockKind.HEADING
    assert by_number["2.1"].level == 2
    assert any(b.kind is BlockKind.TABLE and " | " in b.text for b in blocks)
    assert len(doc.pages) > 5  # Word's rendered page breaks are honoured


def test_all_shared_docx_files_load(settings: IngestSettings) -> None:
    files = sorted(DOCX.rglob("*.docx"))
    assert len(files) > 30
    numbered = 0
    for f in files:
        doc = load_document(f, settings)
        assert_blocks_exact(doc)
        numbered += any(b.number for p in doc.pages for b in p.blocks)
    assert numbered > 20


def test_docx_zip_bomb(tmp_path: Path, settings: IngestSettings) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
        with zf.open("word/media/padding.bin", "w") as fh:
            chunk = b"\x00" * (1 << 20)
            for _ in range(60):
                fh.write(chunk)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(DocumentParseError, match=r"bomb\.docx: .*zip bomb"):
        load_document(path, settings)


def test_corrupt_docx(tmp_path: Path, settings: IngestSettings) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(CSA.read_bytes()[:4000])
    with pytest.raises(DocumentParseError, match=r"broken\.docx: "):
        load_document(path, settings)


# --- plain text -------------------------------------------------------------


def test_txt_page_text_is_the_file_text(settings: IngestSettings) -> None:
    files = sorted(CUAD_TXT.glob("*.txt"))[:15]
    for f in files:
        doc = load_document(f, settings)
        assert len(doc.pages) == 1
        assert doc.pages[0].text == f.read_bytes().decode("utf-8")
        assert_blocks_exact(doc)
    # Clauses run inline in CUAD's long lines: they still get their own blocks.
    doc = load_document(
        CUAD_TXT / "ACCURAYINC_09_01_2010-EX-10.31-DISTRIBUTOR AGREEMENT.txt", settings
    )
    numbers = [b.number for b in doc.pages[0].blocks]
    assert {"1.1", "1.5", "1.6", "2.2.1"} <= set(numbers)
    assert max(len(b.text) for b in doc.pages[0].blocks) < 5000


def test_txt_latin1_markdown_and_crlf(tmp_path: Path, settings: IngestSettings) -> None:
    raw = "CONTRAT\r\n\r\n1. Durée. Cinq ans.\r\n(a) résiliation\r\n".encode("latin-1")
    path = tmp_path / "contrat.txt"
    path.write_bytes(raw)
    doc = load_document(path, settings)
    assert doc.pages[0].text == raw.decode("latin-1")  # no newline translation
    assert_blocks_exact(doc)
    assert [b.number for b in doc.pages[0].blocks] == [None, "1", "(a)"]

    md = tmp_path / "notes.md"
    md.write_text("# Term Sheet\n\nIntro.\n\n## 2. Price\n\nTen dollars.\n", encoding="utf-8")
    doc = load_document(md, settings)
    assert doc.mime == "text/markdown"
    assert doc.title == "Term Sheet"
    heads = [(b.level, b.number) for b in doc.pages[0].blocks if b.kind is BlockKind.HEADING]
    assert heads == [(1, None), (2, "2")]

    blank = tmp_path / "blank.txt"
    blank.write_text("   \n\n  ", encoding="utf-8")
    with pytest.raises(EmptyDocumentError, match=r"blank\.txt"):
        load_document(blank, settings)


def test_missing_file_is_an_ingest_error(tmp_path: Path, settings: IngestSettings) -> None:
    with pytest.raises(IngestError, match=r"nope\.pdf: cannot read"):
        load_document(tmp_path / "nope.pdf", settings)


# --- structure heuristics ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number", "level"),
    [
        ("ARTICLE V   DEFINITIONS", "ARTICLE V", 1),
        ("Article 5 Term", "Article 5", 1),
        ("Section 5.2 Payment", "Section 5.2", 2),
        ("5. Termination", "5", 1),
        ("5.2.1 The Supplier shall", "5.2.1", 3),
        ("(a) the Supplier", "(a)", 4),
        ("(iv) any", "(iv)", 5),
        ("IV. TERM", "IV", 1),
    ],
)
def test_clause_numbers(text: str, number: str, level: int) -> None:
    found = match_clause_number(text)
    assert found is not None
    assert found[0] == number
    assert clause_level(number) == level


@pytest.mark.parametrize("text", ["2020. The parties", "30 days after", "1,000 dollars", "The 5.2"])
def test_not_clause_numbers(text: str) -> None:
    assert match_clause_number(text) is None
