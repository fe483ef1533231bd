"""What every view uses: the app's services, the signed-in viewer, threads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from litestar import Request

from web.session import Viewer, viewer_of

__all__ = ["in_thread", "services", "viewer"]

T = TypeVar("T")


def services(request: Request[Any, Any, Any]) -> Any:
    """The app's services (``api.app.AppServices``: catalog, kb, uploads,
    answers, jobs, wake), shared with the HTTP API."""
    return request.app.state.services


def viewer(request: Request[Any, Any, Any]) -> Viewer:
    return viewer_of(request)


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking catalog / index / PyMuPDF work off the event loop."""
    return await anyio.to_thread.run_sync(fn, *args)
