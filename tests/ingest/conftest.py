"""Shared pieces of the ingest tests: the real MiniLM token counter and the
project chunker (module-scoped fixtures), and a one-page PDF of given lines."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from ingest.chunking import Chunker
from knowledge_base.tokens import TokenCounter


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter()


@pytest.fixture(scope="module")
def chunker(counter: TokenCounter) -> Chunker:
    return Chunker(counter)


def pdf_with_lines(path: Path, lines: list[str]) -> Path:
    """One page, one 11 pt line each, 14 pt apart (wrapped lines of a paragraph)."""
    pdf = pymupdf.open()
    page = pdf.new_page()
    for i, line in enumerate(lines):
        page.insert_text((72, 72 + 14 * i), line, fontsize=11)
    pdf.save(path)
    pdf.close()
    return path
