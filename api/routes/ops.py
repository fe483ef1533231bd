"""Operations: ``/healthz``, ``/readyz``, ``/metrics`` and the audit log.

``/readyz`` reports ``catalog``, ``milvus``, ``embedder`` and ``llm``. It is
503 when any of the first three fails (the service cannot search). A missing
LLM does NOT make it unready: the answer is 200 with ``"status": "degraded"``
and ``"llm": "unavailable"`` (or ``"starting"``), because search, uploads,
reviews and evidence-only answers still work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from litestar import Request, Response, get

from api.errors import ApiError
from api.metrics import CONTENT_TYPE, job_counts
from api.routes.common import caller, services
from api.services.health import backend_checks

__all__ = ["OPS_ROUTES"]


@get("/healthz", opt={"public": True}, summary="Liveness", include_in_schema=True)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", opt={"public": True}, summary="Readiness")
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    svc = services(request)
    if svc.ready:
        checks = await anyio.to_thread.run_sync(
            lambda: backend_checks(svc.container, embedder=True)
        )
    else:
        checks = {"catalog": "starting", "milvus": "starting", "embedder": "starting"}
    checks["llm"] = await svc.llm.state()
    core_ok = all(checks[k] == "ok" for k in ("catalog", "milvus", "embedder"))
    status = (
        "ready" if core_ok and checks["llm"] == "ok" else ("degraded" if core_ok else "unready")
    )
    return Response({"status": status, **checks}, status_code=200 if core_ok else 503)


@get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    svc = services(request)
    jobs = await anyio.to_thread.run_sync(svc.catalog.list_jobs)
    svc.metrics.set_job_counts(job_counts(jobs))
    return Response(svc.metrics.render(), media_type=CONTENT_TYPE)


@get("/v1/audit", opt={"role": "admin"}, summary="The audit log (admins)")
async def audit(
    request: Request[Any, Any, Any], since: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """The tenant's entries at or after ``since`` (ISO 8601), oldest first."""
    svc, who = services(request), caller(request)
    when = parse_since(since) if since else None
    if not 1 <= limit <= 10000:
        raise ApiError(400, "limit must be between 1 and 10000")
    entries = await anyio.to_thread.run_sync(
        lambda: svc.catalog.audit_entries(who.tenant, since=when, limit=limit)
    )
    return [e.model_dump(mode="json") for e in entries]


def parse_since(value: str) -> datetime:
    """ISO 8601 (a ``Z`` suffix is fine); naive times are taken as UTC."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(400, f"since: not an ISO 8601 time: {value!r}") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


OPS_ROUTES = [healthz, readyz, metrics, audit]
