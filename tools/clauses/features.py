"""Features of a passage for the clause classifier.

A passage's feature vector is ``[embedding (384) | cue features | position
features]``:

- the MiniLM embedding of the chunk's indexed text (title, headings, body);
- one binary feature per cue phrase (regular expressions below, grouped by the
  category they hint at; every category's classifier sees every cue);
- the passage's relative position in the document and whether it is among the
  first chunks (titles, parties and dates sit at the top).

The cue list is part of the trained model's identity: ``CUE_VERSION`` and the
cue count are stored in the model file and checked on load, so a changed list
forces a retrain instead of silently misaligning weights.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = [
    "CUES",
    "CUE_VERSION",
    "N_POSITION_FEATURES",
    "cue_features",
    "cue_hits",
    "feature_matrix",
    "position_features",
]

CUE_VERSION = 1

_I = re.IGNORECASE

#: Cue phrases per category (CUAD names). Written from the category
#: descriptions and common drafting; the classifier learns their weights.
_CUE_SOURCES: dict[str, list[str]] = {
    "Document Name": [r"\bAGREEMENT\b(?![a-z])", r"^\s*[A-Z][A-Z &,\-]{8,}AGREEMENT"],
    "Parties": [
        r"\bby and between\b",
        r"\b(inc|llc|ltd|corp|corporation|limited|gmbh|s\.a)\b\.?",
        r"\(\s*[\"“](the\s+)?[A-Z][a-z]+[\"”]\s*\)",
    ],
    "Agreement Date": [
        r"\bdated as of\b",
        r"\bmade and entered into\b",
        r"\bentered into (as of|on)\b",
        r"\bthis \d+(st|nd|rd|th)? day of\b",
    ],
    "Effective Date": [
        r"\beffective date\b",
        r"\beffective as of\b",
        r"\bshall (become|be) effective\b",
    ],
    "Expiration Date": [
        r"\binitial term\b",
        r"\bterm of this agreement\b",
        r"\bshall (expire|terminate) on\b",
        r"\bcontinue in (full )?(force|effect) (for|until)\b",
    ],
    "Renewal Term": [
        r"\bautomatically (renew|extend)",
        r"\bsuccessive\b.{0,40}\b(term|period|year)s?\b",
        r"\brenewal term\b",
        r"\bshall be renewed\b",
    ],
    "Notice Period to Terminate Renewal": [
        r"\bnotice of (its )?(intent|intention|election)? ?(not )?to (renew|terminate)\b",
        r"\bnon-?renewal\b",
        r"\bprior to the (end|expiration) of the (then[- ]current|initial) term\b",
    ],
    "Governing Law": [
        r"\bgoverned by\b.{0,60}\blaws? of\b",
        r"\bgoverning law\b",
        r"\bconstrued in accordance with\b",
        r"\bconflicts? of laws?\b",
    ],
    "Most Favored Nation": [
        r"\bmost favou?red\b",
        r"\b(more|most) favou?rable (terms|prices?|pricing)\b",
        r"\bno less favou?rable\b",
    ],
    "Non-Compete": [
        r"\bnot,? (directly or indirectly,? )?(compete|engage)\b",
        r"\bnon-?compet",
        r"\bcompetitive (product|business)\b",
        r"\bcompete with\b",
    ],
    "Exclusivity": [
        r"\bexclusive(ly)?\b",
        r"\bsole (and exclusive )?(supplier|distributor|source|provider)\b",
        r"\ball (of its )?requirements\b",
    ],
    "No-Solicit of Customers": [
        r"\bsolicit\b.{0,60}\b(customers?|clients?)\b",
        r"\b(customers?|clients?)\b.{0,60}\bsolicit",
    ],
    "Competitive Restriction Exception": [
        r"\bnotwithstanding the (foregoing|above)\b",
        r"\bshall not (apply|prevent|restrict|prohibit)\b",
        r"\bnothing (herein|in this (section|agreement)) shall (prevent|restrict|prohibit|limit)\b",
    ],
    "No-Solicit of Employees": [
        r"\b(solicit|hire|employ)\b.{0,60}\b(employees?|personnel|staff)\b",
        r"\bnon-?solicit",
    ],
    "Non-Disparagement": [
        r"\bdisparag",
        r"\bderogatory\b",
        r"\bnegative (statements?|comments?)\b",
    ],
    "Termination for Convenience": [
        r"\bterminate\b.{0,60}\bfor (any reason|convenience|no reason)\b",
        r"\bwithout cause\b",
        r"\bat any time\b.{0,40}\bupon\b.{0,20}\bnotice\b",
        r"\bterminate this agreement\b.{0,40}\b(upon|by giving|with)\b.{0,30}\bnotice\b",
    ],
    "Rofr/Rofo/Rofn": [
        r"\bright of first (refusal|offer|negotiation)\b",
        r"\bfirst right\b",
        r"\bright to match\b",
    ],
    "Change of Control": [
        r"\bchange (of|in) control\b",
        r"\bmerger\b",
        r"\bacquisition of\b.{0,30}\b(all|substantially all)\b",
        r"\b(voting|outstanding) (securities|stock|shares)\b",
    ],
    "Anti-Assignment": [
        r"\bshall not\b.{0,30}\bassign",
        r"\bmay not\b.{0,30}\bassign",
        r"\bassign\w*\b.{0,80}\b(prior )?written consent\b",
        r"\bnon-?assignable\b",
    ],
    "Revenue/Profit Sharing": [
        r"\broyalt(y|ies)\b",
        r"\b(percent|%)\b.{0,60}\b(revenue|sales|profits?|receipts)\b",
        r"\brevenue shar",
        r"\bprofit shar",
    ],
    "Price Restrictions": [
        r"\bprice (increase|decrease|change)s?\b",
        r"\bshall not (increase|raise|reduce)\b.{0,40}\bprices?\b",
    ],
    "Minimum Commitment": [
        r"\bminimum (purchase|order|quantity|volume|commitment|annual|royalt)",
        r"\bat least\b.{0,40}\b(units|per (year|month|quarter))\b",
    ],
    "Volume Restriction": [
        r"\bexceed(s|ing)?\b.{0,40}\b(units|volume|users|usage|limit)\b",
        r"\b(maximum|cap) (number|quantity|volume)\b",
    ],
    "IP Ownership Assignment": [
        r"\bhereby assigns?\b",
        r"\b(sole and exclusive )?property of\b",
        r"\bwork(s)? made for hire\b",
        r"\ball right, title and interest\b",
    ],
    "Joint IP Ownership": [
        r"\bjointly own",
        r"\bjoint (ownership|property|inventions?)\b",
        r"\bco-?own",
    ],
    "License Grant": [
        r"\bhereby grants?\b",
        r"\b(non-?exclusive|exclusive)\b.{0,40}\blicen[cs]e\b",
        r"\blicen[cs]e to (use|make|sell|reproduce|distribute)\b",
    ],
    "Non-Transferable License": [
        r"\bnon-?transferable\b",
        r"\bnon-?sublicensable\b",
        r"\bwithout the right to sublicense\b",
    ],
    "Affiliate License-Licensor": [
        r"\b(licensor|company)\b.{0,40}\baffiliates?\b.{0,40}\bgrants?\b",
        r"\bowned or controlled by\b.{0,40}\baffiliates?\b",
    ],
    "Affiliate License-Licensee": [
        r"\b(licensee|distributor)\b.{0,30}\band its affiliates\b",
        r"\bto\b.{0,30}\band (its|their) affiliates\b",
    ],
    "Unlimited/All-You-Can-Eat-License": [
        r"\bunlimited (number|use|copies|users)\b",
        r"\benterprise[- ]wide\b",
        r"\ball you can eat\b",
    ],
    "Irrevocable or Perpetual License": [
        r"\birrevocable\b",
        r"\bperpetual\b",
        r"\bin perpetuity\b",
    ],
    "Source Code Escrow": [r"\bsource code\b", r"\bescrow\b"],
    "Post-Termination Services": [
        r"\b(after|following|upon) (the )?(termination|expiration)\b",
        r"\bsurvive\b",
        r"\bwind[- ]down\b",
        r"\btransition (period|services)\b",
    ],
    "Audit Rights": [
        r"\baudit",
        r"\binspect(ion)?\b.{0,60}\b(books|records)\b",
        r"\bbooks and records\b",
    ],
    "Uncapped Liability": [
        r"\bshall not apply to\b.{0,80}\b(indemnif|gross negligence|willful|confidential)",
        r"\bexcept (for|with respect to)\b.{0,80}\b(indemnif|gross negligence|willful|breach of)",
        r"\bunlimited liability\b",
    ],
    "Cap on Liability": [
        r"\bin no event shall\b.{0,120}\bliab",
        r"\b(aggregate|total|maximum|cumulative) liability\b",
        r"\bshall not exceed\b",
        r"\b(limitation|limit) (of|on) liability\b",
        r"\bconsequential\b",
    ],
    "Liquidated Damages": [
        r"\bliquidated damages\b",
        r"\btermination fee\b",
        r"\bbreak[- ]up fee\b",
        r"\bpenalty\b",
    ],
    "Warranty Duration": [
        r"\bwarrant(y|ies)\b.{0,80}\b(period|days|months|years)\b",
        r"\bwarranty period\b",
        r"\bfree from defects\b",
    ],
    "Insurance": [
        r"\binsurance\b",
        r"\binsured\b",
        r"\bpolicy limits?\b",
        r"\bcertificates? of insurance\b",
    ],
    "Covenant Not to Sue": [
        r"\bnot (to )?(contest|challenge)\b",
        r"\bcovenants? not to sue\b",
        r"\bvalidity of\b.{0,60}\b(patents?|trademarks?|marks?|rights)\b",
    ],
    "Third Party Beneficiary": [
        r"\bthird[- ]party beneficiar",
        r"\bno third party\b",
        r"\bintended beneficiar",
    ],
}

#: ``(category, compiled pattern)`` in a fixed order (the feature order).
CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (category, re.compile(src, _I | re.MULTILINE))
    for category, sources in _CUE_SOURCES.items()
    for src in sources
)

N_POSITION_FEATURES = 3


def cue_hits(text: str) -> list[str]:
    """Categories whose cue phrases occur in ``text`` (with repeats)."""
    return [category for category, pattern in CUES if pattern.search(text)]


def _required_literal(pattern: re.Pattern[str]) -> str | None:
    """The casefolded literal every match of ``pattern`` starts with (after
    anchors such as ``\\b``), if at least 3 characters; None otherwise."""
    import re._constants as sre
    import re._parser as sre_parse

    chars: list[str] = []
    for op, arg in sre_parse.parse(pattern.pattern, pattern.flags):
        if op is sre.AT and not chars:
            continue
        if op is not sre.LITERAL:
            break
        chars.append(chr(arg))
    literal = "".join(chars).casefold()
    return literal if len(literal) >= 3 else None


#: Per cue, a literal its matches must contain: a text whose casefolded form
#: lacks it cannot match, so the regular expression is skipped (exact; the
#: review of a 100-page contract spent 0.45 s in these searches, now ~0.1).
_LITERALS = tuple(_required_literal(pattern) for _, pattern in CUES)


def cue_features(texts: Sequence[str]) -> np.ndarray:
    """Binary cue matrix, shape ``(len(texts), len(CUES))``."""
    out = np.zeros((len(texts), len(CUES)), dtype=np.float32)
    for i, text in enumerate(texts):
        folded = text.casefold()
        for j, ((_, pattern), literal) in enumerate(zip(CUES, _LITERALS, strict=True)):
            if literal is not None and literal not in folded:
                continue
            if pattern.search(text):
                out[i, j] = 1.0
    return out


def position_features(ordinals: Sequence[int], total: int) -> np.ndarray:
    """``[relative position, first 3 chunks, last 10 %]`` per chunk."""
    denom = max(total - 1, 1)
    out = np.zeros((len(ordinals), N_POSITION_FEATURES), dtype=np.float32)
    for i, ordinal in enumerate(ordinals):
        rel = ordinal / denom
        out[i] = (rel, 1.0 if ordinal < 3 else 0.0, 1.0 if rel >= 0.9 else 0.0)
    return out


def feature_matrix(
    embeddings: np.ndarray, texts: Sequence[str], ordinals: Sequence[int], total: int
) -> np.ndarray:
    """The classifier input for one document's chunks (see module docstring)."""
    if embeddings.shape[0] != len(texts):
        raise ValueError(f"{embeddings.shape[0]} embeddings for {len(texts)} texts")
    return np.hstack(
        [
            embeddings.astype(np.float32, copy=False),
            cue_features(texts),
            position_features(ordinals, total),
        ]
    )
