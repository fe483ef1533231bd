"""OCR renders a page under a pixel budget: a tiny PDF that declares one
3000 pt scanned page must not take gigabytes (it took 1.8 GB more at 300 dpi)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pymupdf
import pytest

from ingest.loaders.ocr import OCR_DPI, OCR_MAX_PIXELS, ocr_dpi
from tests.conftest import REPO

pytestmark = pytest.mark.slow

_MEASURE = """
import resource, sys
from pathlib import Path
from core.settings import IngestSettings
from ingest.loaders.pdf import load_pdf_pages
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
pages, meta = load_pdf_pages(Path(sys.argv[1]), IngestSettings())
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(meta.get("ocr_pages"), grown // 1024, repr(pages[0].text))
"""


def _huge_scan(path: Path, side_pt: float = 3000) -> Path:
    """One page of ``side_pt`` points covered by a small scanned image of text."""
    src = pymupdf.open()
    text_page = src.new_page(width=300, height=300)
    text_page.insert_text((20, 60), "GOVERNING LAW", fontsize=24)
    text_page.insert_text((20, 120), "Delaware applies.", fontsize=24)
    image = text_page.get_pixmap(dpi=72).tobytes("png")
    doc = pymupdf.open()
    page = doc.new_page(width=side_pt, height=side_pt)
    page.insert_image(page.rect, stream=image, keep_proportion=False)
    doc.save(path, deflate=True, garbage=4)
    return path


def test_render_resolution_is_capped_by_pixel_count() -> None:
    letter = pymupdf.Rect(0, 0, 612, 792)
    assert ocr_dpi(letter) == OCR_DPI  # ordinary pages keep full resolution
    for side in (3000.0, 14400.0):
        dpi = ocr_dpi(pymupdf.Rect(0, 0, side, side))
        assert (side / 72 * dpi) ** 2 <= OCR_MAX_PIXELS


def test_a_3000pt_scanned_page_is_ocrd_within_the_budget(tmp_path: Path) -> None:
    pdf = _huge_scan(tmp_path / "poster.pdf")
    assert pdf.stat().st_size < 20_000
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(pdf)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    ocr_pages, grown_mb, text = done.stdout.split(" ", 2)
    assert ocr_pages == "1"
    assert "GOVERNING LAW" in text
    assert int(grown_mb) < 600, f"OCR grew the process by {grown_mb} MB"  # ~1800 unbounded


def test_a_page_too_large_for_a_useful_ocr_is_skipped(tmp_path: Path) -> None:
    from core.errors import EmptyDocumentError
    from core.settings import IngestSettings
    from ingest.loaders.pdf import load_pdf_pages

    pdf = _huge_scan(tmp_path / "wall.pdf", side_pt=14400)  # PDF's largest page size
    with pytest.raises(EmptyDocumentError, match="no extractable text, even after OCR"):
        load_pdf_pages(pdf, IngestSettings())
