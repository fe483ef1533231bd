"""Figures answered from a report's statements: cells located, formula shown,
arithmetic done in the sandbox.

:func:`parse_request` reads a question ("What is the FY2018 capital
expenditure amount (in USD millions) for 3M?", "FY2022 fixed asset turnover")
into a metric of :mod:`tools.finance_metrics`, the fiscal year(s), the units
and the rounding asked for. :func:`compute_figure` finds each input's cell in
the statement rows (:mod:`tools.figure_cells`: document, page, row, column,
page-exact offsets), runs the formula as a small program in the sandbox
(:func:`tools.sandbox.run_sandboxed`) and returns a :class:`FigureAnswer`
with the inputs, the formula in words and in numbers, the result and its
rounding. Nothing is computed from a cell that was not found: a missing line
is an error that names it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from core.errors import ToolError
from tools.figure_cells import StatementRow, match_row, short_label
from tools.figure_questions import FigureRequest, choose_metric, is_figure_question, parse_request
from tools.finance_metrics import LINES, formula_lines
from tools.sandbox import SandboxLimits, run_sandboxed

__all__ = [
    "FigureAnswer",
    "FigureInput",
    "FigureRequest",
    "choose_metric",
    "compute_figure",
    "format_number",
    "is_figure_question",
    "parse_request",
]

_SCALES = {"thousands": 1e3, "millions": 1e6, "billions": 1e9}
_SCALES = {"thousands": 1e3, "millions": 1e6, "billions": 1e9}
_SANDBOX = SandboxLimits(cpu_seconds=2, wall_seconds=10.0)


@dataclass
class FigureInput:
    line: str  # line key ("revenue")
    name: str  # "revenue"
    label: str  # the row label as printed
    statement: str
    year: int
    value: float  # as used (an outflow is its magnitude)
    cell: str  # the cell's text, as printed
    page: int
    start: int  # cell offsets in the page text
    end: int
    row_start: int  # the row (label to last cell) in the page text
    row_end: int
    title: str = ""  # the statement page's opening
    units: str = "millions"
    columns: list[int] = field(default_factory=list)

    def quote(self, page_text: str) -> str:
        return page_text[self.row_start : self.row_end]


@dataclass
class FigureAnswer:
    question: str
    metric: str  # key
    name: str  # "fixed asset turnover"
    period: str  # "FY2022" | "FY2019-FY2021 average"
    formula: str  # the table's formula
    words: str  # the formula with its inputs named
    shown: str  # the formula with its inputs' numbers
    program: str  # what ran in the sandbox
    value: float  # unrounded
    result: float  # rounded
    display: str  # "$1,577 million", "3.68", "10.3%"
    unit: str  # money | ratio | percent | days
    units: str  # "USD millions", "%", "days", ""
    decimals: int
    inputs: list[FigureInput]
    document_id: str = ""
    document: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def format_number(value: float, decimals: int) -> str:
    """Thousands separators and ``decimals`` places: 1577 -> "1,577"; -0.5 -> "-0.50"."""
    return f"{value:,.{decimals}f}"


# -- locating the inputs ---------------------------------------------------------


def _cell_input(
    line_key: str, row: StatementRow, start: int, year: int, occurrence: int = 0
) -> FigureInput | None:
    cell = row.cell(year, occurrence)
    if cell is None or cell.value is None:
        return None
    line = LINES[line_key]
    value = abs(cell.value) if line.outflow else cell.value
    label = row.label[start - row.label_start :] if start >= row.label_start else row.label
    label = short_label(label)
    return FigureInput(line_key, line.name, label, row.statement, year, value, cell.text,
                       row.page, cell.start, cell.end, start, row.end, row.title, row.units,
                       list(row.columns))  # fmt: skip


def _needed(formula: str, year: int) -> list[tuple[str, int]]:
    """(line, year) pairs a formula reads for fiscal ``year``."""
    tree = ast.parse(formula, mode="eval")
    wrapped = {id(n.args[0]) for n in ast.walk(tree) if isinstance(n, ast.Call) and n.args}
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            arg = node.args[0]
            assert isinstance(arg, ast.Name)
            before = (arg.id, year - 1)
            out += [before] if node.func.id == "prev" else [before, (arg.id, year)]
        elif isinstance(node, ast.Name) and node.id in LINES and id(node) not in wrapped:
            out.append((node.id, year))
    return list(dict.fromkeys(out))


def locate_inputs(
    formula: str, years: list[int], rows: list[StatementRow], occurrence: int = 0
) -> tuple[dict[tuple[str, int], FigureInput], list[str]]:
    """The cells a formula needs for each of ``years``, and what is missing."""
    found: dict[tuple[str, int], FigureInput] = {}
    missing: list[str] = []
    matched: dict[str, tuple[StatementRow, int] | None] = {}
    for key in formula_lines(formula):
        line = LINES[key]
        matched[key] = match_row([r for r in rows if r.statement == line.statement], line.labels)
    for year in years:
        for key, y in _needed(formula, year):
            hit = matched[key]
            got = _cell_input(key, hit[0], hit[1], y, occurrence) if hit else None
            if got is None:
                missing.append(f"{LINES[key].name} {y}")
                continue
            if key == "income_tax":
                got.value = _tax_expense(got.value, rows, y, occurrence)
            found[(key, y)] = got
    return found, list(dict.fromkeys(missing))


def _tax_expense(printed: float, rows: list[StatementRow], year: int, occurrence: int) -> float:
    """Income tax as an expense: statements that print it signed ("(411)"
    below a positive pretax income, net income = pretax + tax) are negated;
    the sign is read from the statement's own arithmetic."""
    income = [r for r in rows if r.statement == "income"]
    pre = match_row(income, LINES["pretax_income"].labels)
    net = match_row(income, (r"net (?:income|earnings|loss)(?: loss| income)?(?: including .*)?",))
    pre_cell = pre[0].cell(year, occurrence) if pre else None
    net_cell = net[0].cell(year, occurrence) if net else None
    if pre_cell is None or net_cell is None or pre_cell.value is None or net_cell.value is None:
        return abs(printed) if (pre_cell and (pre_cell.value or 0) > 0) else printed
    signed = abs(pre_cell.value + printed - net_cell.value)
    as_expense = abs(pre_cell.value - printed - net_cell.value)
    return -printed if signed < as_expense else printed


# -- the formula as code, words and numbers ------------------------------------------


class _Render(ast.NodeTransformer):
    """Rewrites a formula for one year: line names become variables (code),
    their names (words) or their values (numbers)."""

    def __init__(self, year: int, mode: str, inputs: dict[tuple[str, int], FigureInput]):
        self.year, self.mode, self.inputs = year, mode, inputs

    def leaf(self, key: str, year: int) -> ast.expr:
        if self.mode == "code":
            return ast.Name(f"{key}_{year}")
        if self.mode == "words":
            return ast.Name(f"{self._label(key, year)} {year}")
        value = self.inputs[(key, year)].value
        text = format_number(value, _places(self.inputs[(key, year)].cell))
        return ast.Name(f"({text})" if value < 0 else text)

    def _label(self, key: str, year: int) -> str:
        """The row label as printed (the line's name when the cell is unknown)."""
        found = self.inputs.get((key, year)) or self.inputs.get((key, year - 1))
        return found.label if found else LINES[key].name

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self.leaf(node.id, self.year)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        assert isinstance(node.func, ast.Name)
        assert isinstance(node.args[0], ast.Name)
        key, func = node.args[0].id, node.func.id
        before, now = self.leaf(key, self.year - 1), self.leaf(key, self.year)
        if func == "prev":
            return before
        if func == "chg":
            return ast.BinOp(now, ast.Sub(), before)
        if self.mode == "words":
            return ast.Name(f"average {self._label(key, self.year)} ({self.year - 1}, {self.year})")
        return ast.BinOp(ast.BinOp(before, ast.Add(), now), ast.Div(), ast.Constant(2))


def _places(cell: str) -> int:
    m = re.search(r"\.(\d+)", cell)
    return len(m.group(1)) if m else 0


def render(formula: str, year: int, mode: str, inputs: dict[tuple[str, int], FigureInput]) -> str:
    tree = _Render(year, mode, inputs).visit(ast.parse(formula, mode="eval"))
    return ast.unparse(tree).replace("*", "×")


def _code(formula: str, year: int) -> str:
    tree = _Render(year, "code", {}).visit(ast.parse(formula, mode="eval"))
    return ast.unparse(tree)


def _program(formula: str, years: list[int], inputs: dict[tuple[str, int], FigureInput]) -> str:
    lines = [
        f"{k}_{y} = {inp.value!r}  # page {inp.page}: {inp.cell}" for (k, y), inp in inputs.items()
    ]
    terms = [f"({_code(formula, y)})" for y in years]
    expr = terms[0] if len(terms) == 1 else f"({' + '.join(terms)}) / {len(terms)}"
    return "\n".join([*lines, f"result = {expr}", "print(repr(result))"])


def _combine(parts: list[str], years: list[int]) -> str:
    if len(parts) == 1:
        return parts[0]
    return f"({' + '.join(f'({p})' for p in parts)}) / {len(years)}"


# -- the answer ---------------------------------------------------------------------------


def _display(
    value: float, request: FigureRequest, inputs: list[FigureInput]
) -> tuple[float, str, str, int]:
    """(rounded, display, units, decimals) of a result."""
    metric = request.metric
    if metric.unit == "money":
        statement_units = inputs[0].units if inputs else "millions"
        want = request.scale or statement_units
        scaled = value * _SCALES.get(statement_units, 1e6) / _SCALES.get(want, 1e6)
        default = max([_places(i.cell) for i in inputs] + [0]) if want == statement_units else 2
        decimals = request.decimals if request.decimals is not None else default
        rounded = round(scaled, decimals)
        sign = "-" if rounded < 0 else ""
        unit = want[:-1]  # "million"
        return (
            rounded,
            f"{sign}${format_number(abs(rounded), decimals)} {unit}",
            f"USD {want}",
            decimals,
        )
    decimals = request.decimals if request.decimals is not None else metric.decimals
    rounded = round(value, decimals)
    text = format_number(rounded, decimals)
    if metric.unit == "percent":
        return rounded, f"{text}%", "%", decimals
    if metric.unit == "days":
        return rounded, f"{text} days", "days", decimals
    return rounded, text, "", decimals


def compute_figure(
    question: str, rows: list[StatementRow], request: FigureRequest | None = None
) -> FigureAnswer:
    """The figure ``question`` asks for, computed from ``rows`` (one report's
    statements). Raises ``ToolError`` naming what is missing."""
    request = request or parse_request(question)
    if request is None:
        raise ToolError(
            "compute_figure: the question names no metric I know (see README, 'Figures')"
        )
    if not rows:
        raise ToolError(
            "compute_figure: no financial statements (income statement, balance sheet, "
            "cash flows) found in this document"
        )
    metric = request.metric
    years = request.years or _latest(rows)
    if not years:
        raise ToolError("compute_figure: no fiscal year in the question and no statement found")
    request.years = years
    formula, inputs, missing = metric.formula, {}, []
    for candidate in (metric.formula, *metric.alternatives):
        inputs, missing = locate_inputs(candidate, years, rows, request.occurrence)
        if not missing:
            formula = candidate
            break
    if missing:
        raise ToolError(
            f"compute_figure: {metric.name} needs {', '.join(missing)}, "
            "which the report's statements do not show"
        )
    program = _program(formula, years, inputs)
    run = run_sandboxed(program, _SANDBOX)
    if run.exit_code != 0:
        reason = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "no output"
        raise ToolError(f"compute_figure: the computation failed ({reason})")
    value = float(run.stdout.strip())
    used = list(inputs.values())
    rounded, display, units, decimals = _display(value, request, used)
    period = _period(years, rows, used, request.occurrence)
    return FigureAnswer(
        question=question, metric=metric.key, name=metric.name, period=period, formula=formula,
        words=_combine([render(formula, y, "words", inputs) for y in years], years),
        shown=_combine([render(formula, y, "numbers", inputs) for y in years], years),
        program=program, value=value, result=rounded, display=display, unit=metric.unit,
        units=units, decimals=decimals, inputs=used,
    )  # fmt: skip


def _period(
    years: list[int], rows: list[StatementRow], inputs: list[FigureInput], occurrence: int
) -> str:
    """ "FY2022", "FY2019-FY2021 average"; in a quarterly report (its income
    statement repeats the years): "2023 (quarter)", "2023 (year to date)" (a
    10-Q's cash flows), "2023 (quarter end)" (its balance sheet)."""
    if len(years) > 1:
        return f"FY{years[0]}-FY{years[-1]} average"
    if not any(len(set(r.columns)) < len(r.columns) for r in rows if r.statement == "income"):
        return f"FY{years[0]}"
    used = {i.statement for i in inputs}
    if "income" in used:
        return f"{years[0]} ({'year to date' if occurrence else 'quarter'})"
    return f"{years[0]} ({'year to date' if 'cash_flow' in used else 'quarter end'})"


def _latest(rows: list[StatementRow]) -> list[int]:
    years = [max(r.columns) for r in rows if r.columns]
    return [max(years)] if years else []
