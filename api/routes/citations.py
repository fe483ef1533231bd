"""The citation graph over HTTP: a document's citations, who cites an
authority, the most-cited authorities, and the kind override. Same JSON as
``dossier citations|cited-by|authorities --json`` (shapes in README); every
query is scoped to the caller's tenant like the other ``/v1/`` routes."""

from __future__ import annotations

from typing import Any, Literal

import anyio.to_thread
from litestar import Request, get, put
from litestar.params import JSONBody
from pydantic import BaseModel, ConfigDict, Field

from api.errors import ApiError
from api.routes.common import caller, services

__all__ = ["CITATION_ROUTES"]


class KindBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["opinion", "brief", "contract", "report", "other"]


@get("/v1/documents/{document_id:str}/citations", summary="The authorities a document cites")
async def document_citations(request: Request[Any, Any, Any], document_id: str) -> dict[str, Any]:
    """``{"document_id", "document", "profile", "citations": [...]}``."""
    from tools.citator import citations_report

    svc, who = services(request), caller(request)
    return await anyio.to_thread.run_sync(citations_report, svc.kb, who.tenant, document_id)


@get("/v1/citations/cited-by", summary="Our documents citing an authority")
async def cited_by(request: Request[Any, Any, Any], authority: str) -> dict[str, Any]:
    """``?authority=288 Ark. 37`` (or a case name): the citing documents with
    sentence, page and treatment."""
    from tools.citator import cited_by_report

    if not authority.strip() or len(authority) > 500:
        raise ApiError(400, "authority must be a citation or case name of 1-500 characters")
    svc, who = services(request), caller(request)
    return await anyio.to_thread.run_sync(cited_by_report, svc.kb, who.tenant, authority)


@get("/v1/citations/authorities", summary="The most-cited authorities")
async def authorities(
    request: Request[Any, Any, Any], top: int = 20, court: str | None = None
) -> list[dict[str, Any]]:
    from tools.citator import authorities_report

    if not 1 <= top <= 1000:
        raise ApiError(400, "top must be between 1 and 1000")
    svc, who = services(request), caller(request)

    def run() -> list[dict[str, Any]]:
        return authorities_report(svc.kb, who.tenant, top=top, court=court)

    return await anyio.to_thread.run_sync(run)


@put("/v1/documents/{document_id:str}/kind", opt={"role": "member"}, summary="Set the kind")
async def set_kind(
    request: Request[Any, Any, Any], document_id: str, data: JSONBody[KindBody]
) -> dict[str, Any]:
    """Override the detected kind; the document's metadata and citations are re-read."""
    from ingest.precedent import reanalyse_document

    svc, who = services(request), caller(request)
    profile = await anyio.to_thread.run_sync(
        reanalyse_document, svc.kb, who.tenant, document_id, data.kind
    )
    await anyio.to_thread.run_sync(
        svc.catalog.audit, who.tenant, who.actor, "set_kind",
        {"document_id": document_id, "kind": data.kind},
    )  # fmt: skip
    return {"document_id": document_id, "kind": profile.kind}


class SearchFilters(BaseModel):
    """The profile filters ``/v1/search`` accepts beside its query."""

    kind: Literal["opinion", "brief", "contract", "report", "other"] | None = None
    court: str | None = Field(None, max_length=255)
    decided_from: str | None = Field(None, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
    decided_to: str | None = Field(None, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")


def search_scope(
    kb: Any, tenant: str, document_ids: list[str] | None, filters: SearchFilters
) -> list[str] | None:
    """The search's document ids narrowed by ``filters`` (None: no restriction)."""
    from ingest.opinions import normalise_court
    from knowledge_base.citation_graph import CitationGraph

    return CitationGraph(kb.catalog).scope(
        tenant,
        document_ids,
        kind=filters.kind,
        court=normalise_court(filters.court) if filters.court else None,
        decided_from=filters.decided_from,
        decided_to=filters.decided_to,
    )


CITATION_ROUTES = [document_citations, cited_by, authorities, set_kind]
