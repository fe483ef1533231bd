"""Shared by the worker tests: a real Milvus gRPC endpoint (``milvus-lite
server`` in its own process, the URI a Milvus standalone/distributed
deployment would have) and the environment of a ``dossier worker`` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import stop_process

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {port}") from None
            time.sleep(0.2)


def worker_env(
    kb: Path, tenant: str, catalog_url: str, milvus_uri: str, collection: str
) -> dict[str, str]:
    """Environment of a ``dossier worker`` process sharing these backends."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")},
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "DOSSIER_DATA_DIR": str(kb),
        "DOSSIER_TENANT": tenant,
        "DOSSIER_CATALOG__URL": catalog_url,
        "DOSSIER_MILVUS__URI": milvus_uri,
        "DOSSIER_MILVUS__COLLECTION": collection,
        "DOSSIER_EMBEDDING__THREADS": "1",
        "DOSSIER_LOG_LEVEL": "INFO",
    }


@contextmanager
def milvus_server(data: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """(URI, process) of a ``milvus-lite server`` storing under ``data``."""
    exe = Path(sys.executable).with_name("milvus-lite")
    if not exe.exists():
        pytest.fail(f"{exe} not found: milvus-lite is a project dependency")
    port = free_port()
    proc = subprocess.Popen(
        [str(exe), "server", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real gRPC endpoint: ``milvus-lite server`` in its own process."""
    with milvus_server(tmp_path_factory.mktemp("milvus-server")) as (uri, _):
        yield uri
