"""Standard financial metrics as named formulas over statement lines.

One table (:data:`METRICS`) of metrics, each a formula over statement lines
(:data:`LINES`). A line names the statement it is read from and the row labels
that state it (normalised: lower case, punctuation dropped, note references and
dollar amounts removed, "net of ..." cut to "net"), in order of preference.

Formulas are Python expressions over line keys, with three period functions:

- ``x``: the line in the fiscal year asked about;
- ``prev(x)``: the line one fiscal year earlier (same filing's prior column);
- ``avg(x)``: ``(prev(x) + x) / 2``, the average of two year-ends (balance
  sheet lines in turnover and return ratios);
- ``chg(x)``: ``x - prev(x)``.

Cash outflows printed in parentheses (capital expenditure, dividends) are read
as positive amounts (``outflow=True``). Where two conventions exist the
table follows FinanceBench's stated definitions (e.g. DPO's denominator is
COGS plus the change in inventory); ``README.md`` lists every formula.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["LINES", "METRICS", "Line", "Metric", "Statement", "formula_lines", "metric_table"]

Statement = Literal["income", "balance", "cash_flow"]
Unit = Literal["money", "ratio", "percent", "days"]


@dataclass(frozen=True)
class Line:
    """A statement line: where it is printed and the labels that name it."""

    key: str
    name: str  # how an answer names it: "net sales", "net PP&E"
    statement: Statement
    labels: tuple[str, ...]  # regexes on the normalised row label, best first
    outflow: bool = False  # printed as a negative cash flow; read as an amount


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    aliases: tuple[str, ...]  # regexes on the lower-cased question
    formula: str
    unit: Unit
    decimals: int
    alternatives: tuple[str, ...] = ()  # used in order when a line of ``formula`` is missing


_NET = r"(?: net)?"
LINES: dict[str, Line] = {
    line.key: line
    for line in (
        Line("revenue", "revenue", "income", (
            r"total net sales", r"total net revenues?", r"total revenues?", r"net sales",
            r"net revenues?", r"total operating revenues?", r"operating revenues?",
            r"revenues?", r"sales", r"total revenues net of interest expense")),
        Line("cogs", "cost of sales", "income", (
            r"total cost of sales", r"cost of sales", r"cost of goods sold",
            r"total cost of revenues?", r"cost of revenues?", r"cost of products sold",
            r"cost of services and products sold", r"cost of products and services sold")),
        Line("gross_profit", "gross profit", "income", (r"gross profit", r"gross margin")),
        Line("operating_income", "operating income", "income", (
            r"operating income(?: loss)?", r"operating (?:loss )?income", r"operating profit",
            r"income from operations", r"earnings from operations",
            r"(?:loss )?income(?: loss)? from operations", r"total operating income",
            r"(?:operating )?loss from operations", r"operating loss")),
        Line("pretax_income", "income before income taxes", "income", (
            r"(?:income|earnings|loss)(?: loss| income)? (?:from continuing operations )?before income tax(?:es| provision)?.*",
            r"(?:income|earnings) before (?:provision for )?income taxes.*", r"pretax income",
            r"income before taxes")),
        Line("income_tax", "income tax expense", "income", (
            r"(?<!before )(?:provision|benefit) (?:for|from) income taxes",
            r"(?<!before )income tax(?:es)?(?: expense| provision)?(?: benefit)?",
            r"(?:provision )?benefit for income taxes", r"income tax (?:expense )?benefit")),
        Line("net_income", "net income", "income", (
            r"net (?:income|earnings|loss)(?: loss| income)? attributable to (?!non ?controlling|redeemable).*",
            r"net (?:income|earnings)(?: loss)?", r"net (?:loss )?(?:income|earnings)", r"net loss")),
        Line("sga", "selling, general and administrative expenses", "income", (
            r"selling general (?:and )?administrative(?: expenses?)?", r"total selling general and administrative expenses",
            r"selling general administrative and other expenses")),
        Line("interest_expense", "interest expense", "income", (
            r"(?<!capital )interest expense", r"interest and debt expense", r"interest net"),
            outflow=True),
        Line("d_and_a", "depreciation and amortization", "cash_flow", (
            r"depreciation (?:depletion )?and amortization", r"depreciation and amortization expense",
            r"depreciation")),
        Line("cfo", "cash from operations", "cash_flow", (
            r"net cash (?:provided by|from|provided by used in|provided by \(used in\)) operating activities",
            r"net cash provided by operating activities", r"cash provided by operations",
            r"net cash provided by used in operating activities", r"net cash from operating activities",
            r"net cash provided by operations", r"net cash (?:\w+ ){1,4}operating activities")),
        Line("capex", "capital expenditure", "cash_flow", (
            r"purchases of property plant and equipment(?: pp&e)?", r"capital expenditures?(?: including .*)?",
            r"payments to acquire property plant and equipment",
            r"purchases of land buildings and equipment", r"purchases of property and equipment",
            r"additions to property plant and equipment", r"payments for property plant and equipment",
            r"property plant and equipment additions", r"capital spending"), outflow=True),
        Line("dividends", "dividends paid", "cash_flow", (
            r"(?:cash )?dividends paid(?: to (?:shareholders|stockholders))?",
            r"dividends paid to .*", r"dividends"), outflow=True),
        Line("cash", "cash and cash equivalents", "balance", (r"cash and cash equivalents", r"cash")),
        Line("securities", "marketable securities", "balance", (
            r"marketable securities(?: current)?", r"short term investments", r"investments")),
        Line("receivables", "accounts receivable", "balance", (
            rf"(?:trade )?accounts receivable{_NET}", r"receivables" + _NET,
            r"accounts and notes receivable" + _NET)),
        Line("inventory", "inventories", "balance", (
            r"total inventories", r"inventories" + _NET, r"inventory" + _NET)),
        Line("current_assets", "total current assets", "balance", (r"total current assets",)),
        Line("net_ppe", "net property, plant and equipment", "balance", (
            r"property plant and equipment net", r"net property plant and equipment",
            r"property and equipment net", r"land buildings and equipment net",
            r"property plant and equipment", r"property and equipment", r"land buildings and equipment")),
        Line("total_assets", "total assets", "balance", (r"total assets",)),
        Line("payables", "accounts payable", "balance", (r"(?:trade )?accounts payable",)),
        Line("current_liabilities", "total current liabilities", "balance", (
            r"total current liabilities",)),
        Line("total_liabilities", "total liabilities", "balance", (r"total liabilities",)),
        Line("short_term_debt", "short-term debt", "balance", (
            r"short term borrowings and current portion of long term debt",
            r"current portion of long term debt and short term borrowings",
            r"debt maturing within one year", r"short term debt", r"short term borrowings")),
        Line("long_term_debt", "long-term debt", "balance", (
            r"(?<!of )(?<!and )long term debt(?: net)?", r"long term borrowings")),
        Line("equity", "total equity", "balance", (
            r"total (?:shareholders|stockholders|shareowners) equity",
            r"total .{1,40} (?:shareholders|stockholders|shareowners) equity", r"total equity")),
    )
}  # fmt: skip

METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("capex", "capital expenditure", (r"capital expenditures?", r"\bcapex\b(?!\s*/)"),
               "capex", "money", 0),
        Metric("net_ppe", "net property, plant and equipment", (r"\bnet pp&?n?e\b", r"\bppne\b", r"net property,? plant,? and equipment",
                                        r"property,? plant,? and equipment,? net", r"net fixed assets"),
               "net_ppe", "money", 0),
        Metric("revenue", "revenue", (r"\b(?:total )?revenues?\b", r"\bnet sales\b"), "revenue", "money", 0),
        Metric("net_income", "net income", (r"\bnet (?:income|earnings)\b",), "net_income", "money", 0),
        Metric("operating_income", "operating income", (r"\boperating (?:income|profit)\b(?! ?%| margin)",),
               "operating_income", "money", 0),
        Metric("total_assets", "total assets", (r"\btotal assets\b",), "total_assets", "money", 0),
        Metric("cfo", "cash from operations", (r"cash (?:flow )?from operations", r"operating cash flow"),
               "cfo", "money", 0),
        Metric("dividends", "dividends paid", (r"\bdividends paid\b",), "dividends", "money", 0),
        Metric("inventory", "inventories", (r"\binventor(?:y|ies)\b",), "inventory", "money", 0),
        Metric("gross_margin", "gross margin", (r"gross (?:profit )?margin",),
               "100 * gross_profit / revenue", "percent", 1, ("100 * (revenue - cogs) / revenue",)),
        Metric("operating_margin", "operating margin", (r"operating (?:income )?(?:%|percent)? ?margin",
                                                        r"operating income % margin", r"operating profit margin"),
               "100 * operating_income / revenue", "percent", 1),
        Metric("net_margin", "net margin", (r"net (?:profit |income )?margin", r"profit margin"),
               "100 * net_income / revenue", "percent", 1),
        Metric("ebitda", "EBITDA", (r"\bebitda\b(?! margin)",), "operating_income + d_and_a", "money", 0),
        Metric("ebitda_margin", "EBITDA margin", (r"ebitda (?:%|percent)? ?margin",),
               "100 * (operating_income + d_and_a) / revenue", "percent", 1),
        Metric("fixed_asset_turnover", "fixed asset turnover", (r"fixed asset turnover",),
               "revenue / avg(net_ppe)", "ratio", 2),
        Metric("asset_turnover", "total asset turnover", (r"(?:total )?asset turnover",),
               "revenue / avg(total_assets)", "ratio", 2),
        Metric("inventory_turnover", "inventory turnover", (r"inventory turnover",),
               "cogs / avg(inventory)", "ratio", 2),
        Metric("receivables_turnover", "receivables turnover", (r"receivables? turnover",),
               "revenue / avg(receivables)", "ratio", 2),
        Metric("ccc", "cash conversion cycle", (r"cash conversion cycle", r"\bccc\b"),
               "365 * avg(inventory) / cogs + 365 * avg(receivables) / revenue"
               " - 365 * avg(payables) / (cogs + chg(inventory))", "days", 2),
        Metric("dpo", "days payable outstanding", (r"days payables? outstanding", r"\bdpo\b"),
               "365 * avg(payables) / (cogs + chg(inventory))", "days", 2),
        Metric("dso", "days sales outstanding", (r"days sales outstanding", r"\bdso\b"),
               "365 * avg(receivables) / revenue", "days", 2),
        Metric("dio", "days inventory outstanding", (r"days inventory outstanding", r"\bdio\b"),
               "365 * avg(inventory) / cogs", "days", 2),
        Metric("capex_to_revenue", "capex to revenue", (r"capex ?/ ?revenue", r"capital expenditures? to revenue",
                                                        r"capex to revenue"),
               "100 * capex / revenue", "percent", 1),
        Metric("capex_to_depreciation", "capex to depreciation", (r"capex ?(?:/|to) ?depreciation",),
               "capex / d_and_a", "ratio", 2),
        Metric("fcf", "free cash flow", (r"free cash flow", r"\bfcf\b"), "cfo - capex", "money", 0),
        Metric("current_ratio", "current ratio", (r"current ratio", r"working capital ratio"),
               "current_assets / current_liabilities", "ratio", 2),
        Metric("quick_ratio", "quick ratio", (r"quick ratio", r"acid[- ]test"),
               "(cash + securities + receivables) / current_liabilities", "ratio", 2,
               ("(cash + receivables) / current_liabilities",)),
        Metric("working_capital", "working capital", (r"working capital(?! ratio)",),
               "current_assets - current_liabilities", "money", 0),
        Metric("debt_to_equity", "debt to equity", (r"debt[- ]to[- ]equity", r"debt ?/ ?equity"),
               "(short_term_debt + long_term_debt) / equity", "ratio", 2,
               ("long_term_debt / equity",)),
        Metric("debt_to_assets", "debt to assets", (r"debt[- ]to[- ]assets?", r"debt ratio"),
               "(short_term_debt + long_term_debt) / total_assets", "ratio", 2,
               ("long_term_debt / total_assets",)),
        Metric("liabilities_to_assets", "liabilities to assets", (r"liabilities[- ]to[- ]assets",),
               "total_liabilities / total_assets", "ratio", 2),
        Metric("roa", "return on assets", (r"return on (?:total )?assets", r"\broa\b"),
               "100 * net_income / avg(total_assets)", "percent", 1),
        Metric("roe", "return on equity", (r"return on (?:shareholders'? )?equity", r"\broe\b"),
               "100 * net_income / avg(equity)", "percent", 1),
        Metric("interest_coverage", "interest coverage", (r"interest coverage", r"times interest earned"),
               "operating_income / interest_expense", "ratio", 2),
        Metric("payout_ratio", "dividend payout ratio", (r"(?:dividend )?payout ratio",),
               "dividends / net_income", "ratio", 2),
        Metric("retention_ratio", "retention ratio", (r"retention ratio", r"plowback ratio"),
               "(net_income - dividends) / net_income", "ratio", 2),
        Metric("effective_tax_rate", "effective tax rate", (r"effective (?:income )?tax rate",),
               "100 * income_tax / pretax_income", "percent", 1),
        Metric("fixed_assets_to_total_assets", "fixed assets to total assets",
               (r"fixed assets? ?(?:/|to) ?total assets",), "100 * net_ppe / total_assets", "percent", 1),
        Metric("capital_intensity", "capital intensity", (r"capital intensity",),
               "total_assets / revenue", "ratio", 2),
        Metric("revenue_growth", "revenue growth", (r"(?:revenue|sales) growth", r"yoy (?:revenue|sales)",
                                                    r"(?:revenue|sales) change"),
               "100 * (revenue / prev(revenue) - 1)", "percent", 1),
        Metric("net_income_growth", "net income growth", (r"net income growth",),
               "100 * (net_income / prev(net_income) - 1)", "percent", 1),
        Metric("cogs_margin", "COGS margin", (r"(?:cogs|cost of (?:goods sold|sales)) (?:%|percent)? ?margin",
                                              r"cogs as a % of revenue"),
               "100 * cogs / revenue", "percent", 1),
        Metric("sga_to_revenue", "SG&A to revenue", (r"sg&a (?:%|percent|as a % of|to) ?(?:of )?revenue",
                                                     r"sg&a (?:%|percent)? ?margin"),
               "100 * sga / revenue", "percent", 1),
        Metric("total_debt", "total debt", (r"\btotal debt\b(?! to| ?/)",),
               "short_term_debt + long_term_debt", "money", 0, ("long_term_debt",)),
        Metric("operating_cash_flow_ratio", "operating cash flow ratio", (r"operating cash flow ratio",),
               "cfo / current_liabilities", "ratio", 2),
        Metric("cogs", "cost of goods sold", (r"\bcogs\b", r"cost of (?:goods sold|sales|revenues?)"),
               "cogs", "money", 0),
        Metric("d_and_a", "depreciation and amortization", (r"\bd&a\b", r"depreciation and amortization"),
               "d_and_a", "money", 0),
        Metric("receivables", "accounts receivable", (r"accounts receivable", r"\bnet ar\b", r"receivables"),
               "receivables", "money", 0),
        Metric("payables", "accounts payable", (r"accounts payable",), "payables", "money", 0),
    )
}  # fmt: skip
#: Every other statement line can be asked for by its name ("total current liabilities").
for _line in LINES.values():
    if _line.key not in METRICS:
        METRICS[_line.key] = Metric(_line.key, _line.name, (rf"\b{re.escape(_line.name)}\b",),
                                    _line.key, "money", 0)  # fmt: skip

_PERIOD_FUNCS = frozenset({"prev", "avg", "chg"})


def formula_lines(formula: str) -> list[str]:
    """The line keys a formula reads, in order of appearance."""
    names = [
        node.id
        for node in ast.walk(ast.parse(formula, mode="eval"))
        if isinstance(node, ast.Name) and node.id not in _PERIOD_FUNCS
    ]
    unknown = [n for n in names if n not in LINES]
    if unknown:
        raise ValueError(f"unknown statement line(s) in {formula!r}: {unknown}")
    return list(dict.fromkeys(names))


def _readable(label: str) -> str:
    """A label pattern for people: "(provision) for income tax(es)"."""
    text = re.sub(r"\(\?<?[!=][^)]*\)", "", label).replace(r"\(", "(").replace(r"\)", ")")
    text = text.replace("(?:", "(").replace(".*", "…").replace("|", "/")
    return re.sub(r"(\w)\?", r"\1", text).replace(")?", ")").strip()


def metric_table() -> str:
    """The metrics and their statement lines as Markdown tables (README)."""
    rows = ["| metric | formula | unit | default rounding |", "|---|---|---|---|"]
    for m in METRICS.values():
        formula = m.formula + "".join(f"; else `{a}`" for a in m.alternatives)
        rows.append(
            f"| {m.name} | `{m.formula}`{formula[len(m.formula) :]} | {m.unit} | {m.decimals} |"
        )
    rows += ["", "| line | statement | row labels (normalised, best first) |", "|---|---|---|"]
    for line in LINES.values():
        labels = "; ".join(_readable(label) for label in line.labels[:4])
        outflow = " (outflow: read as a positive amount)" if line.outflow else ""
        rows.append(f"| `{line.key}` | {line.statement}{outflow} | {labels} |")
    return "\n".join(rows)
