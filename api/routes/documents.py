"""``/v1/documents``: upload (202 + one job per file), list, read, delete."""

from __future__ import annotations

import logging
import math
from typing import Any

import anyio.to_thread
from litestar import Request, Response, delete, get, post
from litestar.exceptions import InternalServerException
from litestar.response import File

from api.errors import ApiError
from api.routes.common import caller, services
from api.schemas import document_json, job_json

__all__ = ["DOCUMENT_ROUTES"]

log = logging.getLogger(__name__)

PNG_DPI = 110
#: A rendered page holds at most this many pixels (about 75 MB of RGB while it
#: is encoded): larger pages are rendered at a lower resolution, down to
#: PNG_MIN_DPI; a page that does not fit even then gets a 422.
PNG_MAX_PIXELS = 25_000_000
PNG_MIN_DPI = 36


@post("/v1/documents", opt={"role": "member"}, status_code=202, summary="Upload files")
async def upload_documents(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Multipart field ``file`` (or ``files``, repeated). Each accepted file is
    stored and queued before this answers 202 with ``jobs`` (one per file);
    follow them at ``/v1/jobs/{id}``. 413 too large, 415 not PDF/DOCX/TXT/MD.
    Each file is a new document, whatever its name, unless the text field
    ``replaces`` names the document (id) that the one uploaded file is the
    next version of (422 if there is none)."""
    svc, who = services(request), caller(request)
    try:
        parts = await svc.uploads.receive(request.headers.get("content-type"), request.stream())
    except InternalServerException as exc:  # Litestar's way to say the client went away
        if "disconnected" not in str(exc.detail):
            raise
        log.info("api.upload_disconnected tenant=%s", who.tenant)
        raise ApiError(400, "the client disconnected before the upload was complete",
                       slug="client-disconnected") from None  # fmt: skip
    saved = await anyio.to_thread.run_sync(svc.uploads.accept, who.tenant, parts)
    svc.wake.set()
    await anyio.to_thread.run_sync(
        svc.catalog.audit, who.tenant, who.actor, "upload",
        {"files": [{"name": s.name, "bytes": s.size, "job_id": s.job.id if s.job else None}
                   for s in saved]},
    )  # fmt: skip
    jobs = [job_json(s.job) | {"name": s.name, "bytes": s.size, "format": s.format}
            for s in saved if s.job is not None]  # fmt: skip
    headers = {"Location": f"/v1/jobs/{jobs[0]['id']}"} if len(jobs) == 1 else {}
    return Response({"jobs": jobs}, status_code=202, headers=headers)


@get("/v1/documents", summary="List documents")
async def list_documents(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    svc, who = services(request), caller(request)
    docs = await anyio.to_thread.run_sync(svc.kb.list_documents, who.tenant)
    return [document_json(d) for d in docs]


@get("/v1/documents/{document_id:str}", summary="One document")
async def get_document(request: Request[Any, Any, Any], document_id: str) -> dict[str, Any]:
    svc, who = services(request), caller(request)
    record = await anyio.to_thread.run_sync(svc.kb.get_document, who.tenant, document_id)
    report = await anyio.to_thread.run_sync(svc.kb.report_profile, who.tenant, document_id)
    return document_json(record) | {"report": report}


@get("/v1/documents/{document_id:str}/tables", summary="The tables of a document")
async def get_document_tables(
    request: Request[Any, Any, Any], document_id: str, page: int | None = None
) -> dict[str, Any]:
    """``{"document_id", "document", "report", "tables": [...]}``: every table
    (caption, statement, units, columns, rows with page-exact cells; README,
    "Tables"), only page ``page`` with ``?page=N`` (404 for a page the
    document does not have). ``report`` is the report profile or null."""
    svc, who = services(request), caller(request)
    record = await anyio.to_thread.run_sync(svc.kb.get_document, who.tenant, document_id)
    if page is not None and not 1 <= page <= record.pages:
        raise ApiError(404, f"{record.name} has no page {page} (it has {record.pages})",
                       slug="not-found")  # fmt: skip
    tables = await anyio.to_thread.run_sync(svc.kb.tables, who.tenant, document_id, page)
    report = await anyio.to_thread.run_sync(svc.kb.report_profile, who.tenant, document_id)
    return {"document_id": document_id, "document": record.name, "report": report,
            "tables": tables}  # fmt: skip


@get("/v1/documents/{document_id:str}/file", summary="The original file")
async def get_document_file(request: Request[Any, Any, Any], document_id: str) -> File:
    svc, who = services(request), caller(request)
    record = await anyio.to_thread.run_sync(svc.kb.get_document, who.tenant, document_id)
    path = await anyio.to_thread.run_sync(svc.catalog.file_path, who.tenant, document_id)
    return File(path=path, filename=record.name, media_type=record.mime,
                content_disposition_type="attachment")  # fmt: skip


@get("/v1/documents/{document_id:str}/pages/{page:int}", summary="Page text or PNG")
async def get_page(
    request: Request[Any, Any, Any], document_id: str, page: int, format: str = "json"
) -> Response[Any]:
    """Page ``page`` (1-based): ``{"document_id", "page", "text"}``, or with
    ``?format=png`` the rendered page (PDF documents only; 415 otherwise)."""
    svc, who = services(request), caller(request)
    if format not in ("json", "png"):
        raise ApiError(400, f"format must be json or png, not {format!r}")
    record = await anyio.to_thread.run_sync(svc.kb.get_document, who.tenant, document_id)
    if not 1 <= page <= record.pages:  # before any query: 10**20 overflows SQL integers
        raise ApiError(404, f"{record.name} has no page {page} (it has {record.pages})",
                       slug="not-found")  # fmt: skip
    if format == "json":
        text = await anyio.to_thread.run_sync(svc.kb.page_text, who.tenant, document_id, page)
        return Response({"document_id": document_id, "page": page, "text": text})
    if record.mime != "application/pdf":
        raise ApiError(415, f"{record.name}: only PDF pages can be rendered as PNG")
    path = await anyio.to_thread.run_sync(svc.catalog.file_path, who.tenant, document_id)
    png = await anyio.to_thread.run_sync(_render_png, path, page, record.name)
    return Response(png, media_type="image/png")


def _render_png(path: Any, page: int, name: str) -> bytes:
    """The page as PNG at PNG_DPI, or lower so it stays under PNG_MAX_PIXELS."""
    import pymupdf

    with pymupdf.open(path) as pdf:
        rect = pdf[page - 1].rect
        points = max(rect.width * rect.height, 1.0)
        dpi = min(PNG_DPI, int(72 * math.sqrt(PNG_MAX_PIXELS / points)))
        if dpi < PNG_MIN_DPI:
            raise ApiError(
                422,
                f"{name}: page {page} is {rect.width:.0f} x {rect.height:.0f} pt "
                f"({rect.width / 72:.0f} x {rect.height / 72:.0f} inches); a PNG of it at "
                f"{PNG_MIN_DPI} dpi would exceed {PNG_MAX_PIXELS // 1_000_000} megapixels. "
                "Download the original file instead.",
                slug="page-too-large",
            )
        return pdf[page - 1].get_pixmap(dpi=dpi).tobytes("png")  # type: ignore[no-any-return]


@delete("/v1/documents/{document_id:str}", opt={"role": "member"}, summary="Delete a document")
async def delete_document(request: Request[Any, Any, Any], document_id: str) -> None:
    """Removes its chunks, pages and stored original (204)."""
    svc, who = services(request), caller(request)
    await anyio.to_thread.run_sync(svc.kb.delete_document, who.tenant, document_id)
    await anyio.to_thread.run_sync(
        svc.catalog.audit, who.tenant, who.actor, "delete", {"document_id": document_id}
    )


DOCUMENT_ROUTES = [upload_documents, list_documents, get_document, get_document_file, get_page,
                   get_document_tables, delete_document]  # fmt: skip
