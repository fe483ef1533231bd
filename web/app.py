"""The web app as one Litestar router, mounted at ``/`` by ``api.app.create_app``.

Layout: ``web/`` is an interface beside ``api/`` (the HTTP API) and the CLI.
It never imports ``api``: its views reach the very service objects the API
uses through ``request.app.state.services`` (catalog, knowledge base,
uploads, answers, jobs), so the app is a client of the same services, not a
second implementation. ``api.app`` imports this module to mount it, which
keeps the import graph one-way (api -> web -> agent/tools/... -> core).

The API's bearer-key guard is skipped for these routes (``opt["public"]``);
:func:`web.session.viewer_guard` authenticates them by session cookie instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Response, Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from web.errors import web_exception_handlers
from web.render import SECURITY_HEADERS
from web.session import viewer_guard
from web.views.admin import ADMIN_ROUTES
from web.views.ask import ASK_ROUTES
from web.views.auth import AUTH_ROUTES
from web.views.documents import DOCUMENT_ROUTES
from web.views.reader import READER_ROUTES
from web.views.reviews import REVIEW_ROUTES
from web.views.search import SEARCH_ROUTES

__all__ = ["STATIC_DIR", "create_web_router"]

STATIC_DIR = Path(__file__).parent / "static"


async def _secure(response: Response[Any]) -> Response[Any]:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def create_web_router() -> Router:
    """Pages, fragments and ``/static`` (vendored scripts and styles)."""
    static = create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        opt={"public": True, "web_public": True},
        cache_control=CacheControlHeader(max_age=3600),
        include_in_schema=False,
    )
    return Router(
        path="/",
        route_handlers=[
            *AUTH_ROUTES,
            *DOCUMENT_ROUTES,
            *READER_ROUTES,
            *REVIEW_ROUTES,
            *ASK_ROUTES,
            *SEARCH_ROUTES,
            *ADMIN_ROUTES,
            static,
        ],
        guards=[viewer_guard],
        opt={"public": True},
        exception_handlers=web_exception_handlers,
        after_request=_secure,
        include_in_schema=False,
    )
