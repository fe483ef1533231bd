"""The document view: page images with the quoted words highlighted, the page's
text (selectable, copyable), page navigation and search within the document.

A highlight is named in the URL by the page it is on and the character range
in that page's stored text (``hp``, ``s``, ``e`` — what citations and review
findings carry), or by the quote itself (``q``). The rectangles are computed
here with PyMuPDF (:mod:`web.highlight`); the browser only lays them over the
image. Non-PDF documents (DOCX, text) show their text with the quote marked.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get

from web.highlight import Highlight, find_highlights
from web.render import html
from web.views.common import in_thread, services, viewer

__all__ = ["READER_ROUTES", "page_link"]

PNG_DPI = 110
#: A page image stays under this many pixels (the dpi is lowered); a page that
#: would need less than PNG_MIN_DPI is not rendered (a 14,400 pt page would
#: otherwise take gigabytes). Highlights are page fractions: any dpi fits.
PNG_MAX_PIXELS = 25_000_000
PNG_MIN_DPI = 36
SEARCH_K = 10


def page_link(document_id: str, page: int, start: int | None = None,
              end: int | None = None) -> str:  # fmt: skip
    """The document view at ``page`` with the range [start, end) highlighted."""
    url = f"/documents/{document_id}?page={page}"
    if start is not None and end is not None and end > start:
        url += f"&hp={page}&s={start}&e={end}"
    return url


@lru_cache(maxsize=64)
def _png(path: str, page: int, mtime: float) -> bytes:
    import pymupdf

    with pymupdf.open(path) as pdf:
        rect = pdf[page - 1].rect
        points = max(rect.width * rect.height, 1.0)
        dpi = min(PNG_DPI, int(72 * (PNG_MAX_PIXELS / points) ** 0.5))
        if dpi < PNG_MIN_DPI:
            return b""  # too large to show as an image: the page's text is shown beside it
        return pdf[page - 1].get_pixmap(dpi=dpi).tobytes("png")  # type: ignore[no-any-return]


def _render_png(path: Path, page: int) -> bytes:
    return _png(str(path), page, path.stat().st_mtime)


@get("/documents/{document_id:str}/page-image/{page:int}")
async def page_image(request: Request[Any, Any, Any], document_id: str, page: int) -> Response[Any]:
    """The rendered page (PDF only), cached by the browser: a document id's
    bytes never change (a new version is a new id)."""
    svc, tenant = services(request), viewer(request).tenant
    record = await in_thread(svc.kb.get_document, tenant, document_id)
    if record.mime != "application/pdf" or not 1 <= page <= record.pages:
        return Response(b"", status_code=404)
    path = await in_thread(svc.catalog.file_path, tenant, document_id)
    png = await in_thread(_render_png, path, page)
    if not png:
        return Response(b"", status_code=422)
    return Response(png, media_type="image/png",
                    headers={"Cache-Control": "private, max-age=86400"})  # fmt: skip


def _quote_of(text: str, start: int | None, end: int | None, quote: str | None) -> str | None:
    if start is not None and end is not None and 0 <= start < end <= len(text):
        return text[start:end]
    return quote or None


def _highlights(
    svc: Any, tenant: str, record: Any, hp: int, start: int | None, end: int | None,
    quote: str | None,
) -> tuple[list[Highlight], tuple[int, int] | None]:  # fmt: skip
    """Rectangles (PDF) and the quote's range in the text of page ``hp``."""
    if not 1 <= hp <= record.pages:
        return [], None
    text = svc.kb.page_text(tenant, record.id, hp)
    wanted = _quote_of(text, start, end, quote)
    if not wanted:
        return [], None
    at = text.find(wanted) if start is None else start
    marked = (at, at + len(wanted)) if at >= 0 else None
    if record.mime != "application/pdf":
        return [], marked
    hint = (start / max(len(text), 1)) if start is not None else None
    path = svc.catalog.file_path(tenant, record.id)
    return find_highlights(path, hp, wanted, hint=hint), marked


@get("/documents/{document_id:str}")
async def document_page(
    request: Request[Any, Any, Any],
    document_id: str,
    page: int = 1,
    hp: int | None = None,
    s: int | None = None,
    e: int | None = None,
    q: str | None = None,
    find: str | None = None,
) -> Response[str]:
    """Page ``page``; ``hp``/``s``/``e`` (or ``q``) a quote to highlight;
    ``find`` a search within this document."""
    svc, who = services(request), viewer(request)
    record = await in_thread(svc.kb.get_document, who.tenant, document_id)
    page = min(max(page, 1), max(record.pages, 1))
    text = await in_thread(svc.kb.page_text, who.tenant, document_id, page) if record.pages else ""
    rects: list[Highlight] = []
    marked = None
    if hp is not None:
        rects, marked = await in_thread(_highlights, svc, who.tenant, record, hp, s, e, q)
    hits = []
    if find and find.strip():
        hits = await in_thread(lambda: svc.kb.search(who.tenant, find.strip(), k=SEARCH_K,
                                                     document_ids=[document_id]))  # fmt: skip
    here = [r for r in rects if r.page == page]
    is_pdf = record.mime == "application/pdf"
    elsewhere = sorted({r.page for r in rects if r.page != page})
    keep = {"hp": hp, "s": s, "e": e, "q": q if s is None else None}
    highlight_query = urlencode({k: v for k, v in keep.items() if v is not None})
    return html(request, "document.html", doc=record, page=page, text=text, rects=here,
                marked=marked if hp == page else None, other_pages=elsewhere,
                highlight_query=highlight_query, hits=hits, find=find or "",
                quote_missing=hp == page and not (here or (marked and not is_pdf)),
                page_link=page_link)  # fmt: skip


READER_ROUTES = [page_image, document_page]
