"""The documents screen: the list (filter by name), multi-file upload with
per-file live progress from the job events, and delete with confirmation.

Uploads go through the same ``UploadService`` as ``POST /v1/documents`` (same
checks, same jobs, same audit entry); the page's script sends one request per
file so that a refused file fails alone, with its reason, and the others go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect, Stream

from core.types import JobRecord
from web.render import format_sse, html
from web.views.common import in_thread, services, viewer

__all__ = ["DOCUMENT_ROUTES", "job_view"]

POLL_S = 0.4
STREAM_LIMIT_S = 1800.0
MEMBER = {"web_role": "member"}


def job_view(job: JobRecord) -> dict[str, Any]:
    """A job for the page: its stage (queued, parsing, embedding, indexing,
    indexed, failed, done), counts and, when it failed, the reason."""
    status = str(job.status)
    if status == "running":
        stage = "parsing" if not job.pages else ("embedding" if not job.chunks else "indexing")
    elif status == "done":
        stage = "indexed" if job.kind == "ingest" else "done"
    else:
        stage = status
    return {"id": job.id, "kind": job.kind, "status": status, "stage": stage,
            "name": job.file_name, "document_id": job.document_id, "pages": job.pages,
            "chunks": job.chunks, "error": job.error, "result": job.result}  # fmt: skip


async def _documents(request: Request[Any, Any, Any], query: str) -> list[Any]:
    docs = await in_thread(services(request).kb.list_documents, viewer(request).tenant)
    needle = query.strip().lower()
    docs = [d for d in docs if needle in d.name.lower()] if needle else list(docs)
    return sorted(docs, key=lambda d: (d.created_at is None, d.created_at), reverse=True)


@get("/documents")
async def documents_page(request: Request[Any, Any, Any], q: str = "") -> Response[str]:
    svc = services(request)
    docs = await _documents(request, q)
    return html(request, "documents.html", documents=docs, q=q,
                max_mb=svc.settings.ingest.max_file_mb)  # fmt: skip


@get("/documents/rows")
async def document_rows(request: Request[Any, Any, Any], q: str = "") -> Response[str]:
    """The table body only (the filter box asks for it as you type)."""
    return html(request, "_document_rows.html", documents=await _documents(request, q), q=q)


@post("/documents/upload", opt=MEMBER)
async def upload(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Multipart ``file`` (one or more): ``{"jobs": [{id, name, ...}]}``. A
    refused file is an ``{"error": sentence}`` naming it (status 413/415/422)."""
    svc, who = services(request), viewer(request)
    parts = await svc.uploads.receive(request.headers.get("content-type"), request.stream())
    saved = await in_thread(svc.uploads.accept, who.tenant, parts)
    svc.wake.set()
    await in_thread(svc.catalog.audit, who.tenant, who.actor, "upload",
                    {"files": [{"name": s.name, "bytes": s.size,
                                "job_id": s.job.id if s.job else None} for s in saved],
                     "via": "web"})  # fmt: skip
    jobs = [job_view(s.job) for s in saved if s.job is not None]
    return Response({"jobs": jobs}, status_code=202)


@get("/jobs/{job_id:str}/events")
async def job_events(request: Request[Any, Any, Any], job_id: str) -> Stream:
    """``progress`` each time the job changes, then ``done`` or ``failed``."""
    svc, tenant = services(request), viewer(request).tenant
    job = await in_thread(svc.catalog.get_job, tenant, job_id)

    async def frames() -> AsyncIterator[bytes]:
        current, last = job, None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_LIMIT_S
        while loop.time() < deadline:
            data = job_view(current)
            if data["status"] in ("done", "failed"):
                yield format_sse(data["status"], data)
                return
            if (stamp := (data["stage"], data["pages"], data["chunks"])) != last:
                last = stamp
                yield format_sse("progress", data)
            await asyncio.sleep(POLL_S)
            current = await in_thread(svc.catalog.get_job, tenant, job_id)

    return Stream(frames(), media_type="text/event-stream",
                  headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip


@get("/jobs/{job_id:str}")
async def job_status(request: Request[Any, Any, Any], job_id: str) -> dict[str, Any]:
    job = await in_thread(services(request).catalog.get_job, viewer(request).tenant, job_id)
    return job_view(job)


@post("/documents/{document_id:str}/delete", opt=MEMBER)
async def delete_document(request: Request[Any, Any, Any], document_id: str) -> Response[Any]:
    """Removes the document; htmx swaps its row out, a plain form reloads."""
    svc, who = services(request), viewer(request)
    record = await in_thread(svc.kb.get_document, who.tenant, document_id)
    await in_thread(svc.kb.delete_document, who.tenant, document_id)
    await in_thread(svc.catalog.audit, who.tenant, who.actor, "delete",
                    {"document_id": document_id, "via": "web"})  # fmt: skip
    if request.headers.get("hx-request"):
        return html(request, "_deleted_row.html", name=record.name)
    return Redirect("/documents", status_code=303)


DOCUMENT_ROUTES = [documents_page, document_rows, upload, job_events, job_status,
                   delete_document]  # fmt: skip
