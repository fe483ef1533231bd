"""Admin (admin role only): API keys of the workspace (create — the key is
shown once — list, revoke) and the audit log with filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect

from core.errors import DossierError, NotFoundError
from web.render import html
from web.views.common import in_thread, services, viewer

__all__ = ["ADMIN_ROUTES"]

ADMIN = {"web_role": "admin"}
ROLES = ("reader", "member", "admin")
AUDIT_LIMIT = 500


async def _keys_page(request: Request[Any, Any, Any], *, new_key: str | None = None,
                     error: str | None = None, status: int = 200) -> Response[str]:  # fmt: skip
    svc, who = services(request), viewer(request)
    keys = await in_thread(svc.catalog.list_api_keys, who.tenant)
    return html(request, "admin_keys.html", status=status, keys=keys, roles=ROLES,
                new_key=new_key, error=error)  # fmt: skip


@get("/admin/keys", opt=ADMIN)
async def keys_page(request: Request[Any, Any, Any]) -> Response[str]:
    return await _keys_page(request)


@post("/admin/keys", opt=ADMIN)
async def create_key(request: Request[Any, Any, Any]) -> Response[str]:
    svc, who = services(request), viewer(request)
    form = await request.form()
    role, name = str(form.get("role") or ""), str(form.get("name") or "").strip()[:100] or None
    if role not in ROLES:
        return await _keys_page(request, error="Choose reader, member or admin.", status=422)
    key, record = await in_thread(svc.catalog.create_api_key, who.tenant, role, name)
    await in_thread(svc.catalog.audit, who.tenant, who.actor, "key_created",
                    {"key_id": record.id, "role": role, "via": "web"})  # fmt: skip
    return await _keys_page(request, new_key=key)


@post("/admin/keys/{key_id:str}/revoke", opt=ADMIN)
async def revoke_key(request: Request[Any, Any, Any], key_id: str) -> Redirect:
    svc, who = services(request), viewer(request)
    keys = await in_thread(svc.catalog.list_api_keys, who.tenant)
    if not any(k.id == key_id for k in keys):  # revoke is not tenant-scoped: check here
        raise NotFoundError(f"API key {key_id} not found")
    await in_thread(svc.catalog.revoke_api_key, key_id)
    await in_thread(svc.catalog.audit, who.tenant, who.actor, "key_revoked",
                    {"key_id": key_id, "via": "web"})  # fmt: skip
    return Redirect("/admin/keys", status_code=303)


def _since(value: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise DossierError(f"'{value}' is not a date; use a form like 2026-12-01") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@get("/admin/audit", opt=ADMIN)
async def audit_page(
    request: Request[Any, Any, Any], action: str = "", actor: str = "", since: str = ""
) -> Response[str]:
    """The newest entries first, at most ``AUDIT_LIMIT``, filtered by action,
    actor (a part of it) and a start date."""
    svc, who = services(request), viewer(request)
    try:
        when = _since(since)
    except DossierError as exc:
        return html(request, "admin_audit.html", status=422, entries=[], actions=[],
                    action=action, actor=actor, since=since, error=str(exc))  # fmt: skip
    entries = await in_thread(lambda: svc.catalog.audit_entries(who.tenant, since=when,
                                                                limit=100_000))  # fmt: skip
    actions = sorted({e.action for e in entries})
    shown = [e for e in reversed(entries) if (not action or e.action == action)
             and (not actor or actor.lower() in e.actor.lower())][:AUDIT_LIMIT]  # fmt: skip
    return html(request, "admin_audit.html", entries=shown, actions=actions, action=action,
                actor=actor, since=since, error=None)  # fmt: skip


ADMIN_ROUTES = [keys_page, create_key, revoke_key, audit_page]
