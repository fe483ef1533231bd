"""Sign-in with an API key, sign-out, and the front door."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.params import Body
from litestar.response import Redirect

from web.render import html
from web.session import end_session, start_session

__all__ = ["AUTH_ROUTES"]

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _safe_next(target: str | None) -> str:
    """Only a local path (never ``//host`` or a scheme): no open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/documents"


@get("/", opt={"web_public": True})
async def home() -> Redirect:
    return Redirect("/documents", status_code=303)


@get("/sign-in", opt={"web_public": True})
async def sign_in_form(request: Request[Any, Any, Any], next: str | None = None) -> Response[str]:
    return html(request, "sign_in.html", next=_safe_next(next), error=None)


@post("/sign-in", opt={"web_public": True})
async def sign_in(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    target = _safe_next(data.get("next"))
    try:
        cookie = await start_session(request, data.get("key", ""))
    except NotAuthorizedException as exc:
        return html(request, "sign_in.html", status=401, next=target, error=exc.detail)
    return Redirect(target, status_code=303, cookies=[cookie])


@post("/sign-out")
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    cookie = await end_session(request)
    return Redirect("/sign-in", status_code=303, cookies=[cookie])


AUTH_ROUTES = [home, sign_in_form, sign_in, sign_out]
