"""Fixtures for the knowledge-base tests: real CUAD sentences, chunks built from
them, and throw-away Milvus Lite stores in tmp_path.

The real MiniLM embedder is the session fixture ``st_embedder`` of
``tests/conftest.py`` (loaded once per test session, default settings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from core.types import BlockKind, Chunk, chunk_id
from knowledge_base.milvus_store import MilvusVectorStore

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
CONTRACT = (
    SHARED_DATA
    / "cuad-dev"
    / "txt"
    / "EMERALDHEALTHTHERAPEUTICSINC_06_10_2020-EX-4.5-CONSULTING AGREEMENT - DR. GAETANO MORELLO N.D. INC..txt"
)


def split_sentences(text: str, min_chars: int = 60, max_chars: int = 400) -> list[str]:
    """Whitespace-normalised sentences of a plain-text contract, in order."""
    flat = re.sub(r"\s+", " ", text)
    parts = (s.strip() for s in re.split(r"(?<=[.;])\s+(?=[A-Z(])", flat))
    return [s for s in parts if min_chars <= len(s) <= max_chars]


@pytest.fixture(scope="session")
def contract_sentences() -> list[str]:
    """35 real sentences of a CUAD consulting agreement (fees, termination,
    confidentiality, assignment, governing law)."""
    if not CONTRACT.is_file():
        pytest.fail(f"test data missing: {CONTRACT} (see ../shared/data/README.md)")
    sentences = split_sentences(CONTRACT.read_text(encoding="utf-8"))[10:45]
    assert len(sentences) == 35
    return sentences


def make_chunks(
    sentences: Sequence[str],
    *,
    tenant: str = "acme",
    document_id: str = "doc-1",
    document_name: str = "consulting.txt",
    sentences_per_page: int = 10,
) -> list[Chunk]:
    """One chunk per sentence; pages of ``sentences_per_page`` sentences joined by
    a space, so ``page_text[start:end] == body`` holds."""
    chunks: list[Chunk] = []
    offset = 0
    for ordinal, sentence in enumerate(sentences):
        if ordinal % sentences_per_page == 0:
            offset = 0
        chunks.append(
            Chunk(
                id=chunk_id(f"{tenant}/{document_id}", ordinal),
                document_id=document_id,
                tenant=tenant,
                document_name=document_name,
                ordinal=ordinal,
                page=ordinal // sentences_per_page + 1,
                start=offset,
                end=offset + len(sentence),
                body=sentence,
                text=f"{document_name}\n{sentence}",
                heading_path=["Consulting Agreement", f"Section {ordinal // 5 + 1}"],
                clause_number=f"{ordinal // 5 + 1}.{ordinal % 5 + 1}" if ordinal % 3 else None,
                kind=BlockKind.TEXT if ordinal % 7 else BlockKind.HEADING,
            )
        )
        offset += len(sentence) + 1
    return chunks


@pytest.fixture(scope="session")
def sentence_vectors(st_embedder, contract_sentences: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    return st_embedder.embed_batch([f"consulting.txt\n{s}" for s in contract_sentences])


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[..., MilvusVectorStore]]:
    """Factory of Milvus Lite stores under tmp_path; all closed at teardown."""
    made: list[MilvusVectorStore] = []

    def factory(name: str = "kb", **kwargs: object) -> MilvusVectorStore:
        store = MilvusVectorStore(str(tmp_path / name / "milvus.db"), **kwargs)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., MilvusVectorStore]) -> MilvusVectorStore:
    return make_store()
