"""The composed answer to a figure question: sentences built from a
:class:`tools.figures.FigureAnswer`, never written by the model.

- A figure read from one cell: "The capital expenditure for fiscal 2018 was
  $1,577 million (Purchases of property, plant and equipment (PP&E),
  statement of cash flows) [1]."
- A ratio: "The fixed asset turnover for fiscal 2018 = Total revenues 2018 /
  average Property and equipment, net (2017, 2018) = 194,579 / ((10,292 +
  11,349) / 2) = 17.98 [1][2]." followed by one sentence per input row
  quoting its cells ("Property and equipment, net: 11,349 (2018), 10,292
  (2017) [2].").

Each claim is checked like any other (:func:`agent.facts.unsupported` against
its cited rows and their headings): every number is in a cited row, or is the
shown result of the arithmetic written in the sentence
(:func:`agent.facts.shown_results`); the result's surface is recorded in
``Claim.computed``. A sentence that fails its check is not shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agent.claims import Claim, Support
from agent.facts import unsupported
from tools.figures import FigureAnswer, FigureInput, format_number
from tools.figures_tool import ComputeFigureTool, input_items
from tools.retrieval import Evidence

__all__ = [
    "FIGURE_REASON",
    "figure_claims",
    "figure_lead",
    "figure_only",
    "figure_sentence",
]

#: The reason of a figure's lead claim.
FIGURE_REASON = "computed from the statements"

_STATEMENTS = {
    "income": "income statement",
    "balance": "balance sheet",
    "cash_flow": "statement of cash flows",
}


def _evidence_text(item: Evidence) -> str:
    return " ".join([*item.heading_path, item.quote])


def figure_sentence(answer: FigureAnswer, company: str | None = None) -> str:
    """The lead sentence stating the result (no markers)."""
    owner = f"{company}'s" if company else "The"
    year = answer.period.replace("FY", "fiscal ")
    single = answer.formula in {i.line for i in answer.inputs} and len(answer.inputs) == 1
    if single:
        inp = answer.inputs[0]
        place = f"{inp.label}, {_STATEMENTS.get(inp.statement, inp.statement)}"
        scaled = answer.units != f"USD {inp.units}"
        if scaled:  # shown as a conversion: "8,738 / 1,000 = 8.74"
            return (
                f"{owner} {answer.name} for {year} was {answer.display} ({place}: "
                f"{inp.cell.strip('()$ ')} / 1,000 = {format_number(answer.result, answer.decimals)})."
            )
        return f"{owner} {answer.name} for {year} was {answer.display} ({place})."
    return f"{owner} {answer.name} for {year} = {answer.words} = {answer.shown} = {answer.display}."


def _row_sentence(inputs: Sequence[FigureInput]) -> str:
    cells = ", ".join(f"{i.cell} ({i.year})" for i in inputs)
    return f"{inputs[0].label}: {cells}."


def figure_claims(
    answer: FigureAnswer, items: Sequence[tuple[FigureInput, Evidence]], company: str | None = None
) -> list[Claim]:
    """The checked claims of a figure answer; ``items`` pairs each input
    with the ledger passage of its row (:func:`tools.figures_tool.register_inputs`)."""
    passages: dict[int, Evidence] = {}
    rows: dict[int, list[FigureInput]] = {}
    for inp, item in items:
        passages[item.n] = item
        rows.setdefault(item.n, []).append(inp)
    if not passages:
        return []
    text = figure_sentence(answer, company)
    evidence = " ".join(_evidence_text(item) for item in passages.values())
    missing = unsupported(text, evidence)
    first, *rest = passages.values()
    lead = Claim(text, not missing, list(passages), FIGURE_REASON,
                 Support(first, first.quote, 1.0), [Support(i, i.quote, 1.0) for i in rest],
                 [answer.display])  # fmt: skip
    if missing:
        lead.reason = "not in the cited rows: " + ", ".join(f.surface for f in missing)
    claims = [lead]
    if len(answer.inputs) > 1:
        for n, inputs in rows.items():
            sentence = _row_sentence(inputs)
            gap = unsupported(sentence, _evidence_text(passages[n]))
            claims.append(Claim(sentence, not gap, [n], "quotes the statement",
                                Support(passages[n], passages[n].quote, 1.0)))  # fmt: skip
    return claims


def figure_lead(registry: Any) -> list[Claim]:
    """The composed claims of the figure ``compute_figure`` computed this turn
    (``registry``: the turn's :class:`tools.registry.ToolRegistry`); [] when
    it computed none or its result sentence fails the check."""
    tool = registry.get("compute_figure") if registry is not None else None
    if not isinstance(tool, ComputeFigureTool) or tool.last is None:
        return []
    figure, items = tool.last
    claims = figure_claims(figure, input_items(figure, items))
    return claims if claims and claims[0].supported else []


#: Words of a question that asks more than the figure (why, a judgement, a comparison).
_MORE = re.compile(
    r"\b(?:why|drove|drive[sn]?|driv(?:er|ing)|explain|improv\w*|compare[sd]?|healthy|"
    r"useful|relevant|intensive|should|does|did|is\s+\w+\s+a\b|has|have)\b",
    re.I,
)


def figure_only(question: str) -> bool:
    """True when the question asks for the figure and nothing more ("What is
    the FY2018 capital expenditure ...?", "FY2022 fixed asset turnover"): its
    composed answer is the whole answer."""
    return _MORE.search(question) is None
