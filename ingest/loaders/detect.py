"""File-type detection from magic bytes (never from the extension).

``detect_format`` answers "pdf", "docx", "casemets", "txt" or "md"; anything
else raises :class:`~core.errors.UnsupportedFormatError` naming what the bytes
look like and how to convert the file. The extension is consulted only to tell
Markdown from plain text once the bytes are known to be text, and to read a
``.xml`` file as XML (text starting ``<?xml`` is XML whatever its name).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from core.errors import DocumentParseError, IngestError, UnsupportedFormatError

__all__ = ["CONVERT_HINT", "MIME_TYPES", "detect_format"]

CONVERT_HINT = "convert it to PDF or DOCX, e.g. `libreoffice --headless --convert-to pdf FILE`"

MIME_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "txt": "text/plain",
    "md": "text/markdown",
    "casemets": "application/mets+xml",
}

#: (magic prefix, human name) of formats we recognise but do not read.
_UNSUPPORTED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Microsoft Office (OLE2, e.g. .doc)"),
    (b"\xffWPC", "WordPerfect document"),
    (b"{\\rtf", "RTF document"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"BM", "BMP image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!", "RAR archive"),
    (b"\x7fELF", "executable"),
    (b"MZ", "Windows executable"),
    (b"AT&TFORM", "DjVu document"),
)

_TEXT_SUFFIXES = {".md": "md", ".markdown": "md"}
_SNIFF_BYTES = 8192
#: The XML prolog (declaration, comments, processing instructions), then the
#: root element's start tag.
_XML_ROOT = re.compile(
    rb"^(?:\s|<\?.*?\?>|<!--.*?-->)*<(?P<doctype>!DOCTYPE\s+)?(?P<tag>[^\s/>\[]*)(?P<attrs>[^>]*)",
    re.S,
)
_METS_NS = b"http://www.loc.gov/METS/"
_CASE_BODY_NS = b"http://nrs.harvard.edu/urn-3:HLS.Libr.US_Case_Law.Schema.Case_Body:"


def _looks_like_text(head: bytes) -> bool:
    """UTF-8 (or latin-1 prose) without NUL bytes and few control characters."""
    if b"\x00" in head:
        return False
    if not head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(head) < 0.01


def detect_format(path: Path) -> str:
    """Return "pdf", "docx", "casemets", "txt" or "md" from the file's bytes.

    A PDF is recognised by ``%PDF-`` in its first 1 KiB (the spec allows
    leading junk); a DOCX by a zip containing ``word/document.xml``; CAP
    CASEMETS XML by a METS root element and CAP's case-body namespace; text by
    the absence of NUL and control bytes (``.md``/``.markdown`` names give
    "md"). Raises UnsupportedFormatError for anything else (other XML
    included), with the detected type and a conversion hint, and IngestError
    if the file cannot be read.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise IngestError(path, f"cannot read file: {exc.strerror or exc}") from exc
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _detect_zip(path)
    for magic, name in _UNSUPPORTED_MAGIC:
        if head.startswith(magic):
            raise UnsupportedFormatError(path, f"unsupported format: {name}; {CONVERT_HINT}")
    if _looks_like_text(head):
        xml = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if xml.startswith(b"<?xml") or path.suffix.lower() == ".xml":
            return _detect_xml(path, xml)
        return _TEXT_SUFFIXES.get(path.suffix.lower(), "txt")
    raise UnsupportedFormatError(
        path, f"unsupported format: unrecognised binary data; {CONVERT_HINT}"
    )


def _detect_zip(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        # Starts like a zip but the central directory is unreadable: most
        # likely a damaged DOCX. Say so rather than "unsupported".
        raise DocumentParseError(path, f"corrupt or truncated zip/DOCX container: {exc}") from exc
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        kind = "Excel workbook (.xlsx)"
    elif "ppt/presentation.xml" in names:
        kind = "PowerPoint presentation (.pptx)"
    elif "content.xml" in names and "mimetype" in names:
        kind = "OpenDocument file (.odt/.ods)"
    else:
        kind = "zip archive that is not a Word document"
    raise UnsupportedFormatError(path, f"unsupported format: {kind}; {CONVERT_HINT}")


def _detect_xml(path: Path, head: bytes) -> str:
    """ "casemets" for CAP CASEMETS XML (root element in the METS namespace,
    CAP's case body inside); UnsupportedFormatError for any other XML."""
    m = _XML_ROOT.match(head)
    if m is not None and m.group("doctype"):
        raise UnsupportedFormatError(
            path, "unsupported format: XML with a document type declaration (DTD) is refused"
        )
    if m is None or not m.group("tag"):
        raise UnsupportedFormatError(path, "unsupported format: not well-formed XML")
    tag = m.group("tag").decode("utf-8", "replace")
    prefix, _, local = tag.rpartition(":")
    declares = re.escape(b"xmlns" + (b":" + prefix.encode() if prefix else b""))
    ns = re.search(rb"(?:^|\s)" + declares + rb"\s*=\s*[\"']([^\"']*)[\"']", m.group("attrs"))
    if ns is None or ns.group(1) != _METS_NS or local != "mets":
        raise UnsupportedFormatError(
            path,
            f"unsupported format: XML whose root element is <{tag[:60]}>; only CAP CASEMETS "
            "XML (a METS file with a Caselaw Access Project case body) is read",
        )
    with path.open("rb") as fh:
        tail = b""
        for block in iter(lambda: fh.read(1 << 20), b""):
            if _CASE_BODY_NS in tail + block:
                return "casemets"
            tail = block[-len(_CASE_BODY_NS) :]
    raise UnsupportedFormatError(
        path, "unsupported format: METS XML without a CAP case body (not a CASEMETS case file)"
    )
