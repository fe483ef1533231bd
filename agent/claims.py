"""The claim check: every sentence of an answer against the evidence it cites.

A sentence is *supported* when one evidence passage states every fact of it
(:mod:`agent.facts`: numbers, dates, amounts, durations, jurisdictions, names)
within a window of at most three consecutive sentences, and the sentence is
semantically close to that window (cosine of the embedder's vectors). The
window becomes the citation's quote, so what a reader sees under a sentence
is the text that supports it.

A sentence citing ``[n]`` is checked against passage ``n`` first; when another
passage of the turn supports it instead, the marker is corrected. A sentence
that repeats an earlier one is dropped. A sentence with no factual content
that only says what the documents do not contain is kept as is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from agent.citations import SENTENCE_END, cited_numbers, term_overlap, terms_of
from agent.facts import facts, normalise_text, unsupported
from knowledge_base.protocols import Embedder
from tools.retrieval import Evidence

__all__ = [
    "MIN_SIMILARITY",
    "Claim",
    "ClaimChecker",
    "Support",
    "strip_markers",
    "strip_markup",
]

#: Cosine (MiniLM) below which a sentence is not about its evidence window.
MIN_SIMILARITY = 0.45
#: Cosine from which a sentence that adds no fact says the same as an earlier one.
REPEAT_SIMILARITY = 0.8
#: Longest window of consecutive evidence sentences that may support a claim.
MAX_WINDOW = 3
_MARKER = re.compile(r"\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\]")
_MARKUP = re.compile(
    r"</?\s*(?:evidence|tool_output|passage|document|context|system|user|assistant)\b[^>]*>"
    r"|<\|[^|>]{1,40}\|>",
    re.I,
)
#: Echoed markup the tag pattern misses (a torn tag: ``notices">``, ``<evid``).
_FRAGMENT = re.compile(r"\"\s*/?>|</?[a-z_]+(?:\s|$)|^\W*[a-z_]+=", re.I)
_WORDS = re.compile(r"[A-Za-z0-9$€£%]+")
#: A model sentence shorter than this is a fragment, not a claim.
MIN_WORDS = 3
_HEDGE = re.compile(
    r"\b(?:(?:do|does|did)\s+not\s+(?:say|state|specify|mention|address|contain|answer)|"
    r"(?:no|not\s+any)\s+(?:passage|information|evidence|mention)|not\s+(?:found|specified|stated)|"
    r"I\s+(?:found|could\s+find)\s+no|cannot\s+(?:find|determine|tell))\b",
    re.I,
)


def strip_markup(text: str) -> str:
    """The answer text without prompt markup (``<evidence …>`` tags, chat
    template tokens) or HTML escapes the model echoed."""
    return html.unescape(_MARKUP.sub("", text))


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text).strip()


@dataclass
class Support:
    """Where a claim is supported: passage ``item`` and the verbatim ``quote``
    (consecutive sentences of its body) that states its facts."""

    item: Evidence
    quote: str
    similarity: float


@dataclass
class Claim:
    text: str
    supported: bool
    citations: list[int] = field(default_factory=list)
    reason: str = ""
    support: Support | None = None
    #: Further inputs of a computed claim (its first input is ``support``).
    extra: list[Support] = field(default_factory=list)
    #: Surfaces the claim states as the shown result of a computation on its
    #: cited inputs (in no quote by nature: "ends on February 10, 2019").
    computed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "text": self.text,
            "supported": self.supported,
            "citations": self.citations,
            "reason": self.reason,
        }
        if self.computed:
            out["computed"] = self.computed
        return out

    @property
    def supports(self) -> list[Support]:
        return ([self.support] if self.support is not None else []) + self.extra


def _windows(body: str) -> list[str]:
    """Runs of 1..MAX_WINDOW consecutive sentences of ``body``, each verbatim."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for piece in SENTENCE_END.split(body):
        if piece is None:
            continue
        found = body.find(piece.strip(), pos) if piece.strip() else -1
        if found >= 0:
            spans.append((found, found + len(piece.strip())))
            pos = found + len(piece.strip())
    out = []
    for i in range(len(spans)):
        for j in range(i, min(i + MAX_WINDOW, len(spans))):
            out.append(body[spans[i][0] : spans[j][1]])
    return out or [body.strip()]


class ClaimChecker:
    """Checks answer sentences against the turn's evidence with ``embedder``."""

    def __init__(self, embedder: Embedder, min_similarity: float = MIN_SIMILARITY) -> None:
        self.embedder = embedder
        self.min_similarity = min_similarity

    def _cosines(self, sentence: str, texts: Sequence[str]) -> list[float]:
        vectors = np.asarray(self.embedder.embed_batch([sentence, *texts]), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)
        return [float(v) for v in vectors[1:] @ vectors[0]]

    def repeats(self, text: str, earlier: Sequence[str]) -> bool:
        """True when ``text`` says what one of the ``earlier`` sentences said."""
        if not earlier:
            return False
        plain = normalise_text(text)
        before = [strip_markers(e) for e in earlier]
        if any(plain == normalise_text(e) for e in before):
            return True
        new = {(f.kind, f.value) for f in facts(text)}
        cosines = self._cosines(text, before)
        return any(
            cos >= REPEAT_SIMILARITY and new <= {(f.kind, f.value) for f in facts(e)}
            for cos, e in zip(cosines, before, strict=True)
        )

    def support(
        self, sentence: str, item: Evidence, min_similarity: float | None = None
    ) -> tuple[Support | None, str]:
        """The best window of ``item`` supporting ``sentence``, or None and why not.

        ``min_similarity`` overrides the checker's floor (a sentence composed
        from the clause's own value needs its facts, less its wording)."""
        header = " ".join(item.heading_path)
        fitting = [w for w in _windows(item.quote) if not unsupported(sentence, f"{header} {w}")]
        if not fitting:
            missing = unsupported(sentence, f"{header} {item.quote}")
            if missing:
                return None, "not in the cited text: " + ", ".join(f.surface for f in missing)
            fitting = [item.quote.strip()]  # facts spread wider than a window
        terms = terms_of(sentence)
        fitting.sort(key=lambda w: (-term_overlap(terms, terms_of(w)), len(w)))
        fitting = fitting[:4]
        cosines = self._cosines(sentence, fitting)
        best = max(range(len(fitting)), key=lambda i: cosines[i])
        floor = self.min_similarity if min_similarity is None else min_similarity
        if cosines[best] < floor:
            return None, f"not what the cited text says (similarity {cosines[best]:.2f})"
        return Support(item, fitting[best], round(cosines[best], 3)), ""

    def check(self, sentence: str, pool: Sequence[Evidence], earlier: Sequence[str] = ()) -> Claim:
        """One sentence of an answer (markers included) against ``pool``."""
        text = strip_markers(strip_markup(sentence))
        cited = cited_numbers(sentence)
        if not re.search(r"[A-Za-z]{2}", text):
            return Claim(text, False, [], "no text")
        if _FRAGMENT.search(text) or len(_WORDS.findall(text)) < MIN_WORDS:
            return Claim(text, False, [], "not a sentence")
        if self.repeats(text, earlier):
            return Claim(text, False, [], "repeats an earlier sentence")
        if not facts(text) and _HEDGE.search(text) and not cited:
            return Claim(text, True, [], "says what the documents do not state")
        by_n = {item.n: item for item in pool}
        ordered = [by_n[n] for n in cited if n in by_n]
        ordered += [item for item in pool if item.n not in cited]
        first_reason = ""
        for item in ordered:
            found, reason = self.support(text, item)
            if found is not None:
                why = "" if item.n in cited or not cited else f"re-cited to [{item.n}]"
                return Claim(text, True, [item.n], why or "supported", found)
            if item.n in cited and not first_reason:
                first_reason = reason
        return Claim(text, False, cited, first_reason or "no passage of the turn supports it")
