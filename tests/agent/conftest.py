"""Agent fixtures: one real vLLM CPU server per test session, real knowledge bases.

The converted SmolLM2 model is cached at ``<repo>/.cache/models/`` (gitignored),
so it is prepared once per machine; the server itself gets a data dir under the
pytest tmp dir and a free port. ``DOSSIER_TEST_LLM_BASE_URL`` points the tests
at an already-running server instead (development only).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.local_vllm import LOCAL_MODEL_NAME, LocalVLLMServer, prepare_local_model
from core.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
CUAD_PDF = (
    SHARED_DATA / "cuad-dev" / "pdf" / "GAINSCOINC_01_21_2010-EX-10.41-SPONSORSHIP AGREEMENT.PDF"
)
MODEL_CACHE = REPO / ".cache" / "models" / LOCAL_MODEL_NAME
TENANT = "acme"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_base_url() -> str:
    """A URL nothing listens on (the port was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture(scope="session")
def llm_model_dir() -> Path:
    return prepare_local_model(MODEL_CACHE)


@pytest.fixture(scope="session")
def llm_server(
    tmp_path_factory: pytest.TempPathFactory, llm_model_dir: Path
) -> Iterator[LocalVLLMServer | None]:
    """A real vLLM CPU server with SmolLM2, started once per session (None when
    ``DOSSIER_TEST_LLM_BASE_URL`` names an external one)."""
    if os.environ.get("DOSSIER_TEST_LLM_BASE_URL"):
        yield None
        return
    settings = load_settings(data_dir=tmp_path_factory.mktemp("vllm"))
    settings.llm.local_port = free_port()
    settings.llm.local_startup_timeout_s = 1200
    server = LocalVLLMServer(settings, model_dir=llm_model_dir)
    try:
        server.start(wait=True)
    except BaseException:
        server.stop()
        raise
    try:
        yield server
    finally:
        assert server.stop(), "the server was still ours to stop"
        assert not server.status().running


@pytest.fixture(scope="session")
def llm_base_url(llm_server: LocalVLLMServer | None) -> str:
    """The base URL of the session's real vLLM server."""
    return (
        llm_server.base_url if llm_server is not None else os.environ["DOSSIER_TEST_LLM_BASE_URL"]
    )


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
