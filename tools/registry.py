"""Builds the tool set for one request.

A request (one question of one tenant) gets fresh tool instances: the retrieval
tool is bound to the request's tenant, ``--doc`` scope and evidence ledger, so
nothing leaks between tenants or turns. Tools whose module is not installed are
left out (logged), never faked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from core.settings import Settings
from knowledge_base.service import KnowledgeBase
from tools.base import Tool, tool_schema
from tools.retrieval import EvidenceLedger, SearchDocumentsTool

__all__ = ["DEFAULT_TOOLS", "ToolRegistry", "build_tools"]

logger = logging.getLogger(__name__)

DEFAULT_TOOLS = (
    "search_documents",
    "extract_clauses",
    "run_python",
    "citator",
    "compute_figure",
)


class ToolRegistry:
    """Tools by name, plus the OpenAI specs the model sees."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"duplicate tool name {tool.name!r}")
            self._tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        return [tool_schema(tool) for tool in self._tools.values()]

    @property
    def retrieval(self) -> SearchDocumentsTool | None:
        tool = self._tools.get("search_documents")
        return tool if isinstance(tool, SearchDocumentsTool) else None

    def clause_categories(self) -> list[str]:
        """The clause categories ``extract_clauses`` knows (empty without it)."""
        if "extract_clauses" not in self._tools:
            return []
        from tools.clauses.taxonomy import category_names

        return list(category_names())

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)


def _clause_tool(kb: KnowledgeBase, tenant: str, settings: Settings) -> Tool | None:
    try:
        from tools.clauses import ExtractClausesTool
    except ImportError:
        logger.info("tools.unavailable tool=extract_clauses")
        return None
    tool: Tool = ExtractClausesTool(kb, tenant)
    return tool


def _python_tool() -> Tool | None:
    try:
        from tools.sandbox import RunPythonTool
    except ImportError:
        logger.info("tools.unavailable tool=run_python")
        return None
    return RunPythonTool()


def build_tools(
    kb: KnowledgeBase,
    tenant: str,
    settings: Settings,
    *,
    ledger: EvidenceLedger,
    document_ids: Sequence[str] | None = None,
    include: Sequence[str] = DEFAULT_TOOLS,
) -> ToolRegistry:
    """The tools for one request of ``tenant``, restricted to ``include``.

    ``search_documents`` uses ``settings.retrieval.mode`` and
    ``settings.agent.evidence_k`` and registers its hits in ``ledger``.
    """
    unknown = set(include) - set(DEFAULT_TOOLS)
    if unknown:
        raise ValueError(f"unknown tools: {sorted(unknown)}")
    tools: list[Tool] = []
    if "search_documents" in include:
        tools.append(
            SearchDocumentsTool(
                kb,
                tenant,
                k=settings.agent.evidence_k,
                mode=settings.retrieval.mode,
                ledger=ledger,
                document_ids=document_ids,
            )
        )
    if "extract_clauses" in include and (clause := _clause_tool(kb, tenant, settings)):
        tools.append(clause)
    if "run_python" in include and (python := _python_tool()):
        tools.append(python)
    if "citator" in include:
        from tools.citator import CitatorTool  # the citation graph (court opinions)

        tools.append(CitatorTool(kb, tenant, ledger))
    if "compute_figure" in include:
        from tools.figures_tool import ComputeFigureTool  # figures from report statements

        tools.append(ComputeFigureTool(kb, tenant, ledger, document_ids))
    return ToolRegistry(tools)
