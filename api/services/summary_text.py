"""Sentences a summary may quote, and the ones it must not.

A summary sentence is a verbatim slice of one page (``page_text[start:end]``).
It is never:

- **boilerplate** — cover page, index, signatures, certifications, exhibit
  index, safe-harbour text, "see accompanying notes"
  (:func:`ingest.reports.boilerplate_label` on the sentence and on the passage
  it comes from, plus a few sentence-level cues);
- **a table dump** — a flattened table row or several (pipes, runs of numbers,
  mostly numeric tokens);
- **a repeat** — the same words as, or an embedding cosine of at least
  :data:`REPEAT_COSINE` to, a sentence already chosen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ingest.reports import boilerplate_label

__all__ = [
    "REPEAT_COSINE",
    "drop_repeats",
    "is_boilerplate",
    "is_table_dump",
    "normalise",
    "split_sentences",
]

#: Cosine (MiniLM) from which two sentences count as one said twice.
REPEAT_COSINE = 0.9
MIN_LEN, MAX_LEN = 40, 600
_BULLET = re.compile(r"^(?:[•◦▪●·‣∙*]\s*|[-–—]\s+)")
_SENTENCE_END = re.compile(
    r"(?<=[.!?;:])\s+(?=[\"'“(\[A-Z0-9•])|\n\s*\n|\n(?=\s*(?:\(?[a-z0-9]{1,3}[.)]\s))"
)
#: Also a line break: in report pages a line is a paragraph or a table row.
_SENTENCE_OR_LINE_END = re.compile(_SENTENCE_END.pattern + r"|\n")
_NUMERIC = re.compile(r"^[($€£]*[-−–—]?[$]?\d[\d,.]*%?\)?[,;]?$|^[$%|—–-]$")
_EXTRA_BOILERPLATE = re.compile(
    r"accompanying\s+notes|integral\s+part\s+of\s+(?:these|this|the)\s+(?:consolidated\s+)?"
    r"(?:condensed\s+)?(?:financial\s+)?statements?|forward[- ]looking\s+statements?|"
    r"exact\s+name\s+of\s+registrant|indicate\s+by\s+check\s+mark|table\s+of\s+contents|"
    r"incorporated\s+(?:herein\s+)?by\s+reference|pursuant\s+to\s+the\s+requirements\s+of|"
    r"securities\s+exchange\s+act\s+of\s+1934|^\s*(?:part\s+[iv]+\b|item\s+\d{1,2}[a-c]?\b)|"
    r"\bnot\s+applicable\b|there\s+have\s+been\s+no\s+material\s+changes|"
    r"(?:refer|see)\s+(?:to\s+)?(?:part\s+[iv]+,?\s+)?item\s+\d|^risk\s+factors\b|"
    r"not\s+currently\s+known\s+to\s+us|currently\s+deem\s+immaterial|"
    r"not\s+aware\s+of\s+any\s+known\s+trends|\bform\s+10-[kq]\b",
    re.I,
)


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def is_table_dump(text: str) -> bool:
    """A flattened table: pipes, a run of four numbers, or mostly numbers."""
    if text.count("|") >= 2:
        return True
    tokens = text.split()
    if not tokens:
        return True
    numeric = [bool(_NUMERIC.match(t)) for t in tokens]
    run = best = 0
    for flag in numeric:
        run = run + 1 if flag else 0
        best = max(best, run)
    share = sum(numeric) / len(tokens)
    return best >= 4 or share > 0.35 or (sum(numeric) >= 10 and share > 0.2)


def is_boilerplate(text: str, passage: str | None = None) -> bool:
    """True for a sentence (or the passage it comes from) that is boilerplate."""
    if _EXTRA_BOILERPLATE.search(text) or boilerplate_label(text) is not None:
        return True
    return passage is not None and boilerplate_label(passage) is not None


def split_sentences(
    text: str,
    *,
    page: int,
    offset: int = 0,
    lines: bool = False,
    want: Callable[[str], bool] | None = None,
    **fields: Any,
) -> list[dict[str, Any]]:
    """Sentences of ``text`` (which starts at ``offset`` on ``page``) that a
    summary may quote: length within bounds, mostly letters, no boilerplate,
    no table dump. Each carries ``quote``, ``page``, ``start``, ``end`` and ``fields``.
    ``lines``: every line break ends a sentence too; ``want``: a cheap test a
    sentence must pass first."""
    out = []
    pos = 0
    splitter = _SENTENCE_OR_LINE_END if lines else _SENTENCE_END
    for match in [*splitter.finditer(text), None]:
        end = match.start() if match else len(text)
        raw = text[pos:end]
        body = _BULLET.sub("", raw.lstrip())  # a list item's bullet is not quoted
        quote, lead = body.strip(), len(raw) - len(body.lstrip())
        pos = match.end() if match else len(text)
        if not MIN_LEN <= len(quote) <= MAX_LEN:
            continue
        if sum(ch.isalpha() for ch in quote) <= len(quote) / 2:
            continue
        if want is not None and not want(quote):
            continue
        if is_table_dump(quote) or is_boilerplate(quote):
            continue
        start = offset + (end - len(raw)) + lead
        out.append({**fields, "page": page, "quote": quote, "start": start,
                    "end": start + len(quote)})  # fmt: skip
    return out


def drop_repeats(
    order: Sequence[int],
    sentences: Sequence[dict[str, Any]],
    vectors: np.ndarray,
    k: int,
    chosen: Sequence[np.ndarray] = (),
    prefix_words: int | None = None,
) -> list[int]:
    """The first ``k`` indices of ``order`` that repeat neither each other nor
    ``chosen`` (vectors of sentences picked before): same words, or cosine
    at least :data:`REPEAT_COSINE`; with ``prefix_words``, also the same first
    words (one template sentence per report: "Business segment operating
    income margins decreased year-on-year due to …")."""
    kept: list[int] = []
    seen: set[str] = set()
    kept_vecs = [np.asarray(v) for v in chosen]
    for i in order:
        key = normalise(sentences[i]["quote"])
        head = " ".join(key.split()[:prefix_words]) if prefix_words else None
        if key in seen or (head is not None and head in seen):
            continue
        vec = vectors[i]
        if kept_vecs and float(np.max(np.vstack(kept_vecs) @ vec)) >= REPEAT_COSINE:
            continue
        kept.append(i)
        seen.add(key)
        if head is not None:
            seen.add(head)
        kept_vecs.append(vec)
        if len(kept) >= k:
            break
    return kept
