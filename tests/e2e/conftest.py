"""End-to-end fixtures: the real app served by uvicorn on 127.0.0.1 (a free
port, a thread of the test process), on real Milvus Lite + SQLite in tmp_path,
the real MiniLM model and real documents from ``../shared/data``.

The LLM is, by default, a closed port: answers are evidence-only (degraded).
Tests marked ``llm`` use the agent engineer's session vLLM fixture.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
CUAD_PDF = SHARED_DATA / "cuad-dev" / "pdf"
GAINSCO = CUAD_PDF / "GAINSCOINC_01_21_2010-EX-10.41-SPONSORSHIP AGREEMENT.PDF"
NDA_DOCX = SHARED_DATA / "docx" / "bonterms-cc0-1.0" / "bonterms-mutual-nda" / "template.docx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    base_url: str
    container: Any
    app: Any
    server: uvicorn.Server
    thread: threading.Thread
    keys: dict[str, str] = field(default_factory=dict)

    def key(self, tenant: str, role: str = "member") -> str:
        name = f"{tenant}:{role}"
        if name not in self.keys:
            key, _ = self.container.catalog.create_api_key(tenant, role, name)
            self.keys[name] = key
        return self.keys[name]

    def client(self, tenant: str | None = "acme", role: str = "member", **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key(tenant, role)}"} if tenant else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=120.0, **kw)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


def start_server(data_dir: Path, embedder: Any, *, llm_url: str | None = None,
                 worker: bool = True, **settings_overrides: Any) -> RunningServer:  # fmt: skip
    from api.app import create_app
    from api.container import Container
    from core.settings import load_settings

    settings = load_settings(data_dir=data_dir)
    settings.llm.base_url = llm_url or f"http://127.0.0.1:{free_port()}/v1"
    settings.llm.connect_timeout_s = 2.0
    settings.llm.max_retries = 1
    for section, values in settings_overrides.items():
        for key, value in values.items():
            setattr(getattr(settings, section), key, value)
    container = Container(settings, embedder=embedder)
    app = create_app(settings, container=container, worker=worker, manage_llm=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", timeout_graceful_shutdown=5))  # fmt: skip
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return RunningServer(f"http://127.0.0.1:{port}", container, app, server, thread)


@pytest.fixture
def serve(tmp_path: Path, st_embedder: Any) -> Iterator[Callable[..., RunningServer]]:
    """Factory: ``serve(name="srv", llm_url=None, worker=True, ingest={...})``."""
    running: list[RunningServer] = []

    def factory(name: str = "srv", **kw: Any) -> RunningServer:
        srv = start_server(tmp_path / name, st_embedder, **kw)
        running.append(srv)
        return srv

    yield factory
    for srv in running:
        srv.stop()
        srv.container.close()


@pytest.fixture(scope="module")
def shared_server(
    tmp_path_factory: pytest.TempPathFactory, st_embedder: Any
) -> Iterator[RunningServer]:
    """One server per module with two tenants' contracts already ingested."""
    srv = start_server(tmp_path_factory.mktemp("shared"), st_embedder)
    try:
        yield srv
    finally:
        srv.stop()
        srv.container.close()


def upload(client: httpx.Client, *paths: Path, field: str = "file") -> httpx.Response:
    files = [(field, (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    return client.post("/v1/documents", files=files)


def wait_job(client: httpx.Client, job_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def ingest(client: httpx.Client, *paths: Path) -> list[str]:
    """Upload and wait: the document ids, in order."""
    response = upload(client, *paths, field="files")
    assert response.status_code == 202, response.text
    ids = []
    for job in response.json()["jobs"]:
        done = wait_job(client, job["id"])
        assert done["status"] == "done", done
        ids.append(done["document_id"])
    return ids


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs of a streamed SSE response."""
    import json

    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name is not None:
            events.append((name, json.loads(line[6:])))
            name = None
    return events
