"""Real SEC filings from ../shared/data/financebench-dev: Corning's 46-page
10-Q (loaded once per session, ~8 s) and seven pages of 3M's 2018 10-K
(cover, index, the three main statements, signatures) cut into a small PDF."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from core.settings import load_settings
from core.types import Document
from ingest.chunking import Chunker
from ingest.loaders import load_document
from knowledge_base.tokens import TokenCounter
from tests.conftest import SHARED_DATA

FILINGS = SHARED_DATA / "financebench-dev" / "pdfs"
CORNING_10Q = FILINGS / "CORNING_2023Q2_10Q.pdf"
MMM_10K = FILINGS / "3M_2018_10K.pdf"
#: 0-based pages of 3M's 10-K: cover, index (2), income statement, balance
#: sheet, cash flows, signatures.
MMM_PAGES = [0, 1, 2, 55, 57, 59, 133]


@pytest.fixture(scope="session")
def corning() -> Document:
    return load_document(CORNING_10Q, load_settings().ingest)


@pytest.fixture(scope="session")
def mmm_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mmm") / "3M_2018_10K_excerpt.pdf"
    with pymupdf.open(MMM_10K) as pdf:
        pdf.select(MMM_PAGES)
        pdf.save(path)
    return path


@pytest.fixture(scope="session")
def mmm(mmm_pdf: Path) -> Document:
    return load_document(mmm_pdf, load_settings().ingest)


@pytest.fixture(scope="session")
def report_chunker() -> Chunker:
    return Chunker(TokenCounter())
