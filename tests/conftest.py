"""Shared fixtures: the real embedding model (loaded once), real data, and
throw-away knowledge bases on real Milvus Lite + SQLite in tmp_path."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
CUAD = SHARED_DATA / "cuad-dev"
COURT = SHARED_DATA / "court"
DOCX_DIR = SHARED_DATA / "docx"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"test data missing: {SHARED_DATA} (see ../shared/data/README.md)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def st_embedder():  # type: ignore[no-untyped-def]
    """The real MiniLM embedder, loaded once per test session."""
    from core.settings import EmbeddingSettings
    from knowledge_base.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(EmbeddingSettings())


@pytest.fixture
def make_container(tmp_path: Path, st_embedder) -> Iterator[Callable[..., object]]:  # type: ignore[no-untyped-def]
    """Factory: ``make_container(name="kb", **settings_overrides)`` → a
    ``api.container.Container`` on a fresh data dir, sharing the loaded model."""
    from api.container import Container
    from core.settings import load_settings

    made: list[Container] = []

    def factory(name: str = "kb", **overrides: object) -> Container:
        settings = load_settings(data_dir=tmp_path / name, **overrides)
        container = Container(settings, embedder=st_embedder)
        made.append(container)
        return container

    yield factory
    for container in made:
        container.close()
