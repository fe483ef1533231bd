"""Helpers every route module uses: the app's services and the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request

from api.auth import Principal, principal_of

if TYPE_CHECKING:
    from api.app import AppServices

__all__ = ["caller", "services"]


def services(request: Request[Any, Any, Any]) -> AppServices:
    return request.app.state.services  # type: ignore[no-any-return]


def caller(request: Request[Any, Any, Any]) -> Principal:
    return principal_of(request)
