"""Document names: what a person sees in lists, citations and downloads.

A name comes from outside (an upload's ``filename``, a path on disk), so it may
carry characters that change how the rest of the name *displays* without being
visible themselves: bidi controls (U+202E RIGHT-TO-LEFT OVERRIDE makes
``invoice_\\u202egpj.pdf`` display as ``invoice_fdp.jpg``), marks (U+200E/F),
isolates (U+2066-2069), zero-width characters and every other Unicode format
character (category ``Cf``), control characters (``Cc``), line and paragraph
separators. They are removed from every stored name.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

__all__ = ["clean_name", "sanitize_filename"]

#: Unicode categories removed from names: control, format (bidi, zero-width,
#: BOM, ...), surrogate, line and paragraph separators.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_UNSAFE = re.compile(r'[<>:"/\\|?*]')
MAX_NAME_CHARS = 200


def clean_name(name: str) -> str:
    """``name`` NFC-normalised, without invisible characters (see the module doc);
    other whitespace becomes a plain space. Path separators are kept (a CLI
    folder ingest names documents by their relative path)."""
    name = unicodedata.normalize("NFC", name)
    kept = []
    for ch in name:
        category = unicodedata.category(ch)
        if category in _INVISIBLE:
            continue
        kept.append(" " if category == "Zs" else ch)
    return "".join(kept)


def sanitize_filename(raw: str | None, fallback: str = "upload") -> str:
    """A safe display/base name: the last path component (``/`` or ``\\``),
    NFC-normalised, without invisible or reserved characters, leading dots or
    spaces, at most 200 characters. ``../../etc/passwd`` → ``passwd``."""
    name = clean_name(raw or "")
    name = PureWindowsPath(PurePosixPath(name.replace("\\", "/")).name).name
    name = _UNSAFE.sub("_", name).strip().lstrip(". ").strip()
    if not name or name in {".", ".."}:
        name = fallback
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        name = (
            (stem[: MAX_NAME_CHARS - len(ext) - 1] + "." + ext)
            if dot and len(ext) <= 10
            else name[:MAX_NAME_CHARS]
        )
    return name
