"""Sign-in for the web app: an API key becomes a server-side session.

The key is pasted once, verified by the catalog (as the HTTP API does) and
never kept: the session holds the key's id, tenant, role and name, and a CSRF
token. The browser gets only a random session id in a cookie that is
``HttpOnly`` and ``SameSite=Strict``; a fresh id is issued at every sign-in
(no session fixation) and the server-side entry is deleted at sign-out.
Sessions live in the app's store ``web-sessions`` (Litestar's in-memory store
unless the deployment registers another) and expire after ``SESSION_TTL_S``.

Every request re-checks that the key has not been revoked since the sign-in.
State-changing requests (POST) must carry the session's CSRF token (form
field ``csrf`` or header ``X-CSRF-Token``) and, when the browser sends one, an
``Origin`` equal to the server's own.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.stores.base import Store

__all__ = [
    "COOKIE",
    "ROLE_RANK",
    "SESSION_TTL_S",
    "SignInRequiredError",
    "Viewer",
    "check_csrf",
    "end_session",
    "start_session",
    "viewer_guard",
    "viewer_of",
]

COOKIE = "dossier_session"
SESSION_TTL_S = 8 * 3600
STORE_NAME = "web-sessions"
ROLE_RANK = {"reader": 0, "member": 1, "admin": 2}


class SignInRequiredError(NotAuthorizedException):
    """No valid session: the page redirects to the sign-in form."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: the key's id, tenant, role and label, and the
    session's CSRF token. Same attributes as the API's principal, so the
    services audit web actions the same way (``actor`` = ``key:<id>``)."""

    key_id: str
    tenant: str
    role: str
    name: str | None
    csrf: str

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}" + (f" ({self.name})" if self.name else "")

    def can(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]


def _store(connection: ASGIConnection[Any, Any, Any, Any]) -> Store:
    return connection.app.stores.get(STORE_NAME)


def session_cookie(value: str, max_age: int) -> Cookie:
    return Cookie(key=COOKIE, value=value, path="/", httponly=True, samesite="strict",
                  max_age=max_age, secure=False)  # fmt: skip


async def start_session(connection: ASGIConnection[Any, Any, Any, Any], key: str) -> Cookie:
    """Verify ``key`` and open a session; the cookie to set. 401 if the key is
    unknown or revoked (the message says so, without echoing the key)."""
    catalog = connection.app.state.services.catalog
    record = await anyio.to_thread.run_sync(catalog.verify_api_key, key.strip())
    if record is None:
        raise NotAuthorizedException("That key was not accepted: it is unknown or revoked.")
    old = connection.cookies.get(COOKIE)
    if old:
        await _store(connection).delete(old)
    sid = secrets.token_urlsafe(32)
    viewer = Viewer(record.id, record.tenant, record.role, record.name, secrets.token_urlsafe(24))
    await _store(connection).set(sid, json.dumps(asdict(viewer)), expires_in=SESSION_TTL_S)
    return session_cookie(sid, SESSION_TTL_S)


async def end_session(connection: ASGIConnection[Any, Any, Any, Any]) -> Cookie:
    """Forget the session; the cookie that clears it in the browser."""
    sid = connection.cookies.get(COOKIE)
    if sid:
        await _store(connection).delete(sid)
    return session_cookie("", 0)


async def _load(connection: ASGIConnection[Any, Any, Any, Any]) -> Viewer | None:
    sid = connection.cookies.get(COOKIE)
    if not sid or len(sid) > 128:
        return None
    raw = await _store(connection).get(sid)
    if raw is None:
        return None
    viewer = Viewer(**json.loads(raw))
    catalog = connection.app.state.services.catalog
    keys = await anyio.to_thread.run_sync(catalog.list_api_keys, viewer.tenant)
    if not any(k.id == viewer.key_id and k.revoked_at is None for k in keys):
        await _store(connection).delete(sid)  # revoked since the sign-in
        return None
    return viewer


def _same_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    origin = connection.headers.get("origin")
    if not origin:  # not sent (older browsers, same-origin GET-like posts)
        return True
    host = connection.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def viewer_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The web app's guard: a session (or the sign-in page), the route's role
    (``opt={"web_role": ...}``) and, for POST, the origin and CSRF checks."""
    if connection.scope.get("method", "GET") not in ("GET", "HEAD") and not _same_origin(
        connection
    ):
        raise PermissionDeniedException("This form came from another site and was refused.")
    if handler.opt.get("web_public"):
        return
    viewer = await _load(connection)
    if viewer is None:
        raise SignInRequiredError("Please sign in with your API key.")
    connection.scope.setdefault("state", {})["viewer"] = viewer
    if connection.scope.get("method") == "POST":
        check_csrf(viewer, await _posted_token(connection))
    needed = handler.opt.get("web_role", "reader")
    if not viewer.can(needed):
        raise PermissionDeniedException(
            f"Your key has the {viewer.role} role; this needs the {needed} role."
        )


async def _posted_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The CSRF token of a POST: the header (scripts, htmx) or, for a plain
    form, its ``csrf`` field. Streamed uploads must use the header."""
    token = connection.headers.get("x-csrf-token")
    if token:
        return token
    ctype = connection.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await connection.form()  # type: ignore[attr-defined]  # a Request here
        value = form.get("csrf")
        return value if isinstance(value, str) else None
    return None


def viewer_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Viewer:
    viewer = connection.scope.get("state", {}).get("viewer")
    if not isinstance(viewer, Viewer):
        raise SignInRequiredError("Please sign in with your API key.")
    return viewer


def check_csrf(viewer: Viewer, token: str | None) -> None:
    """403 unless ``token`` is the session's CSRF token."""
    if not token or not hmac.compare_digest(token, viewer.csrf):
        raise PermissionDeniedException(
            "This form has expired or did not come from this page; reload the page and try again."
        )
