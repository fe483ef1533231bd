"""API keys: ``Authorization: Bearer <key>`` → a :class:`Principal` (tenant, role).

One app-level guard authenticates every route except the public ones
(``/healthz``, ``/readyz`` and the OpenAPI schema under ``/schema``); it then
checks the route's minimum role, given as ``opt={"role": ...}`` on the handler
(default ``reader``). Roles are ordered ``reader < member < admin``:

- reader: search, ask, read documents, jobs, chat completions, metrics;
- member: also upload, delete, review, batch summaries;
- admin: also the audit log.

Keys are verified by the catalog (stored as a keyed hash; revoked keys fail).
The tenant always comes from the key, never from the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

__all__ = ["ROLE_RANK", "Principal", "auth_guard", "principal_of"]

ROLE_RANK = {"reader": 0, "member": 1, "admin": 2}
PUBLIC_PREFIXES = ("/schema",)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id (the audit actor), tenant and role."""

    key_id: str
    tenant: str
    role: str
    name: str | None = None

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}" + (f" ({self.name})" if self.name else "")


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def auth_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Authenticate (401) and authorise (403) one request; store the principal."""
    if handler.opt.get("public") or connection.url.path.startswith(PUBLIC_PREFIXES):
        return
    token = _bearer(connection)
    if token is None:
        raise NotAuthorizedException("missing API key: send 'Authorization: Bearer <key>'")
    catalog = connection.app.state.services.catalog
    record = await anyio.to_thread.run_sync(catalog.verify_api_key, token)
    if record is None:
        raise NotAuthorizedException("invalid or revoked API key")
    principal = Principal(record.id, record.tenant, record.role, record.name)
    connection.scope.setdefault("state", {})["principal"] = principal
    needed = handler.opt.get("role", "reader")
    if ROLE_RANK.get(principal.role, -1) < ROLE_RANK[needed]:
        raise PermissionDeniedException(
            f"this needs the {needed!r} role; the key has {principal.role!r}"
        )


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The authenticated caller (set by :func:`auth_guard`)."""
    principal = connection.scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):  # a public route asking for a caller
        raise NotAuthorizedException("missing API key")
    return principal
