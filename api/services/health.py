"""Backend probes shared by the API's ``/readyz`` and a worker's ``/readyz``
(``api/worker_health.py``): each check is "ok" or "error: <exception type>"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["backend_checks"]


def backend_checks(container: Any, *, embedder: bool = False) -> dict[str, str]:
    """Probe the catalog and the vector store (and the embedder) of an
    ``api.container.Container``; blocking, run it off the event loop."""
    probes: list[tuple[str, Callable[[], object]]] = [
        ("catalog", lambda: container.catalog.unready_document_ids("readyz")),
        ("milvus", lambda: container.store.count("readyz")),
    ]
    if embedder:
        probes.append(("embedder", lambda: container.embedder.dimension))
    checks: dict[str, str] = {}
    for name, probe in probes:
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # a probe reports, never raises
            checks[name] = f"error: {type(exc).__name__}"
    return checks
