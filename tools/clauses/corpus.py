"""CUAD-format labelled contracts: loading, chunking and chunk labels.

Shared by ``scripts/train_clauses.py`` and ``evaluation/clauses.py`` so the
model is trained and measured on the same units that a review sees at run time:
chunks made by the project chunker (``ingest.chunking.Chunker``).

Label format (one JSON object per line): ``{"file", "pdf", "category",
"quotes": [...], "spans": [[start, end], ...] | null, "answer": str?}``;
``quotes == []`` means the clause is absent from the contract.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.errors import DossierError
from core.settings import IngestSettings
from core.types import Chunk, Document, Page
from tools.clauses.taxonomy import canonical_category

__all__ = [
    "ContractLabels",
    "DocumentChunker",
    "chunk_labels",
    "load_contract",
    "load_labels",
    "make_chunker",
]


class DocumentChunker(Protocol):
    def chunk(self, document: Document, document_id: str, tenant: str) -> list[Chunk]: ...


@dataclass
class ContractLabels:
    """Gold labels of one contract: per category, its quotes, spans (may be
    None) and CUAD's normalised answer (``"New York"``, ``"5/8/14"``, ``"Yes"``)."""

    file: str
    pdf: str | None
    quotes: dict[str, list[str]] = field(default_factory=dict)
    spans: dict[str, list[tuple[int, int]] | None] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)

    def present(self, category: str) -> bool:
        return bool(self.quotes.get(category))


def load_labels(path: Path) -> dict[str, ContractLabels]:
    """Labels by txt file name. Raises ``DossierError`` naming the file and line."""
    contracts: dict[str, ContractLabels] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DossierError(f"{path}: cannot read labels ({exc.strerror})") from exc
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row: dict[str, Any] = json.loads(line)
            category = canonical_category(row["category"])
            labels = contracts.setdefault(row["file"], ContractLabels(row["file"], row.get("pdf")))
            labels.quotes[category] = [q for q in row.get("quotes") or [] if q.strip()]
            spans = row.get("spans")
            labels.spans[category] = [(int(s), int(e)) for s, e in spans] if spans else None
            if isinstance(row.get("answer"), str) and row["answer"].strip():
                labels.answers[category] = row["answer"]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DossierError(f"{path}:{lineno}: bad label line ({exc})") from exc
    return contracts


def load_contract(path: Path, settings: IngestSettings | None = None) -> Document:
    """A txt contract as a one-page document (CUAD offsets index this text);
    PDFs and DOCX go through the project loaders with ``settings`` (default:
    the default ingest settings, as :func:`make_chunker` uses). Raises
    ``DossierError`` naming the file and the reason."""
    if path.suffix.lower() == ".txt":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DossierError(f"{path}: cannot read contract ({exc})") from exc
        return Document(name=path.name, mime="text/plain", pages=[Page(number=1, text=text)])
    from ingest.loaders import load_document

    return load_document(path, settings or IngestSettings())


_PARA = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.;:])\s+(?=[A-Z(\"“0-9])")


def make_chunker() -> DocumentChunker:
    """The project chunker with default ingest settings: training, evaluation
    and review must all see the same units."""
    from ingest.chunking import Chunker
    from knowledge_base.tokens import TokenCounter

    settings = IngestSettings()
    return Chunker(TokenCounter(), settings.chunk_target_tokens, settings.chunk_max_tokens)


def chunk_labels(
    chunks: Sequence[Chunk], labels: ContractLabels, categories: Sequence[str]
) -> list[list[int]]:
    """Per chunk, the indexes of ``categories`` it is positive for.

    Positive = overlaps a gold span (txt offsets, one-page documents), or, when
    a category's spans are unknown (null) or the document has several pages,
    contains one of its quotes (whitespace-normalised).
    """
    one_page = all(c.page == 1 for c in chunks)
    positive: dict[int, set[int]] = defaultdict(set)
    squashed = [" ".join(c.body.split()) for c in chunks]
    for j, category in enumerate(categories):
        quotes = labels.quotes.get(category) or []
        if not quotes:
            continue
        spans = labels.spans.get(category)
        if spans and one_page:
            for i, c in enumerate(chunks):
                if any(s < c.end and c.start < e for s, e in spans):
                    positive[i].add(j)
        else:
            needles = [" ".join(q.split()) for q in quotes]
            for i, body in enumerate(squashed):
                if any(n and (n[:120] in body or body in n) for n in needles):
                    positive[i].add(j)
    return [sorted(positive[i]) for i in range(len(chunks))]
