"""Document loaders: a file on disk -> :class:`core.types.Document`.

``load_document`` detects the format from the file's bytes, enforces the size
limit and dispatches to the PDF, DOCX, CAP CASEMETS XML (:mod:`ingest.casemets`)
or plain-text loader. It raises only
:class:`core.errors.IngestError` subclasses, each naming the file and the
reason; any unexpected failure inside a parser becomes DocumentParseError.

Page/Block contract (the chunker relies on it): pages are numbered from 1;
``page.blocks`` partition ``page.text`` in reading order with
``page.text[b.start:b.end] == b.text``. For PDF and DOCX, blocks are separated
by "\\n" (same paragraph group) or "\\n\\n"; for .txt/.md the page text is the
file text verbatim, so the gaps are the file's own whitespace.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from core.errors import DocumentParseError, EmptyDocumentError, FileTooLargeError, IngestError
from core.settings import IngestSettings
from core.types import Document, Page
from ingest.loaders.detect import MIME_TYPES, detect_format
from ingest.structure import guess_title

__all__ = ["detect_format", "load_document"]

logger = logging.getLogger(__name__)


def load_document(path: Path, settings: IngestSettings, name: str | None = None) -> Document:
    """Parse the file at ``path`` into a Document.

    ``name`` (default ``path.name``) is the document's display name. The
    title is the best guess from page 1 (a line naming the instrument, e.g.
    "LICENSE AGREEMENT", else the first heading), else the PDF's metadata
    title, else the file stem.

    Raises FileTooLargeError (over ``settings.max_file_mb``),
    UnsupportedFormatError, EncryptedDocumentError, DocumentParseError,
    EmptyDocumentError, or IngestError (unreadable file, OCR unavailable).
    """
    path = Path(path)
    t0 = time.perf_counter()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(path, f"cannot read file: {exc.strerror or exc}") from exc
    limit = settings.max_file_mb * 1024 * 1024
    if size > limit:
        raise FileTooLargeError(
            path, f"file is {size / 1024 / 1024:.1f} MB, over the {settings.max_file_mb:g} MB limit"
        )
    if size == 0:
        raise EmptyDocumentError(path, "the file is empty (0 bytes)")
    fmt = detect_format(path)
    meta: dict[str, str] = {"format": fmt}
    try:
        pages, extra = _dispatch(path, fmt, settings)
    except IngestError:
        raise
    except MemoryError as exc:
        raise DocumentParseError(
            path, "the file is too complex to parse within memory limits"
        ) from exc
    except Exception as exc:  # a parser bug or a malformed file it did not expect
        logger.warning(
            "ingest.parse_failed file=%s format=%s error=%s", path.name, fmt, type(exc).__name__
        )
        raise DocumentParseError(path, f"could not parse the {fmt.upper()} file: {exc}") from exc
    meta.update(extra)
    fallback = extra.get("pdf_title") or extra.get("docx_title") or path.stem
    if len(fallback) > 120 or fallback.lower().startswith("microsoft word"):
        fallback = path.stem
    # A CASEMETS file names its case; other formats: the best guess from page 1.
    title = extra.get("title") or guess_title(pages[0] if pages else None, fallback)
    doc = Document(
        name=name or path.name, mime=MIME_TYPES[fmt], pages=pages, title=title, metadata=meta
    )
    logger.info(
        "ingest.document_loaded file=%s format=%s pages=%d ms=%.0f",
        path.name,
        fmt,
        len(pages),
        (time.perf_counter() - t0) * 1000,
    )
    return doc


def _dispatch(path: Path, fmt: str, settings: IngestSettings) -> tuple[list[Page], dict[str, str]]:
    if fmt == "pdf":
        from ingest.loaders.pdf import load_pdf_pages

        return load_pdf_pages(path, settings)
    if fmt == "docx":
        from ingest.loaders.docx import load_docx_pages

        return load_docx_pages(path, settings)
    from ingest.loaders.text import load_text_page

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(path, f"cannot read file: {exc.strerror or exc}") from exc
    if fmt == "casemets":
        from ingest.casemets import load_casemets_pages

        return load_casemets_pages(path, data)
    return [load_text_page(path, data, fmt)], {}
