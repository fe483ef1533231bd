"""Markdown and CSV renderings of summaries and digests (footnoted citations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.report_digest import comparison_csv, comparison_markdown

__all__ = ["render_digest_csv", "render_digest_markdown", "render_summary_markdown"]


def _cite_line(n: int, c: dict[str, Any]) -> str:
    quote = " ".join(c["quote"].split())  # a table row's quote spans lines
    return f'[^{n}]: {c["document"]}, p. {c["page"]}: "{quote}"'


class _Notes:
    """Numbered footnotes of one Markdown document."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def cite(self, cites: Sequence[dict[str, Any]]) -> str:
        refs = []
        for c in cites:
            self.lines.append(_cite_line(len(self.lines) + 1, c))
            refs.append(f"[^{len(self.lines)}]")
        return "".join(refs)


def _span(pages: Sequence[int]) -> str:
    return f"p. {pages[0]}" if len(pages) == 1 else f"pp. {pages[0]}–{pages[-1]}"


def render_summary_markdown(summary: dict[str, Any]) -> str:
    """A document summary as Markdown with numbered footnotes."""
    if summary.get("kind") == "report":
        return _render_report(summary)
    lines = [f"# {summary['document']}", "",
             f"*{summary['pages']} pages · {summary['method']} summary*", ""]  # fmt: skip
    notes = _Notes()
    lines += [
        "## Summary",
        "",
        f"{summary['summary']} {notes.cite(summary['citations'])}".strip(),
        "",
    ]
    for section in summary["sections"]:
        lines += [f"## {section['title']} ({_span(section['pages'])})", "",
                  f"{section['summary']} {notes.cite(section['citations'])}".strip(), ""]  # fmt: skip
    return "\n".join(lines + notes.lines) + "\n"


def _render_report(summary: dict[str, Any]) -> str:
    """Results (one bullet per figure), then drivers and risks (one bullet per
    quoted sentence, or the checked model text with its quotes)."""
    profile = summary.get("profile") or {}
    about = [profile.get(k) for k in ("issuer", "form", "fiscal_period")]
    head = " · ".join([*(a for a in about if a), f"{summary['pages']} pages",
                       f"{summary['method']} summary"])  # fmt: skip
    lines, notes = [f"# {summary['document']}", "", f"*{head}*", ""], _Notes()
    if summary.get("figures"):
        lines += ["## Results", ""]
        lines += [f"- {f['sentence']} {notes.cite(f['citations'])}" for f in summary["figures"]]
        lines.append("")
    if summary.get("segments"):
        lines += ["### Segments", ""]
        lines += [f"- {f['sentence']} {notes.cite(f['citations'])}" for f in summary["segments"]]
        lines.append("")
    for section in summary["sections"]:
        if section["title"] == "Results":
            continue
        lines += [f"## {section['title']} ({_span(section['pages'])})", ""]
        if section["method"] == "llm":
            lines.append(f"{section['summary']} {notes.cite(section['citations'])}")
        else:
            lines += [f"- {c['quote']} {notes.cite([c])}" for c in section["citations"]]
        lines.append("")
    return "\n".join(lines + notes.lines) + "\n"


def render_digest_markdown(digest: dict[str, Any]) -> str:
    """The digest: the reports' comparison table, each document's lead, the
    sentences most central across the documents."""
    lines, notes = ["# Digest", ""], _Notes()
    table = comparison_markdown(digest.get("comparison") or [])
    if table:
        lines += ["## Comparison", "", table, "", "## Documents", ""]
    for d in digest["documents"]:
        lead = d.get("lead")
        ref = f" {notes.cite([lead] if lead else d.get('citations') or [])}".rstrip()
        lines.append(f"- **{d['document']}**: {(lead or {}).get('quote', d['summary'])}{ref}")
    if digest["overview"]:
        lines += ["", "## Across the documents", ""]
        lines += [f"- {c['quote']} {notes.cite([c])}" for c in digest["overview"]]
    return "\n".join([*lines, "", *notes.lines]) + "\n"


def render_digest_csv(digest: dict[str, Any]) -> str:
    """The reports' comparison table as CSV (a header line only when there are none)."""
    return comparison_csv(digest.get("comparison") or [])
