"""Request and response bodies of the HTTP API (validated by Litestar; they
also make the OpenAPI schema at ``/schema``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.types import DocumentRecord, JobRecord

__all__ = [
    "AskRequest",
    "BatchSummaryRequest",
    "ChatCompletionRequest",
    "ChatMessage",
    "ReviewRequest",
    "SearchRequestBody",
    "document_json",
    "job_json",
]


class SearchRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(8, ge=1, le=200)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    document_ids: list[str] | None = Field(None, max_length=1000)
    #: Profile filters (api/routes/citations.py): document kind, court
    #: (courts-db id or name), decision dates (YYYY, YYYY-MM or YYYY-MM-DD).
    kind: Literal["opinion", "brief", "contract", "report", "other"] | None = None
    court: str | None = Field(None, max_length=255)
    decided_from: str | None = Field(None, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
    decided_to: str | None = Field(None, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=8000)
    session_id: str | None = Field(None, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    document_ids: list[str] | None = Field(None, max_length=1000)


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document_id: str = Field(min_length=1, max_length=64)
    #: A review playbook (same shape as the YAML file); None = the built-in one.
    playbook: dict[str, Any] | None = None
    #: Always run as a job (202), whatever the document's length.
    background: bool = False


class BatchSummaryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document_ids: list[str] = Field(min_length=1, max_length=500)
    method: Literal["auto", "extractive", "llm"] = "auto"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    #: A string, or OpenAI content parts (``[{"type": "text", "text": ...}]``).
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return ""


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat-completions request; unknown OpenAI options are accepted
    and ignored (temperature, top_p, ...)."""

    model_config = ConfigDict(extra="allow")
    model: str = "dossier"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = None
    #: Dossier extensions (``extra_body``): restrict to documents; explicit session.
    document_ids: list[str] | None = None
    session_id: str | None = Field(None, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")


def document_json(d: DocumentRecord) -> dict[str, Any]:
    """The stable JSON shape of a document (same fields as ``dossier documents --json``)."""
    return {
        "id": d.id,
        "name": d.name,
        "mime": d.mime,
        "pages": d.pages,
        "chunks": d.chunks,
        "status": str(d.status),
        "version": d.version,
        "sha256": d.sha256,
        "error": d.error,
        "created_at": d.created_at.isoformat() if d.created_at else None,
        "updated_at": d.updated_at.isoformat() if d.updated_at else None,
    }


def job_json(j: JobRecord) -> dict[str, Any]:
    """A job: ``status`` is queued | running | done | failed."""
    return {
        "id": j.id,
        "kind": j.kind,
        "status": str(j.status),
        "file_name": j.file_name,
        "document_id": j.document_id,
        "pages": j.pages,
        "chunks": j.chunks,
        "error": j.error,
        "result": j.result,
        "attempts": j.attempts,
        "created_at": j.created_at.isoformat() if j.created_at else None,
        "updated_at": j.updated_at.isoformat() if j.updated_at else None,
    }
