"""Readable review reports (Markdown): risks first, then findings grouped by
risk with quotes and page numbers, then missing protections."""

from __future__ import annotations

from tools.clauses.review import ClauseFinding, ContractReview

__all__ = ["render_markdown"]

_MAX_QUOTE = 400


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_QUOTE else flat[: _MAX_QUOTE - 1] + "…"


def _finding_lines(f: ClauseFinding) -> list[str]:
    head = f"- **{f.category}**"
    if f.value is not None:
        head += f" — {f.value.text}"
    head += f" (confidence {f.confidence:.2f})"
    lines = [head]
    if f.reason:
        lines.append(f"  - {f.reason}" + (f" _(rule `{f.rule_id}`)_" if f.rule_id else ""))
    for e in f.evidence[:2]:
        lines.append(f"  - p. {e.page}: “{_quote(e.quote)}”")
    return lines


def render_markdown(review: ContractReview) -> str:
    """The review as Markdown, for people."""
    counts = review.risk_counts
    title = review.document_name or review.document_id or "document"
    out = [
        f"# Contract review: {title}",
        "",
        f"Playbook: {review.playbook}",
        "",
        "## Summary",
        "",
        f"- High risks: {counts['high']}",
        f"- Medium risks: {counts['medium']}",
        f"- Low risks: {counts['low']}",
    ]
    for f in review.issues + review.missing_protections:
        out.append(f"  - [{f.risk}] {f.category}: {f.reason}")
    for risk in ("high", "medium", "low"):
        group = [f for f in review.issues if f.risk == risk]
        if group:
            out += ["", f"## {risk.capitalize()} risk", ""]
            for f in group:
                out += _finding_lines(f)
    others = [f for f in review.findings if f.verdict == "present"]
    if others:
        out += ["", "## Other clauses found", ""]
        for f in sorted(others, key=lambda f: -f.confidence):
            out += _finding_lines(f)
    out += ["", "## Missing protections", ""]
    missing = review.missing_protections
    if missing:
        out += [f"- [{f.risk}] **{f.category}** — {f.reason}" for f in missing]
    else:
        out.append("- None required by the playbook.")
    absent = [f.category for f in review.findings if f.verdict == "absent" and f.risk == "info"]
    if absent:
        out += ["", "## Not found", "", ", ".join(absent)]
    out += [
        "",
        "_Automated first-pass review: verify each finding against the document._",
    ]
    return "\n".join(out) + "\n"
