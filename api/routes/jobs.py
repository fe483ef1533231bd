"""``/v1/jobs/{id}`` and its SSE progress stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from litestar import Request, get
from litestar.response import Stream

from api.routes.common import caller, services
from api.schemas import job_json
from api.sse import format_sse, sse_response

__all__ = ["JOB_ROUTES"]

POLL_S = 0.5
STREAM_LIMIT_S = 3600.0


@get("/v1/jobs/{job_id:str}", summary="A job's status")
async def get_job(request: Request[Any, Any, Any], job_id: str) -> dict[str, Any]:
    """``status``: queued | running | done | failed; ``document_id``, ``pages``,
    ``chunks`` and ``error`` for ingest jobs; ``result`` for review/summary jobs."""
    svc, who = services(request), caller(request)
    job = await anyio.to_thread.run_sync(svc.catalog.get_job, who.tenant, job_id)
    return job_json(job)


@get("/v1/jobs/{job_id:str}/events", summary="A job's progress (SSE)")
async def job_events(request: Request[Any, Any, Any], job_id: str) -> Stream:
    """``event: progress`` with the job each time it changes, then one final
    ``event: done`` or ``event: failed``. 404 at once for an unknown job."""
    svc, who = services(request), caller(request)
    job = await anyio.to_thread.run_sync(svc.catalog.get_job, who.tenant, job_id)

    async def frames() -> AsyncIterator[bytes]:
        current, last, seq = job, None, 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_LIMIT_S
        while True:
            data = job_json(current)
            if current.status in ("done", "failed"):
                seq += 1
                yield format_sse(str(current.status), data, str(seq))
                return
            stamp = (data["status"], data["pages"], data["chunks"], data["updated_at"])
            if stamp != last:
                last, seq = stamp, seq + 1
                yield format_sse("progress", data, str(seq))
            if loop.time() > deadline:
                return
            await asyncio.sleep(POLL_S)
            current = await anyio.to_thread.run_sync(svc.catalog.get_job, who.tenant, job_id)

    return sse_response(frames())


JOB_ROUTES = [get_job, job_events]
