"""The line that names the filing an answer about reports used.

A question that names a company and a period ("3M's FY2018 capital
expenditure") is routed to one filing among many
(:class:`knowledge_base.routing.FilingRouter`); the answer then says which
one it read, before its first sentence: "From 3M Company's 10-K for FY2018
(3M_2018_10K.pdf):".

The filings named are those of the passages the answer cites (a figure's
rows, a quoted paragraph); an answer that cites none names the filings its
search was routed to. The line says where the answer comes from, not what the
document says, so it is not a claim to check against evidence: its
:data:`FILING_REASON` marks it, it cites nothing, and it is added after the
claim check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agent.claims import Claim
from core.errors import DossierError
from knowledge_base.routing import Filing

__all__ = ["FILING_REASON", "filing_line", "issuer_name", "with_filing_line"]

#: The reason of the claim that names the filing (not a statement about its content).
FILING_REASON = "names the filing used"
#: More filings than this (a scope of many reports): no line.
MAX_FILINGS = 3
_KEEP_UPPER = re.compile(r"^(?:[A-Z]{2,3}|[A-Z]+&[A-Z]+|.*\d.*)$")
_SMALL = frozenset({"THE", "INC", "CO", "AND", "OF", "LLC", "LTD", "PLC", "NV", "SA", "AG"})


def issuer_name(issuer: str) -> str:
    """A cover page's upper-case registrant as a name is written: "3M COMPANY"
    -> "3M Company", "CVS HEALTH CORPORATION" -> "CVS Health Corporation";
    a name already in mixed case is kept."""
    if issuer != issuer.upper():
        return issuer
    words = []
    for word in issuer.split():
        core = word.strip(".,")
        if _KEEP_UPPER.match(core) and core not in _SMALL:
            words.append(word)
        else:
            words.append(word.capitalize())
    return " ".join(words)


def _period(filing: Filing) -> str:
    if filing.fiscal_year is None:
        return ""
    if filing.quarter:
        return f" for Q{filing.quarter} {filing.fiscal_year}"
    return f" for FY{filing.fiscal_year}"


def filing_line(filings: Sequence[Filing]) -> str:
    """ "From 3M Company's 10-K for FY2018 (3M_2018_10K.pdf):" ("" for none)."""
    if not filings or len(filings) > MAX_FILINGS:
        return ""
    parts = [
        f"{issuer_name(f.issuer)}'s {f.form}{_period(f)}" + (f" ({f.name})" if f.name else "")
        for f in filings
    ]
    return "From " + " and ".join(parts) + ":"


def _used(claims: Sequence[Claim], retrieval: Any) -> list[Filing]:
    """Filings of the passages the shown claims cite; with none cited, the
    filings the search was routed to."""
    searched = list(getattr(retrieval, "searched_filings", []))
    cited = [
        item.document_id
        for claim in claims
        if claim.supported
        for n in claim.citations
        if (item := retrieval.ledger.get(n)) is not None
    ]
    if not cited:
        return searched
    known = {f.document_id: f for f in searched}
    try:
        for filing in retrieval.kb.router(retrieval.tenant).filings.filings:
            known.setdefault(filing.document_id, filing)
    except DossierError:  # the line is an aid: never fail an answer over it
        pass
    return [known[d] for d in dict.fromkeys(cited) if d in known]


def with_filing_line(claims: list[Claim], registry: Any) -> list[Claim]:
    """``claims`` with the filing line first, when the answer used filings
    (``registry``: the turn's :class:`tools.registry.ToolRegistry`)."""
    retrieval = getattr(registry, "retrieval", None)
    if retrieval is None or any(c.reason == FILING_REASON for c in claims):
        return claims
    line = filing_line(_used(claims, retrieval))
    if not line:
        return claims
    return [Claim(line, True, [], FILING_REASON), *claims]
