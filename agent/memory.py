"""Conversation memory: LangGraph's SQLite checkpointer, one thread per session.

Memory lives at ``<data_dir>/agent/memory.sqlite``. A session's LangGraph
``thread_id`` is ``"<tenant>/<session id>"``, so two tenants using the same
session id never share a conversation. What is kept per turn is small and
JSON-shaped (:class:`Turn`): the question, the standalone retrieval query, the
answer, and where its citations point — never whole evidence passages.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypedDict

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from core.errors import ConfigurationError
from core.settings import Settings

__all__ = ["Turn", "memory_path", "open_memory", "thread_id"]

_SESSION = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class Turn(TypedDict):
    question: str
    query: str
    answer: str
    #: [{"n", "document_id", "document", "page"}] of the verified citations.
    sources: list[dict[str, object]]


def memory_path(settings: Settings) -> Path:
    return settings.data_dir / "agent" / "memory.sqlite"


def thread_id(tenant: str, session_id: str) -> str:
    """The checkpointer thread of a tenant's session. Raises on odd session ids."""
    if not _SESSION.match(session_id):
        raise ConfigurationError(
            f"invalid session id {session_id[:40]!r}: use 1-128 of A-Z a-z 0-9 . _ : -"
        )
    return f"{tenant}/{session_id}"


@asynccontextmanager
async def open_memory(path: Path) -> AsyncIterator[AsyncSqliteSaver]:
    """An async SQLite checkpointer at ``path`` (created with its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        yield saver
