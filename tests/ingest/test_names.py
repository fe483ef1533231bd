"""Document names lose every character that changes how the rest displays."""

from __future__ import annotations

import unicodedata

from ingest.names import clean_name, sanitize_filename


def test_bidi_and_format_characters_are_removed() -> None:
    # U+202E makes "invoice_\u202egpj.pdf" display as "invoice_fdp.jpg"
    assert sanitize_filename("invoice_\u202egpj.pdf") == "invoice_gpj.pdf"
    invisible = "\u200e\u200f\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u2060\ufeff\u00ad\u061c"
    assert all(unicodedata.category(ch) == "Cf" for ch in invisible)
    assert sanitize_filename(f"a{invisible}b.pdf") == "ab.pdf"
    assert sanitize_filename("x\u2028y\u2029z\x07.md") == "xyz.md"  # separators, controls
    assert sanitize_filename("\u202e\u200b") == "upload"  # nothing visible left


def test_paths_and_ordinary_names_survive() -> None:
    assert sanitize_filename("../../etc/passwd") == "passwd"
    assert (
        sanitize_filename("Vertrag über Lieferung (final).pdf")
        == "Vertrag über Lieferung (final).pdf"
    )
    assert sanitize_filename("契約書.pdf") == "契約書.pdf"
    assert clean_name("acme/\u202etemplate.docx") == "acme/template.docx"  # folder names kept
