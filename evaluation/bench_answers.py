"""The "answers" section of ``make bench``: ``dossier eval answers``.

Slice (fits the 45-minute budget): the first :data:`COMPARE_QUESTIONS`
questions of ``answers.jsonl`` (the first 20 contracts, file order) answered
twice on the bench knowledge base — checked answers, and the draft composition
of the code before the claim check (the baseline: every answer is written by
the model) — then all 1,264 questions with checked answers only (the baseline
asks the CPU model every question: ~1 hour for all of them). Quick mode: 26
questions (2 contracts).
"""

from __future__ import annotations

from typing import Any

from evaluation.bench import BenchContext, Section, _fmt, _ratio, _run_json, _table

__all__ = ["COMPARE_QUESTIONS", "answers_section"]

#: Questions of the before/after comparison (20 contracts).
COMPARE_QUESTIONS = 260


def _rows(data: dict[str, Any], base: dict[str, Any] | None) -> list[list[str]]:
    def kind(report: dict[str, Any] | None, name: str) -> float | None:
        return ((report or {}).get("per_kind") or {}).get(name, {}).get("accuracy")

    def lower_is_better(a: float | None, b: float | None) -> str:
        return _ratio(b, a) if a and b else "—"

    rows = []
    for label, key, getter in (
        ("value accuracy", "value", kind),
        ("yes/no accuracy", "yes_no", kind),
    ):
        mine, theirs = getter(data, key), getter(base, key)
        rows.append([label, _fmt(mine), _fmt(theirs), _ratio(mine, theirs) if base else "—"])
    for label, key in (("accuracy (all scored)", "accuracy"),
                       ("citation precision", "citation_precision")):  # fmt: skip
        mine, theirs = data.get(key), (base or {}).get(key)
        rows.append([label, _fmt(mine), _fmt(theirs), _ratio(mine, theirs) if base else "—"])
    for label, key in (("unsupported-claim rate", "unsupported_rate"),
                       ("TTFT p50 s", "ttft_p50_s")):  # fmt: skip
        mine, theirs = data.get(key), (base or {}).get(key)
        rows.append([label, _fmt(mine), _fmt(theirs), lower_is_better(mine, theirs)])
    return rows


def _render(data: dict[str, Any]) -> list[str]:
    base = data.get("baseline")
    lines = _table(["metric", "checked", "baseline (draft)", "checked / baseline"],
                   _rows(data, base))  # fmt: skip
    lines.append(
        f"- {data.get('questions')} questions over {data.get('contracts')} contracts "
        f"(source {data.get('source')}); scored {data.get('scored')}, unscored golds "
        f"{data.get('unscored')}; errors {data.get('errors')}; LLM {data.get('llm')}"
    )
    if base:
        lines.append(
            "- baseline: the same agent with `agent.answers=draft` (the model writes the "
            "answer, citations attached afterwards: the composition before issue 12), same "
            "index, same run"
        )
    cats = data.get("per_category") or {}
    if cats:
        lines += ["", "<details><summary>per category (checked)</summary>", ""]
        lines += _table(
            ["category", "questions", "scored", "accuracy"],
            [[c, _fmt(v.get("n")), _fmt(v.get("scored")), _fmt(v.get("accuracy"))]
             for c, v in cats.items()],
        )  # fmt: skip
        lines += ["</details>", ""]
    return lines


def answers_section(ctx: BenchContext) -> Section:
    """Checked vs draft answers on the slice, then all questions checked."""
    section = Section("Answers: CUAD dev lawyer questions (dossier eval answers)")
    if not ctx.has_eval_command("answers"):
        section.body.append("Not yet available: `dossier eval answers` does not exist yet.")
        return section
    url = ctx.ensure_llm(section)
    if url is None:
        return section
    env = {"DOSSIER_LLM__BASE_URL": url}
    limit = "26" if ctx.quick else str(COMPARE_QUESTIONS)
    base = [*ctx.dossier, "eval", "answers", "--kb", str(ctx.kb), "--source", "pdf"]
    section.body.append(f"Before/after on the first {limit} questions:")
    section.body.append("")
    _run_json(ctx, section, [*base, "--limit", limit, "--compare", "--json"], _render, env=env)
    compared = section.data
    if not ctx.quick:
        section.body += ["", "All questions, checked answers only:", ""]
        _run_json(ctx, section, [*base, "--json"], _render, env=env)
        section.data = {"compare": compared, "all": section.data}
    return section
