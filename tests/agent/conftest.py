"""Agent fixtures: one real vLLM CPU server per test session, real knowledge bases.

The converted SmolLM2 model is cached at ``<repo>/.cache/models/`` (gitignored),
so it is prepared once per machine; the server itself gets a data dir under the
pytest tmp dir and a free port. ``DOSSIER_TEST_LLM_BASE_URL`` points the tests
at an already-running server instead (development only).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings, load_settings
from tests.conftest import closed_base_url, free_port  # noqa: F401  (re-exported helpers)

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
CUAD_PDF = (
    SHARED_DATA / "cuad-dev" / "pdf" / "GAINSCOINC_01_21_2010-EX-10.41-SPONSORSHIP AGREEMENT.PDF"
)
TENANT = "acme"


def make_settings(data_dir: Path, base_url: str | None) -> Settings:
    settings = load_settings(data_dir=data_dir)
    settings.llm.base_url = base_url
    settings.llm.connect_timeout_s = 2.0
    settings.llm.max_retries = 1
    return settings


@pytest.fixture(scope="module")
def cuad_container(tmp_path_factory: pytest.TempPathFactory, st_embedder):  # type: ignore[no-untyped-def]
    """A knowledge base holding one real CUAD contract (GAINSCO sponsorship agreement)."""
    from api.container import Container

    settings = make_settings(tmp_path_factory.mktemp("kb"), None)
    container = Container(settings, embedder=st_embedder)
    result = container.pipeline.ingest_file(CUAD_PDF, TENANT)
    assert result.status == "indexed", result.error
    yield container
    container.close()
