"""The batch digest's comparison table of reports: one row per report summary
(company, form, period, revenue, net income, diluted EPS and their changes),
rendered as Markdown or CSV. In ``core`` because both interfaces (the API's
digest download and the web app's) render it from a finished job's result."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

__all__ = [
    "COMPARISON_COLUMNS",
    "comparison_csv",
    "comparison_markdown",
    "comparison_rows",
    "format_figure",
]

COMPARISON_COLUMNS = (
    "company", "form", "period", "units", "revenue", "revenue_change_pct",
    "net_income", "net_income_change_pct", "eps_diluted", "eps_change_pct", "document",
)  # fmt: skip


def comparison_rows(summaries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per report summary (others are left out), in the given order."""
    rows = []
    for s in summaries:
        if s.get("kind") != "report":
            continue
        profile, figs = s.get("profile") or {}, {f["metric"]: f for f in s.get("figures", [])}
        row: dict[str, Any] = {
            "company": profile.get("issuer") or s["document"], "form": profile.get("form"),
            "period": profile.get("fiscal_period") or profile.get("period_end"),
            "units": (figs.get("revenue") or figs.get("net_income") or {}).get("units"),
            "document": s["document"],
        }  # fmt: skip
        for key, col in (("revenue", "revenue"), ("net_income", "net_income"),
                         ("eps_diluted", "eps_diluted")):  # fmt: skip
            fig = figs.get(key) or {}
            row[col] = fig.get("current")
            row[f"{'eps' if key == 'eps_diluted' else col}_change_pct"] = fig.get("change_pct")
        rows.append({c: row.get(c) for c in COMPARISON_COLUMNS})
    return rows


def format_figure(value: Any, pct: bool = False) -> str:
    """A figure as the table shows it: "—" when unknown, "+4.2%" for a change."""
    if value is None:
        return "—"
    if pct:
        return f"{value:+.1f}%"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def comparison_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The comparison table as a Markdown table ("" when there are no reports)."""
    if not rows:
        return ""
    head = ["Company", "Form", "Period", "Revenue", "Change", "Net income", "Change",
            "Diluted EPS", "Change"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r["company"]), str(r["form"] or "—"), str(r["period"] or "—"),
                 format_figure(r["revenue"]), format_figure(r["revenue_change_pct"], True),
                 format_figure(r["net_income"]), format_figure(r["net_income_change_pct"], True),
                 format_figure(r["eps_diluted"]), format_figure(r["eps_change_pct"], True)]  # fmt: skip
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    units = {r["units"] for r in rows if r["units"]}
    note = f"\n\n*Revenue and net income in {', '.join(sorted(units))}.*" if units else ""
    return "\n".join(lines) + note


def comparison_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The comparison table as CSV (a header line only when there are no reports)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COMPARISON_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
