"""The quote-matching rule shared by training (threshold choice) and evaluation.

A predicted passage matches a gold quote when they share at least half of the
shorter one's normalised tokens (lowercase alphanumeric runs), counted as a
multiset: a word that occurs twice in the shorter text must occur twice in the
longer one to count twice.
"""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["normalised_tokens", "quotes_match", "token_counts"]

_TOKEN = re.compile(r"[a-z0-9]+")


def normalised_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def token_counts(text: str) -> Counter[str]:
    return Counter(normalised_tokens(text))


def quotes_match(a: Counter[str] | str, b: Counter[str] | str) -> bool:
    """True when ``a`` and ``b`` share at least half of the shorter one's tokens.

    Accepts texts or precomputed :func:`token_counts`. Two texts without any
    token never match.
    """
    ca = token_counts(a) if isinstance(a, str) else a
    cb = token_counts(b) if isinstance(b, str) else b
    na, nb = sum(ca.values()), sum(cb.values())
    shorter = min(na, nb)
    if shorter == 0:
        return False
    if na <= nb:
        shared = sum(min(n, cb[t]) for t, n in ca.items())
    else:
        shared = sum(min(n, ca[t]) for t, n in cb.items())
    return 2 * shared >= shorter
