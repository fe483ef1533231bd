"""Errors as RFC 9457 problem details (``application/problem+json``).

This is the one place that assigns HTTP status codes to Dossier errors:

=============================  ======
error                          status
=============================  ======
validation / bad input         400
missing, unknown, revoked key  401
role too low                   403
``NotFoundError``              404 (another tenant's object too: never 403)
conflict (not ready, ...)      409
``FileTooLargeError``          413
``UnsupportedFormatError``     415
other ``IngestError``,
``PlaybookError``,
``ToolError``                  422
``LLMUnavailableError``        503 + ``Retry-After``
``KnowledgeBaseError``         503
anything else                  500 (logged with its traceback, detail hidden)
=============================  ======

Every body has ``type``, ``title``, ``status``, ``detail`` and ``instance``
(the request path); ``type`` is ``https://dossier.dev/problems/<slug>``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.exceptions import NotFoundException as LitestarNotFound

from core.errors import (
    DossierError,
    FileTooLargeError,
    IngestError,
    KnowledgeBaseError,
    LLMUnavailableError,
    NotFoundError,
    PlaybookError,
    ToolError,
    UnsupportedFormatError,
)

__all__ = [
    "PROBLEM_JSON",
    "ApiError",
    "exception_handlers",
    "problem_response",
]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://dossier.dev/problems/"
#: Seconds a client should wait before retrying when the LLM is down.
LLM_RETRY_AFTER_S = 30


class ApiError(Exception):
    """An error a route raises on purpose, with its status and a clear detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or _slug(status)
        self.headers = headers or {}
        self.extra = extra or {}


def _slug(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "-")
    except ValueError:
        return "error"


def problem_response(
    request: Request[Any, Any, Any] | None,
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or _slug(status)),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path if request is not None else None,
        **(extra or {}),
    }
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or {})


def _classify(exc: BaseException) -> tuple[int, str, str | None, dict[str, str]]:
    """(status, detail, slug, headers) of an exception."""
    if isinstance(exc, ApiError):
        return exc.status, exc.detail, exc.slug, exc.headers
    if isinstance(exc, NotFoundError):
        return 404, str(exc), "not-found", {}
    if isinstance(exc, FileTooLargeError):
        return 413, str(exc), "file-too-large", {}
    if isinstance(exc, UnsupportedFormatError):
        return 415, str(exc), "unsupported-format", {}
    if isinstance(exc, IngestError | PlaybookError | ToolError):
        return 422, str(exc), "unprocessable", {}
    if isinstance(exc, LLMUnavailableError):
        return 503, str(exc), "llm-unavailable", {"Retry-After": str(LLM_RETRY_AFTER_S)}
    if isinstance(exc, KnowledgeBaseError):
        return 503, str(exc), "knowledge-base-unavailable", {"Retry-After": "5"}
    if isinstance(exc, DossierError):
        return 400, str(exc), "bad-request", {}
    if isinstance(exc, ValidationException):
        return 400, _validation_detail(exc), "validation-error", {}
    if isinstance(exc, NotAuthorizedException):
        return 401, exc.detail, "unauthorized", {"WWW-Authenticate": 'Bearer realm="dossier"'}
    if isinstance(exc, PermissionDeniedException):
        return 403, exc.detail, "forbidden", {}
    if isinstance(exc, LitestarNotFound):
        return 404, exc.detail or "not found", "not-found", {}
    if isinstance(exc, HTTPException):
        return exc.status_code, exc.detail, None, dict(exc.headers or {})
    return 500, "internal server error", "internal-error", {}


def _validation_detail(exc: ValidationException) -> str:
    extra = exc.extra
    if isinstance(extra, list) and extra:
        parts = []
        for item in extra[:5]:
            if isinstance(item, dict):
                key = item.get("key") or item.get("source") or ""
                parts.append(f"{key}: {item.get('message', '')}".strip(": "))
        if parts:
            return "invalid request: " + "; ".join(parts)
    return exc.detail or "invalid request"


def _handle(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    status, detail, slug, headers = _classify(exc)
    if status >= 500 and not isinstance(exc, LLMUnavailableError | KnowledgeBaseError | ApiError):
        log.error(
            "api.internal_error path=%s error=%s",
            request.url.path,
            type(exc).__name__,
            exc_info=exc,
        )
    elif status >= 500:
        log.warning("api.unavailable path=%s error=%s", request.url.path, type(exc).__name__)
    extra = exc.extra if isinstance(exc, ApiError) else None
    return problem_response(request, status, detail, slug=slug, headers=headers, extra=extra)


#: For ``Litestar(exception_handlers=...)``.
exception_handlers: dict[type[Exception] | int, Any] = {Exception: _handle}
