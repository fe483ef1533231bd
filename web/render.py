"""HTML responses: Jinja templates (autoescaped), security headers, SSE frames.

Every page is rendered on the server from ``web/templates`` with autoescaping
on, so document names and text are always escaped. Scripts and styles come
only from ``/static`` (vendored); the Content-Security-Policy forbids inline
scripts, inline styles and every other origin.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie

from core.report_digest import format_figure

__all__ = ["CSP", "SECURITY_HEADERS", "format_sse", "html", "render"]

TEMPLATES = Path(__file__).parent / "templates"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M")


_env.filters["when"] = _when
_env.filters["tojson_attr"] = lambda v: json.dumps(v, ensure_ascii=False)
_env.globals["money"] = format_figure
_env.globals["pct"] = lambda v: format_figure(v, pct=True)


def render(template: str, **context: Any) -> str:
    return _env.get_template(template).render(**context)


def html(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status: int = 200,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Response[str]:
    """A page (or an htmx fragment) with the security headers."""
    viewer = request.scope.get("state", {}).get("viewer")
    body = render(template, viewer=viewer, path=request.url.path, **context)
    return Response(body, status_code=status, media_type="text/html; charset=utf-8",
                    headers=SECURITY_HEADERS, cookies=cookies or [])  # fmt: skip


def format_sse(event: str, data: Any) -> bytes:
    """One SSE frame (the API's framing: ``event:`` + one JSON ``data:`` line)."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"event: {event}\ndata: {payload}\n\n".encode()
