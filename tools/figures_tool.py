"""``compute_figure``: the agent tool that answers a figure or ratio question
from one report's statements (see :mod:`tools.figures`).

The report is the ``document_id`` argument, else the request's only ``--doc``
document, else the document whose name best matches the company and year the
question names, else the document of the turn's top passage. Each input row is
registered in the turn's evidence ledger, so the answer cites the rows it
computed from, and the tool's text shows the formula with those markers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import anyio.to_thread
from pydantic import BaseModel, Field

from core.errors import DossierError, ToolError
from knowledge_base.service import KnowledgeBase
from tools.base import ToolResult
from tools.figure_cells import StatementRow, report_rows, rows_from_tables
from tools.figures import FigureAnswer, FigureInput, compute_figure
from tools.retrieval import Evidence, EvidenceLedger

__all__ = ["ComputeFigureArgs", "ComputeFigureTool", "document_rows", "register_inputs"]

logger = logging.getLogger(__name__)


def document_rows(
    kb: KnowledgeBase, tenant: str, document_id: str
) -> tuple[list[StatementRow], str]:
    """The statement rows of a stored report and its name: read from its page
    text (the primary statements), plus the stored tables' rows of any
    statement the text reading did not find."""
    record = kb.get_document(tenant, document_id)
    texts = [p.text for p in kb.pages(tenant, document_id)]
    rows = report_rows(texts)
    found = {r.statement for r in rows}
    try:
        stored = kb.tables(tenant, document_id)
    except DossierError:
        stored = []
    extra = rows_from_tables(stored, {i + 1: t for i, t in enumerate(texts)})
    return rows + [r for r in extra if r.statement not in found], record.name


def register_inputs(
    answer: FigureAnswer, ledger: EvidenceLedger, page_text: dict[int, str]
) -> dict[int, Evidence]:
    """Each input row as a ledger passage (its heading: the statement's opening
    and its column years); returns the passage of each input page."""
    by_row: dict[int, Evidence] = {}
    for inp in answer.inputs:
        text = page_text.get(inp.page, "")
        quote = inp.quote(text) if text else inp.cell
        item = ledger.add_passage(
            chunk_id=f"figure:{answer.document_id}:{inp.page}:{inp.row_start}",
            document_id=answer.document_id, document=answer.document, page=inp.page,
            quote=quote, start=inp.row_start, end=inp.row_end, score=1.0,
        )  # fmt: skip
        item.heading_path = [inp.title, " ".join(str(y) for y in inp.columns)]
        by_row[id(inp)] = item
    return by_row


def input_items(
    answer: FigureAnswer, items: dict[int, Evidence]
) -> list[tuple[FigureInput, Evidence]]:
    return [(inp, items[id(inp)]) for inp in answer.inputs if id(inp) in items]


class ComputeFigureArgs(BaseModel):
    question: str = Field(description="The figure or ratio asked for, with its fiscal year, "
                          "e.g. 'FY2022 fixed asset turnover' or 'FY2018 capital expenditure'")  # fmt: skip
    document_id: str | None = Field(default=None, description="The report to read (optional)")


class ComputeFigureTool:
    """Locates a metric's inputs in a report's statements and computes it."""

    name = "compute_figure"
    description = (
        "Answer a question that needs a figure or a ratio from a financial report "
        "(revenue, capital expenditure, margins, turnover ratios, days payable, "
        "current/quick ratio, free cash flow, ROA, effective tax rate, ...): finds the "
        "statement cells, computes the formula exactly and returns the result with its "
        "inputs cited."
    )
    input_model: type[BaseModel] = ComputeFigureArgs

    def __init__(
        self, kb: KnowledgeBase, tenant: str, ledger: EvidenceLedger,
        document_ids: Sequence[str] | None = None,
    ) -> None:  # fmt: skip
        self.kb, self.tenant, self.ledger = kb, tenant, ledger
        self.document_ids = list(document_ids or [])
        #: The last figure computed this turn and its input rows' passages
        #: (the composed answer, :mod:`agent.figures_answer`, reads it).
        self.last: tuple[FigureAnswer, dict[int, Evidence]] | None = None

    def _document(self, question: str, given: str | None) -> str:
        if given:
            return given
        if len(self.document_ids) == 1:
            return self.document_ids[0]
        words = {w.lower() for w in re.findall(r"[A-Za-z0-9]{2,}", question)}
        years = set(re.findall(r"(?:19|20)\d\d", question))
        best, best_score = "", 0.0
        for record in self.kb.list_documents(self.tenant):
            if self.document_ids and record.id not in self.document_ids:
                continue
            name = record.name.lower()
            score = sum(2.0 for y in years if y in name)
            score += sum(
                1.0 for w in words if len(w) > 2 and w in re.sub(r"[_\W]", " ", name).split()
            )
            if score > best_score:
                best, best_score = record.id, score
        if not best and self.ledger.items:
            best = self.ledger.items[0].document_id
        if not best:
            raise ToolError(
                "compute_figure: name the report (document_id): none matches the question"
            )
        return best

    def answer(self, question: str, document_id: str | None) -> tuple[FigureAnswer, dict[int, str]]:
        doc = self._document(question, document_id)
        try:
            rows, name = document_rows(self.kb, self.tenant, doc)
        except DossierError as exc:  # an unknown or unreadable document
            raise ToolError(f"compute_figure: {exc}") from exc
        figure = compute_figure(question, rows)
        figure.document_id, figure.document = doc, name
        pages = {i.page: self.kb.page_text(self.tenant, doc, i.page) for i in figure.inputs}
        return figure, pages

    async def run(self, args: BaseModel) -> ToolResult:
        parsed = ComputeFigureArgs.model_validate(args, from_attributes=True)
        figure, pages = await anyio.to_thread.run_sync(
            self.answer, parsed.question, parsed.document_id
        )
        items = register_inputs(figure, self.ledger, pages)
        self.last = (figure, items)
        cited = "".join(sorted({f"[{e.n}]" for e in items.values()}))
        inputs = "; ".join(f"{i.label} {i.year}: {i.cell} (page {i.page}) [{items[id(i)].n}]"
                           for i in figure.inputs)  # fmt: skip
        content = (
            f"{figure.name} {figure.period} = {figure.words} = {figure.shown} = {figure.display} "
            f"{cited}\nInputs: {inputs}"
        )
        logger.info("tools.figure metric=%s inputs=%d", figure.metric, len(figure.inputs))
        data = figure.to_json() | {"input_passages": [items[id(i)].n for i in figure.inputs]}
        return ToolResult(content=content, data=data)
