"""Contract review: start one (built-in playbook or an uploaded YAML one), watch
it run, read the report (risk summary first, then findings by risk, each quote
a link to its page with the words highlighted), export it as Markdown or print it.

A review is a ``review`` job, exactly what ``POST /v1/reviews`` with
``"background": true`` creates; the worker runs it with the same code.
"""

from __future__ import annotations

from typing import Any

import yaml
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect

from core.errors import DossierError, PlaybookError
from core.types import DocumentStatus
from web.render import html
from web.views.common import in_thread, services, viewer
from web.views.reader import page_link

__all__ = ["REVIEW_ROUTES"]

MEMBER = {"web_role": "member"}
MAX_PLAYBOOK_BYTES = 256 * 1024
RISKS = ("high", "medium", "low")


def _ready_documents(svc: Any, tenant: str) -> list[Any]:
    docs = svc.kb.list_documents(tenant)
    return [d for d in docs if d.status is DocumentStatus.READY]


@get("/reviews")
async def reviews_page(request: Request[Any, Any, Any]) -> Response[str]:
    svc, who = services(request), viewer(request)
    jobs = await in_thread(svc.catalog.list_jobs, who.tenant)
    reviews = [j for j in jobs if j.kind == "review"]
    return html(request, "reviews.html", reviews=reviews)


@get("/reviews/new", opt=MEMBER)
async def new_review(request: Request[Any, Any, Any], doc: str | None = None) -> Response[str]:
    svc, who = services(request), viewer(request)
    docs = await in_thread(_ready_documents, svc, who.tenant)
    return html(request, "review_new.html", documents=docs, selected=doc, error=None)


async def _playbook(upload: Any) -> dict[str, Any] | None:
    """The uploaded YAML playbook, checked now (a malformed one is refused on
    the form, with the file and the problem named, not as a failed job)."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    raw = await upload.read(MAX_PLAYBOOK_BYTES + 1)
    if len(raw) > MAX_PLAYBOOK_BYTES:
        raise PlaybookError(f"{upload.filename}: a playbook must be under 256 KB")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PlaybookError(f"{upload.filename}: not a readable YAML file") from exc
    if not isinstance(data, dict):
        raise PlaybookError(f"{upload.filename}: a playbook is a YAML mapping with 'rules'")
    from tools.clauses import load_playbook

    load_playbook(data)
    return data


@post("/reviews", opt=MEMBER)
async def start_review(request: Request[Any, Any, Any]) -> Response[Any]:
    svc, who = services(request), viewer(request)
    form = await request.form()
    doc_id = str(form.get("document_id") or "")
    try:
        record = await in_thread(svc.kb.get_document, who.tenant, doc_id)
        if record.status is not DocumentStatus.READY:
            raise DossierError(f"{record.name} is not ready for review ({record.status})")
        playbook = await _playbook(form.get("playbook"))
    except DossierError as exc:
        docs = await in_thread(_ready_documents, svc, who.tenant)
        return html(request, "review_new.html", status=422, documents=docs, selected=doc_id,
                    error=str(exc))  # fmt: skip
    payload = {"document_id": record.id, "playbook": playbook}
    job = await in_thread(svc.catalog.create_job, who.tenant, "review", payload, record.name)
    svc.wake.set()
    await in_thread(svc.catalog.audit, who.tenant, who.actor, "review",
                    {"document_id": record.id, "custom_playbook": playbook is not None,
                     "job_id": job.id, "via": "web"})  # fmt: skip
    return Redirect(f"/reviews/{job.id}", status_code=303)


async def _review_job(request: Request[Any, Any, Any], job_id: str) -> Any:
    from core.errors import NotFoundError

    job = await in_thread(services(request).catalog.get_job, viewer(request).tenant, job_id)
    if job.kind != "review":
        raise NotFoundError(f"review {job_id} not found")
    return job


def _report(job: Any) -> Any:
    from tools.clauses import ContractReview

    return ContractReview.model_validate(job.result)


@get("/reviews/{job_id:str}")
async def review_page(request: Request[Any, Any, Any], job_id: str) -> Response[str]:
    job = await _review_job(request, job_id)
    if str(job.status) != "done" or not job.result:
        return html(request, "review_wait.html", job=job)
    report = _report(job)
    issues = {risk: [f for f in report.issues if f.risk == risk] for risk in RISKS}
    flagged = {f.category for f in report.issues} | {f.category for f in report.missing_protections}
    present = [f for f in report.findings if f.verdict != "absent" and f.category not in flagged]
    return html(request, "review.html", job=job, report=report, issues=issues,
                missing=report.missing_protections, present=present, risks=RISKS,
                page_link=page_link)  # fmt: skip


@get("/reviews/{job_id:str}/report.md")
async def review_markdown(request: Request[Any, Any, Any], job_id: str) -> Response[str]:
    from tools.clauses import render_markdown

    job = await _review_job(request, job_id)
    if str(job.status) != "done" or not job.result:
        raise DossierError("This review has not finished yet.")
    report = _report(job)
    stem = "".join(
        c if c.isalnum() or c in "-_." else "_" for c in (report.document_name or "review")
    )
    return Response(render_markdown(report), media_type="text/markdown; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="review-{stem[:80]}.md"'})  # fmt: skip


REVIEW_ROUTES = [reviews_page, new_review, start_review, review_page, review_markdown]
