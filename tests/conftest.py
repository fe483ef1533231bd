"""Shared fixtures: the real embedding model (loaded once), real data, and
throw-away knowledge bases on real Milvus Lite + SQLite in tmp_path."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The tests' embedded LLM servers are recorded apart from a developer's own
# (agent.llm_runtime): a test never adopts, nor stops, a server it did not start.
os.environ.setdefault("DOSSIER_RUNTIME_DIR", tempfile.mkdtemp(prefix="dossier-test-run-"))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
CUAD = SHARED_DATA / "cuad-dev"
COURT = SHARED_DATA / "court"
DOCX_DIR = SHARED_DATA / "docx"


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM a server started by a test, SIGKILL it if it has not exited
    after ``timeout`` seconds; always reaped."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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


# -- the real vLLM CPU server, shared by tests/agent and tests/e2e ----------------
MODEL_CACHE = REPO / ".cache" / "models" / "smollm2-135m-instruct"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_base_url() -> str:
    """A URL nothing listens on (the port was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture(scope="session")
def llm_model_dir() -> Path:
    from agent.local_vllm import prepare_local_model

    return prepare_local_model(MODEL_CACHE)


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory, llm_model_dir: Path) -> Iterator[object]:
    """A real vLLM CPU server with SmolLM2, started once per session (None when
    ``DOSSIER_TEST_LLM_BASE_URL`` names an external one)."""
    if os.environ.get("DOSSIER_TEST_LLM_BASE_URL"):
        yield None
        return
    from agent.local_vllm import LocalVLLMServer
    from core.settings import load_settings

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
def llm_base_url(llm_server) -> str:  # type: ignore[no-untyped-def]
    """The base URL of the session's real vLLM server."""
    return (
        llm_server.base_url if llm_server is not None else os.environ["DOSSIER_TEST_LLM_BASE_URL"]
    )
