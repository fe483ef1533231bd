"""Search (mode and k, hits with heading path and page, click to open the
highlighted passage) and batch summaries (a ``summary`` job with live progress,
then the digest and each document's cited summary, downloadable)."""

from __future__ import annotations

from typing import Any, Literal

from litestar import Request, Response, get, post
from litestar.response import Redirect

from core.errors import DossierError, NotFoundError
from core.report_digest import comparison_csv, comparison_markdown
from core.types import DocumentStatus
from web.render import html, render
from web.views.common import in_thread, services, viewer
from web.views.reader import page_link

__all__ = ["SEARCH_ROUTES"]

MEMBER = {"web_role": "member"}
MODES = ("hybrid", "dense", "bm25")


@get("/search")
async def search_page(
    request: Request[Any, Any, Any], q: str = "", mode: str = "hybrid", k: int = 10
) -> Response[str]:
    svc, who = services(request), viewer(request)
    mode = mode if mode in MODES else "hybrid"
    k = min(max(k, 1), 50)
    hits: list[Any] = []
    if q.strip():

        def run() -> list[Any]:
            found = svc.kb.search(who.tenant, q.strip(), k=k, mode=mode)
            svc.catalog.audit(who.tenant, who.actor, "search", {
                "query": q[:2000], "mode": mode, "k": k, "hits": [h.chunk.id for h in found],
                "documents": sorted({h.chunk.document_id for h in found}), "via": "web",
            })  # fmt: skip
            return list(found)

        hits = await in_thread(run)
    return html(request, "search.html", q=q, mode=mode, k=k, modes=MODES, hits=hits,
                page_link=page_link)  # fmt: skip


def _ready(svc: Any, tenant: str) -> list[Any]:
    return [d for d in svc.kb.list_documents(tenant) if d.status is DocumentStatus.READY]


@get("/summaries")
async def summaries_page(request: Request[Any, Any, Any]) -> Response[str]:
    svc, who = services(request), viewer(request)
    jobs = await in_thread(svc.catalog.list_jobs, who.tenant)
    docs = await in_thread(_ready, svc, who.tenant)
    return html(request, "summaries.html", jobs=[j for j in jobs if j.kind == "summary"],
                documents=docs, error=None)  # fmt: skip


@post("/summaries", opt=MEMBER)
async def start_summaries(request: Request[Any, Any, Any]) -> Response[Any]:
    svc, who = services(request), viewer(request)
    form = await request.form()
    ids = list(dict.fromkeys(str(v) for v in form.getall("doc") if v)) if form else []
    method: Literal["extractive", "auto"] = "auto" if form.get("method") == "auto" else "extractive"
    try:
        if not ids:
            raise DossierError("Choose at least one document to summarise.")
        for doc_id in ids:  # another tenant's id is a 404, as in the API
            await in_thread(svc.kb.get_document, who.tenant, doc_id)
    except DossierError as exc:
        jobs = await in_thread(svc.catalog.list_jobs, who.tenant)
        docs = await in_thread(_ready, svc, who.tenant)
        return html(request, "summaries.html", status=422, documents=docs, error=str(exc),
                    jobs=[j for j in jobs if j.kind == "summary"])  # fmt: skip
    job = await in_thread(svc.catalog.create_job, who.tenant, "summary",
                          {"document_ids": ids, "method": method}, None)  # fmt: skip
    svc.wake.set()
    await in_thread(svc.catalog.audit, who.tenant, who.actor, "summaries",
                    {"document_ids": ids, "job_id": job.id, "via": "web"})  # fmt: skip
    return Redirect(f"/summaries/{job.id}", status_code=303)


async def _summary_job(request: Request[Any, Any, Any], job_id: str) -> Any:
    job = await in_thread(services(request).catalog.get_job, viewer(request).tenant, job_id)
    if job.kind != "summary":
        raise NotFoundError(f"summary job {job_id} not found")
    return job


def _cite_link(c: dict[str, Any]) -> str:
    return page_link(c["document_id"], c["page"], c.get("start"), c.get("end"))


@get("/summaries/{job_id:str}")
async def summary_page(request: Request[Any, Any, Any], job_id: str) -> Response[str]:
    job = await _summary_job(request, job_id)
    result = job.result or {}
    return html(request, "summary.html", job=job, result=result,
                summaries=list((result.get("documents") or {}).values()),
                digest=result.get("digest"), cite_link=_cite_link)  # fmt: skip


async def _finished(request: Request[Any, Any, Any], job_id: str) -> dict[str, Any]:
    """The result of a finished summary job (an error page while it runs)."""
    job = await _summary_job(request, job_id)
    result = job.result or {}
    if str(job.status) != "done" or not result.get("digest"):
        raise DossierError("These summaries have not finished yet.")
    return result


def _download(text: str, media_type: str, filename: str) -> Response[str]:
    return Response(text, media_type=f"{media_type}; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@get("/summaries/{job_id:str}/digest.md")
async def digest_markdown(request: Request[Any, Any, Any], job_id: str) -> Response[str]:
    result = await _finished(request, job_id)
    digest = result["digest"]
    text = render("summaries.md", digest=digest,
                  comparison=comparison_markdown(digest.get("comparison") or []),
                  summaries=list(result["documents"].values()))  # fmt: skip
    return _download(text, "text/markdown", "digest.md")


@get("/summaries/{job_id:str}/digest.csv")
async def digest_csv(request: Request[Any, Any, Any], job_id: str) -> Response[str]:
    """The reports' comparison table (company, form, period, figures) as CSV."""
    result = await _finished(request, job_id)
    return _download(
        comparison_csv(result["digest"].get("comparison") or []), "text/csv", "digest.csv"
    )


SEARCH_ROUTES = [search_page, summaries_page, start_summaries, summary_page, digest_markdown,
                 digest_csv]  # fmt: skip
