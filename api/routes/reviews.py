"""``/v1/reviews`` (contract review) and ``/v1/batch/summaries``.

Reviews: a document of at most ``SYNC_REVIEW_MAX_PAGES`` pages is reviewed
synchronously (200 with the report); a longer one, or any request with
``"background": true``, becomes a ``review`` job (202 with ``job``; the report
is the job's ``result``). Batch summaries are always a ``summary`` job (202);
progress at ``/v1/jobs/{id}/events``, per-document results in ``result``;
the finished digest as a file at ``/v1/batch/summaries/{job_id}/digest`` (``?format=md``
or ``csv``: the reports' comparison table).
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.params import JSONBody

from api.errors import ApiError
from api.routes.common import caller, services
from api.schemas import BatchSummaryRequest, ReviewRequest, job_json
from core.types import DocumentStatus

__all__ = ["REVIEW_ROUTES", "SYNC_REVIEW_MAX_PAGES"]

SYNC_REVIEW_MAX_PAGES = 20


@post("/v1/reviews", opt={"role": "member"}, summary="Review a contract")
async def create_review(
    request: Request[Any, Any, Any], data: JSONBody[ReviewRequest]
) -> Response[Any]:
    svc, who = services(request), caller(request)
    record = await anyio.to_thread.run_sync(svc.kb.get_document, who.tenant, data.document_id)
    if record.status is not DocumentStatus.READY:
        raise ApiError(409, f"{record.name} is not ready for review ({record.status})")
    if data.playbook is not None:  # a malformed playbook is a 422 now, not a failed job
        from tools.clauses import load_playbook

        load_playbook(data.playbook)
    audit = {"document_id": record.id, "custom_playbook": data.playbook is not None}
    if data.background or record.pages > SYNC_REVIEW_MAX_PAGES:
        payload = {"document_id": record.id, "playbook": data.playbook}
        job = await anyio.to_thread.run_sync(
            svc.catalog.create_job, who.tenant, "review", payload, record.name
        )
        svc.wake.set()
        await anyio.to_thread.run_sync(svc.catalog.audit, who.tenant, who.actor, "review",
                                       audit | {"job_id": job.id})  # fmt: skip
        return Response({"job": job_json(job)}, status_code=202,
                        headers={"Location": f"/v1/jobs/{job.id}"})  # fmt: skip
    report = await anyio.to_thread.run_sync(svc.jobs.review, who.tenant, record.id, data.playbook)
    await anyio.to_thread.run_sync(svc.catalog.audit, who.tenant, who.actor, "review", audit)
    return Response(report, status_code=200)


@post("/v1/batch/summaries", opt={"role": "member"}, status_code=202, summary="Summarise documents")
async def batch_summaries(
    request: Request[Any, Any, Any], data: JSONBody[BatchSummaryRequest]
) -> Response[Any]:
    """202 with ``job``; the job's ``result`` holds ``documents`` (one cited,
    map-reduce summary per document, saved as each finishes), ``failed``,
    ``progress`` and, at the end, ``digest``."""
    svc, who = services(request), caller(request)
    ids = list(dict.fromkeys(data.document_ids))

    def check() -> None:
        for doc_id in ids:  # 404 now for an unknown (or another tenant's) id
            svc.kb.get_document(who.tenant, doc_id)

    await anyio.to_thread.run_sync(check)
    job = await anyio.to_thread.run_sync(
        svc.catalog.create_job, who.tenant, "summary", {"document_ids": ids, "method": data.method},
        None,
    )  # fmt: skip
    svc.wake.set()
    await anyio.to_thread.run_sync(svc.catalog.audit, who.tenant, who.actor, "summaries",
                                   {"document_ids": ids, "job_id": job.id})  # fmt: skip
    return Response({"job": job_json(job)}, status_code=202,
                    headers={"Location": f"/v1/jobs/{job.id}"})  # fmt: skip


_DIGEST_FORMATS = {"md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8"}


@get("/v1/batch/summaries/{job_id:str}/digest", summary="A finished batch's digest as a file")
async def summaries_digest(
    request: Request[Any, Any, Any], job_id: str, format: str = "md"
) -> Response[str]:
    """The digest of a finished ``summary`` job: ``md`` (comparison table of the
    reports, each document's lead, the sentences central across them) or
    ``csv`` (the comparison table: company, form, period, revenue, net income,
    diluted EPS and their changes)."""
    from api.services.summaries import render_digest_csv, render_digest_markdown

    if format not in _DIGEST_FORMATS:
        raise ApiError(400, f"format must be md or csv, not {format!r}")
    svc, who = services(request), caller(request)
    job = await anyio.to_thread.run_sync(svc.catalog.get_job, who.tenant, job_id)
    if job.kind != "summary":
        raise ApiError(404, f"summary job {job_id} not found")
    digest = (job.result or {}).get("digest")
    if str(job.status) != "done" or not digest:
        raise ApiError(409, f"summary job {job_id} has not finished (status {job.status})")
    text = render_digest_csv(digest) if format == "csv" else render_digest_markdown(digest)
    return Response(text, media_type=_DIGEST_FORMATS[format], headers={
        "Content-Disposition": f'attachment; filename="digest-{job_id[:8]}.{format}"'})  # fmt: skip


REVIEW_ROUTES = [create_review, batch_summaries, summaries_digest]
