"""The checked answer: lead sentences, gated model sentences, cited claims.

An answer is built from claims, in order:

1. **Lead** (:func:`lead_claims`): for a question about a contract term, the
   sentence composed from the clause finding (:mod:`agent.compose`); for an
   open question in planner mode, the most relevant evidence sentences
   quoted verbatim. They are streamed at once.
2. **Model sentences**, through :class:`SentenceGate`: the model's tokens are
   held until a sentence is complete, then the sentence is checked
   (:class:`agent.claims.ClaimChecker`) and streamed only when supported.
   A sentence repeating an earlier one stops the generation.
3. **Closing** (:func:`finish_claims`): every citation is built from the text
   that supports its claim and verified on its page; a claim whose citation
   fails loses its place. When no claim with content remains, the answer says
   what the documents do say and quotes it.

The final text is ``answer_text(claims)``; the ``answer`` event carries it and
replaces whatever tokens were streamed before it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from agent.citations import CitationChecker, best_evidence, best_sentence, split_sentences
from agent.claims import Claim, ClaimChecker, Support, strip_markers, strip_markup
from agent.compose import Composed, Intent, compose
from core.types import Citation
from tools.retrieval import Evidence, EvidenceLedger

__all__ = [
    "SentenceGate",
    "answer_text",
    "finish_claims",
    "lead_claims",
    "render",
]

#: Similarity floor of a sentence composed from the clause's value (its facts
#: must still all be in the quote): templates share few words with clauses.
COMPOSED_SIMILARITY = 0.2
#: Evidence sentences quoted to lead an open question's answer (planner mode).
LEAD_QUOTES = 2


def render(claim: Claim) -> str:
    """A claim as answer text: its sentence with its markers before the final stop."""
    text = claim.text.strip()
    if not claim.citations:
        return text
    marks = "".join(f"[{n}]" for n in claim.citations)
    match = re.search(r"[.!?]+[\"”']?$", text)
    if match and not text.endswith(('"', "”")):
        return f"{text[: match.start()]} {marks}{text[match.start() :]}"
    return f"{text} {marks}"


def answer_text(claims: Sequence[Claim]) -> str:
    return " ".join(render(c) for c in claims if c.supported)


def _finding(result_data: dict[str, Any], category: str) -> dict[str, Any] | None:
    for finding in result_data.get("findings") or []:
        if str(finding.get("category", "")).lower() == category.lower():
            return finding
    return None


def clause_item(
    ledger: EvidenceLedger, review: dict[str, Any]
) -> Callable[[dict[str, Any]], Evidence]:
    """Registers a clause finding's evidence of ``review`` in the ledger."""

    def add(evidence: dict[str, Any]) -> Evidence:
        return ledger.add_passage(
            chunk_id=evidence.get("chunk_id") or f"clause:{evidence['page']}:{evidence['start']}",
            document_id=str(review.get("document_id") or ""),
            document=str(review.get("document_name") or ""),
            page=int(evidence["page"]), quote=str(evidence["quote"]),
            start=int(evidence["start"]), end=int(evidence["end"]),
            score=float(evidence.get("score") or 0.0),
        )  # fmt: skip

    return add


def _composed_claim(composed: Composed, checker: ClaimChecker, question: str) -> Claim:
    text = strip_markers(composed.text)
    item = composed.item
    if item is None:
        return Claim(text, True, [], "no such clause found by the clause model")
    if composed.derived is not None:  # computed from quoted inputs, shown as such
        (first, quote), *rest = composed.derived.inputs
        return Claim(text, True, [i.n for i, _ in composed.derived.inputs],
                     "computed from the cited term and start date", Support(first, quote, 1.0),
                     [Support(i, q, 1.0) for i, q in rest], [composed.derived.computed])  # fmt: skip
    if composed.quote is not None:  # a verbatim quote of the clause
        return Claim(text, True, [item.n], "quotes the clause", Support(item, composed.quote, 1.0))
    found, reason = checker.support(text, item, min_similarity=COMPOSED_SIMILARITY)
    if found is not None:
        return Claim(text, True, [item.n], "composed from the clause", found)
    if composed.plain is not None:  # the value is not in the quote: say less
        text = strip_markers(composed.plain)
    quote = best_sentence(item.quote, f"{question} {text}")
    if text.startswith(("Yes", "No")) and "not in the cited text" not in reason:
        # A presence answer: the clause model found the clause; show its words.
        return Claim(text, True, [item.n], "composed from the clause", Support(item, quote, 0.0))
    shown = " ".join(quote.split())
    return Claim(f'The clause says: "{shown}"', True, [item.n], f"value withheld: {reason}",
                 Support(item, quote, 1.0))  # fmt: skip


#: Opening passages read for the parties (a preamble after a cover page or a notice).
_OPENING_MORE = 4
#: Terms whose answer may need any passage of the document: an effective date defined
#: anywhere (a computed expiration), a date only the signature block states.
_WHOLE = frozenset({"Expiration Date", "Agreement Date", "Effective Date"})


def lead_claims(
    wanted: Sequence[Intent],
    tool_data: Sequence[dict[str, Any]],
    ledger: EvidenceLedger,
    checker: ClaimChecker,
    question: str,
    quote_open: bool,
    open_part: bool = False,
    opening: Callable[..., list[dict[str, Any]]] | None = None,
) -> tuple[list[Claim], bool]:
    """The answer's first claims, and whether they answer the whole question
    (every term asked about composed from its clause finding, nothing else asked)."""
    claims: list[Claim] = []
    for want in wanted:
        data = next((d for d in tool_data if _finding(d, want.category) is not None), None)
        if data is None:
            continue
        doc = str(data.get("document_id") or "")
        searched = [e for e in ledger.items if e.document_id == doc]
        first = (opening(doc, _OPENING_MORE) if want.category == "Parties" else opening(doc)) if (
            opening is not None and doc) else []  # fmt: skip
        whole = (opening(doc, None) if opening is not None and doc
                 and want.category in _WHOLE else [])  # fmt: skip
        composed = compose(want, _finding(data, want.category), clause_item(ledger, data),
                           question, searched, first, whole)  # fmt: skip
        claims.append(_composed_claim(composed, checker, question))
    complete = bool(wanted) and len(claims) == len(wanted) and not open_part
    if complete and any(not c.citations for c in claims):
        # A term not found: show the closest passages, so the reader can judge.
        return claims + _lead_quotes(ledger, question, "The closest passages say"), True
    if complete or not quote_open:
        return claims, complete
    first = "They also say" if claims else "The documents say"
    claims += _lead_quotes(ledger, question, first)
    return claims, False


def _lead_quotes(
    ledger: EvidenceLedger, question: str, first: str = "The documents say"
) -> list[Claim]:
    """The most relevant evidence sentences, quoted verbatim (open questions)."""
    claims: list[Claim] = []
    for item in ledger.items[:LEAD_QUOTES]:
        quote = best_sentence(item.quote, question)
        if len(quote) < 20 or any(quote == c.support.quote for c in claims if c.support):
            continue
        prefix = first if not claims else "They also say"
        claims.append(Claim(f'{prefix}: "{" ".join(quote.split())}"', True, [item.n], "quotes the document",
                            Support(item, quote, 1.0)))  # fmt: skip
    return claims


class SentenceGate:
    """Holds model tokens until a sentence is complete, then lets it through
    (as tokens, via ``emit``) only when the claim check supports it."""

    def __init__(
        self,
        checker: ClaimChecker,
        pool: Callable[[], Sequence[Evidence]],
        emit: Callable[[str], None],
        earlier: Sequence[Claim],
        *,
        stream_unchecked: bool = False,
    ) -> None:
        self.checker = checker
        self.pool = pool
        self.emit = emit
        self.claims: list[Claim] = []
        self._earlier = [c.text for c in earlier]
        self._buffer = ""
        self.stopped = False
        self.stream_unchecked = stream_unchecked

    async def feed(self, text: str) -> None:
        if self.stopped:
            return
        if self.stream_unchecked:
            self.emit(text)
        self._buffer += text
        stripped = strip_markup(self._buffer)
        pieces = split_sentences(stripped)
        if len(pieces) < 2:
            return
        for sentence in pieces[:-1]:
            await self._check(sentence)
            if self.stopped:
                return
        self._buffer = stripped[stripped.rfind(pieces[-1]) :]

    async def flush(self, cut: bool = False) -> None:
        """Check what is left; a sentence cut at the token limit is dropped."""
        rest = strip_markup(self._buffer).strip()
        self._buffer = ""
        if not rest or self.stopped:
            return
        if cut and not re.search(r"[.!?][\"”')\]]*$|\]$", rest):
            self.claims.append(Claim(strip_markers(rest), False, [], "cut at the token limit"))
            return
        await self._check(rest)

    async def _check(self, sentence: str) -> None:
        claim = await asyncio.to_thread(
            self.checker.check, sentence, self.pool(), self._earlier + [c.text for c in self.claims]
        )
        if claim.reason == "repeats an earlier sentence":
            self.stopped = True
        self.claims.append(claim)
        if claim.supported and not self.stream_unchecked:
            self.emit(" " + render(claim))


def _citations(claims: Sequence[Claim]) -> list[Citation]:
    """One citation per cited passage, quoting the text that supports its claims
    (several claims on one passage: the span from the first to the last quote)."""
    spans: dict[int, tuple[Evidence, int, int]] = {}
    for support in (s for c in claims if c.supported for s in c.supports):
        item, quote = support.item, support.quote
        at = item.quote.find(quote)
        if at < 0:
            continue
        known = spans.get(item.n)
        lo, hi = (
            (at, at + len(quote))
            if known is None
            else (min(known[1], at), max(known[2], at + len(quote)))
        )
        spans[item.n] = (item, lo, hi)
    out = []
    for n, (item, lo, hi) in spans.items():
        out.append(Citation(
            n=n, document_id=item.document_id, document=item.document, page=item.page,
            quote=item.quote[lo:hi], start=item.start + lo, end=item.start + hi,
            chunk_id=item.chunk_id,
        ))  # fmt: skip
    return out


async def finish_claims(
    claims: list[Claim],
    verifier: CitationChecker,
    ledger: EvidenceLedger,
    question: str,
    run: Callable[[Callable[[], Any]], Awaitable[Any]] | None = None,
) -> tuple[list[Claim], list[Citation], list[tuple[Citation, str]]]:
    """Verify the claims' citations on their pages; returns (claims, verified, dropped).

    A claim citing a passage whose quote is not on its page becomes
    unsupported. With no supported claim left that says something, the
    passage closest to the question is quoted.
    """
    citations = _citations(claims)
    verified, dropped = verifier.check_all(citations)
    bad = {c.n for c, _ in dropped}
    for claim in claims:
        if claim.supported and set(claim.citations) & bad:
            claim.supported, claim.reason = False, "its quote is not on the cited page"
    if not any(c.supported and (c.citations or c.reason.startswith("no such")) for c in claims):
        fallback = _closest_quote(ledger, question)
        if fallback is not None:
            claims.append(fallback)
            more, more_dropped = verifier.check_all(_citations([fallback]))
            verified += more
            dropped += more_dropped
        elif not any(c.supported for c in claims):
            claims.append(Claim("I found no passage in your documents that answers this question.",
                                True, [], "no evidence"))  # fmt: skip
    return claims, verified, dropped


def _closest_quote(ledger: EvidenceLedger, question: str) -> Claim | None:
    item = best_evidence(question, ledger.items[:6])
    if item is None:
        return None
    quote = best_sentence(item.quote, question)
    return Claim(
        "The documents do not state this in so many words; the closest passage says: "
        f'"{" ".join(quote.split())}"',
        True, [item.n], "quotes the document", Support(item, quote, 1.0),
    )  # fmt: skip
