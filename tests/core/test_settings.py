"""Settings: ``DOSSIER_`` environment prefix, nested sections with ``__``,
explicit arguments (CLI flags) over the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DOSSIER_ variable of the caller's shell leaks into these tests."""
    for key in list(os.environ):
        if key.startswith("DOSSIER_"):
            monkeypatch.delenv(key)


def test_defaults_without_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.data_dir == tmp_path / "dossier-data"  # made absolute
    assert s.tenant == "default"
    assert s.llm.base_url is None
    assert s.milvus.uri is None
    assert s.milvus_uri == str(tmp_path / "dossier-data" / "milvus.db")
    assert s.catalog_url == f"sqlite:///{tmp_path / 'dossier-data' / 'catalog.db'}"
    assert s.files_dir == tmp_path / "dossier-data" / "files"


def test_prefix_and_nested_sections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOSSIER_DATA_DIR", str(tmp_path / "kb"))
    monkeypatch.setenv("DOSSIER_TENANT", "firm-a")
    monkeypatch.setenv("DOSSIER_LLM__BASE_URL", "http://gpu:8000/v1")
    monkeypatch.setenv("DOSSIER_LLM__API_KEY", "s3cret")
    monkeypatch.setenv("DOSSIER_LLM__MAX_TOKENS", "64")
    monkeypatch.setenv("DOSSIER_MILVUS__URI", "http://milvus:19530")
    monkeypatch.setenv("DOSSIER_CATALOG__URL", "postgresql+psycopg://u@db/dossier")
    monkeypatch.setenv("DOSSIER_INGEST__OCR", "false")
    monkeypatch.setenv("DOSSIER_RETRIEVAL__MODE", "bm25")
    monkeypatch.setenv("DOSSIER_EMBEDDING__DTYPE", "fp32")
    s = load_settings()
    assert s.data_dir == tmp_path / "kb"
    assert s.tenant == "firm-a"
    assert s.llm.base_url == "http://gpu:8000/v1"
    assert s.llm.api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)  # secrets stay out of logs
    assert s.llm.max_tokens == 64  # parsed to the field's type
    assert s.milvus_uri == "http://milvus:19530"
    assert s.catalog_url == "postgresql+psycopg://u@db/dossier"
    assert s.ingest.ocr is False
    assert s.retrieval.mode == "bm25"
    assert s.embedding.dtype == "fp32"
    # untouched fields of a section keep their defaults
    assert s.llm.timeout_s == 120.0
    assert s.ingest.max_file_mb == 100.0


def test_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANT", "nope")
    monkeypatch.setenv("LLM__BASE_URL", "http://nope/v1")
    s = Settings()
    assert s.tenant == "default"
    assert s.llm.base_url is None


def test_invalid_value_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOSSIER_RETRIEVAL__MODE", "fuzzy")
    with pytest.raises(ValueError, match="mode"):
        load_settings()


def test_explicit_arguments_override_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIER_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("DOSSIER_TENANT", "env-tenant")
    monkeypatch.setenv("DOSSIER_LLM__BASE_URL", "http://env:8000/v1")
    s = load_settings(data_dir=tmp_path / "from-flag", tenant="flag-tenant")
    assert s.data_dir == tmp_path / "from-flag"
    assert s.tenant == "flag-tenant"
    assert s.llm.base_url == "http://env:8000/v1"  # not overridden: env still applies
    # None means "flag not given": the environment wins (how the CLI passes --kb)
    s = load_settings(data_dir=None, tenant=None)
    assert s.data_dir == tmp_path / "from-env"
    assert s.tenant == "env-tenant"


def test_relative_data_dir_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOSSIER_DATA_DIR", "rel/kb")
    assert load_settings().data_dir == tmp_path / "rel" / "kb"
    assert load_settings(data_dir=Path("~")).data_dir == Path.home().resolve()


def test_worker_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert (s.worker.stale_after_s, s.worker.heartbeat_s) == (600.0, 15.0)
    assert s.worker.effective_heartbeat_s == 15.0
    monkeypatch.setenv("DOSSIER_WORKER__STALE_AFTER_S", "20")
    monkeypatch.setenv("DOSSIER_WORKER__HEARTBEAT_S", "10")
    s = load_settings()
    assert s.worker.stale_after_s == 20.0
    assert s.worker.effective_heartbeat_s == 5.0  # at most a quarter of the stale timeout
    monkeypatch.setenv("DOSSIER_WORKER__STALE_AFTER_S", "0")
    with pytest.raises(ValueError, match="stale_after_s"):
        load_settings()
