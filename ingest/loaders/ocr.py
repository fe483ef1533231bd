"""OCR for scanned PDF pages (Tesseract through PyMuPDF's OCR text page).

A page is OCR'd when it has fewer than ``settings.ocr_min_chars`` extractable
characters and images cover at least half of it. The page is rendered at
:data:`OCR_DPI`, or lower when that would exceed :data:`OCR_MAX_PIXELS` (a
3.5 KB PDF can declare a 3000 pt page: 156 megapixels at 300 dpi, gigabytes
inside Tesseract); a page that would need less than :data:`OCR_MIN_DPI` to fit
is not OCR'd at all (logged). It is recognised by the system Tesseract (Debian's
``tesseract-ocr`` 5, language ``settings.ocr_language``); the result is a
MuPDF text page, read with the same ``get_text("dict")`` code as born-digital
pages, so OCR'd text gets the same paragraphs, headings and bounding boxes.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pymupdf

from core.errors import IngestError
from core.settings import IngestSettings

__all__ = ["OCR_DPI", "OCR_MAX_PIXELS", "needs_ocr", "ocr_dpi", "ocr_textpage", "tessdata_dir"]

logger = logging.getLogger(__name__)

OCR_DPI = 300
#: Most pixels a page is rendered to for OCR: an A4/Letter page at 300 dpi is
#: ~8.7 million; the render plus Tesseract's copies stay in the low hundreds of MB.
OCR_MAX_PIXELS = 16_000_000
#: Below this resolution OCR finds nothing useful; such a page is skipped.
OCR_MIN_DPI = 50
_IMAGE_COVER = 0.5


def ocr_dpi(rect: pymupdf.Rect) -> int:
    """The render resolution for a page of ``rect`` (points): :data:`OCR_DPI`,
    lowered so the page holds at most :data:`OCR_MAX_PIXELS` pixels."""
    area_in2 = max(abs(rect), 1.0) / (72.0 * 72.0)
    return min(OCR_DPI, math.floor(math.sqrt(OCR_MAX_PIXELS / area_in2)))


def needs_ocr(page: pymupdf.Page, text_chars: int, settings: IngestSettings) -> bool:
    """True when OCR is on, the page has too little text, and images cover
    at least half of it (a scan), so OCR can find text that is really there."""
    if not settings.ocr or text_chars >= settings.ocr_min_chars:
        return False
    area = abs(page.rect)
    if area <= 0:
        return False
    if ocr_dpi(page.rect) < OCR_MIN_DPI:
        logger.warning(
            "ingest.page_too_large_for_ocr page=%d width_pt=%.0f height_pt=%.0f",
            page.number + 1, page.rect.width, page.rect.height,
        )  # fmt: skip
        return False
    covered = 0.0
    for info in page.get_image_info():
        r = pymupdf.Rect(info["bbox"]) & page.rect
        covered += abs(r)
    return covered / area >= _IMAGE_COVER


@functools.cache
def tessdata_dir() -> str | None:
    """The tessdata folder of the installed Tesseract, or None if there is no
    ``tesseract`` executable. ``TESSDATA_PREFIX`` wins when set."""
    env = os.environ.get("TESSDATA_PREFIX")
    if env and Path(env).is_dir():
        return env
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for line in (out.stdout + out.stderr).splitlines():
        # 'List of available languages in "/usr/share/tesseract-ocr/5/tessdata/" (2):'
        if '"' in line and "tessdata" in line:
            return line.split('"')[1]
    for cand in ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata"):
        if Path(cand).is_dir():
            return cand
    return None


def _check_language(path: Path, tessdata: str, language: str) -> None:
    missing = [
        lang
        for lang in language.split("+")
        if not (Path(tessdata) / f"{lang}.traineddata").is_file()
    ]
    if missing:
        raise IngestError(
            path,
            f"OCR language data {', '.join(missing)!s} is not installed in {tessdata}; "
            f"install it (e.g. `apt-get install tesseract-ocr-{missing[0]}`) or set "
            "DOSSIER_INGEST__OCR_LANGUAGE",
        )


def ocr_textpage(page: pymupdf.Page, path: Path, settings: IngestSettings) -> Any:
    """Recognise one page with Tesseract; returns a MuPDF TextPage for
    ``page.get_text(..., textpage=tp)``.

    Raises IngestError (naming the file) when Tesseract or its language data
    is missing or recognition fails.
    """
    tessdata = tessdata_dir()
    if tessdata is None:
        raise IngestError(
            path,
            f"page {page.number + 1} is a scanned image and needs OCR, but Tesseract is not "
            "installed; install tesseract-ocr (e.g. `apt-get install tesseract-ocr`) "
            "or disable OCR with DOSSIER_INGEST__OCR=false",
        )
    _check_language(path, tessdata, settings.ocr_language)
    t0 = time.perf_counter()
    dpi = ocr_dpi(page.rect)
    try:
        tp = page.get_textpage_ocr(
            flags=pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP,
            language=settings.ocr_language,
            dpi=dpi,
            full=True,
            tessdata=tessdata,
        )
    except Exception as exc:  # MuPDF raises plain RuntimeError/ValueError here
        raise IngestError(path, f"OCR of page {page.number + 1} failed: {exc}") from exc
    logger.info(
        "ingest.page_ocr file=%s page=%d dpi=%d ms=%.0f",
        path.name,
        page.number + 1,
        dpi,
        (time.perf_counter() - t0) * 1000,
    )
    return tp
