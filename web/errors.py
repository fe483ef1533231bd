"""Errors in the web app: sentences on a page, never stack traces.

A missing session sends the browser to the sign-in page (scripts get 401).
Another tenant's document is the same 404 page as a document that does not
exist. Requests made by the app's scripts (``Accept: application/json`` or
htmx) get ``{"error": sentence}`` or a small fragment instead of a page.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.exceptions import NotFoundException as LitestarNotFound
from litestar.response import Redirect

from core.errors import (
    DossierError,
    IngestError,
    KnowledgeBaseError,
    LLMUnavailableError,
    NotFoundError,
    PlaybookError,
)
from web.render import SECURITY_HEADERS, render
from web.session import SignInRequiredError

__all__ = ["classify", "web_exception_handlers"]

log = logging.getLogger(__name__)

NOT_FOUND = "This page does not exist, or it belongs to another workspace."


def classify(exc: BaseException) -> tuple[int, str]:
    """(status, sentence for people) of an exception."""
    status = getattr(exc, "status", None)
    detail = getattr(exc, "detail", None)
    if isinstance(status, int) and isinstance(detail, str) and not isinstance(exc, HTTPException):
        return status, _sentence(detail)  # the services' own errors (status + detail)
    if isinstance(exc, NotFoundError | LitestarNotFound):
        return 404, NOT_FOUND
    if isinstance(exc, NotAuthorizedException):
        return 401, _sentence(exc.detail)
    if isinstance(exc, PermissionDeniedException):
        return 403, _sentence(exc.detail)
    if isinstance(exc, ValidationException):
        return 400, "Some of the values sent were not valid; check the form and try again."
    if isinstance(exc, LLMUnavailableError):
        return 503, "The language model is not available right now; try again in a minute."
    if isinstance(exc, KnowledgeBaseError):
        return 503, "The document store is not available right now; try again in a minute."
    if isinstance(exc, IngestError | PlaybookError):
        return 422, _sentence(str(exc))
    if isinstance(exc, DossierError):
        return 400, _sentence(str(exc))
    if isinstance(exc, HTTPException):
        return exc.status_code, _sentence(exc.detail)
    return 500, "Something went wrong on the server. The error was logged; please try again."


def _sentence(text: str) -> str:
    text = " ".join(str(text).split()) or "Something went wrong."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    return "application/json" in request.headers.get("accept", "") or bool(
        request.headers.get("hx-request")
    )


def _handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status, message = classify(exc)
    if isinstance(exc, SignInRequiredError) and not _wants_json(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/sign-in?next={quote(target, safe='')}", status_code=303)
    if status >= 500:
        log.error("web.internal_error path=%s error=%s", request.url.path, type(exc).__name__,
                  exc_info=exc if status == 500 else None)  # fmt: skip
    if _wants_json(request):
        return Response({"error": message, "status": status}, status_code=status,
                        headers=SECURITY_HEADERS)  # fmt: skip
    viewer = request.scope.get("state", {}).get("viewer")
    body = render("error.html", viewer=viewer, status=status, message=message,
                  path=request.url.path)  # fmt: skip
    return Response(body, status_code=status, media_type="text/html; charset=utf-8",
                    headers=SECURITY_HEADERS)  # fmt: skip


#: For the web router's ``exception_handlers``.
web_exception_handlers: dict[type[Exception] | int, Any] = {Exception: _handle}
