"""Line-end hyphens in PDF text: a word broken by the typesetter or a compound?

"termi-" + "nation" is one word split at a line break (drop the hyphen);
"non-" + "compete" is a compound whose own hyphen fell at the line end (keep
it). The text alone cannot always tell, so the decision uses, in order:

1. A part that already holds a hyphen ("out-of-" + "pocket", "non-" +
   "disclosure-related") is a compound: typesetters break such words only at
   their hyphens, so the hyphen stays.
2. The document's own usage: whichever of "non-compete" and "noncompete"
   occurs more often elsewhere in the document (mid-line) wins.
3. A tail that is a bare suffix ("pay-" + "ment", "hold-" + "ing") is a broken
   word: join.
4. A one-letter head ("e-" + "mail", "x-" + "ray") is a compound:
   hyphenation never leaves a single letter at a line end.
5. A head that is a compound prefix in legal English (``COMPOUND_PREFIXES``:
   non, self, semi, quasi, anti, multi, cross) keeps the hyphen. Prefixes that
   begin many plain words are left out on purpose: re- (re-quired), pre-
   (pre-vail), co- (co-operate), sub- (sub-ject), inter- (inter-pretation),
   counter- (counter-part), ex- (ex-ception), post- (post-pone); for those
   only rule 2 keeps the hyphen.
6. A head that is a word of three or more letters standing on its own
   elsewhere in the document ("then-" + "current", "third-" + "party") is a
   compound, unless it commonly begins a solid word (``SOLID_HEADS``: with-out,
   there-after, here-under, other-wise, any-one, ...).
7. A head of four or more letters whose tail is a word of three or more
   letters standing on its own elsewhere ("vendor-" + "plaintiffs", "market-"
   + "facing") is a compound. Short heads are left out: "re-" + "view",
   "con-" + "sent", "de-" + "sign" are broken words.
8. Otherwise the word was broken by the typesetter: join.

Measured on the 101 CUAD contracts and the court PDFs of ../shared/data (166
distinct line-end hyphens followed by a lower-case line): most line-end hyphens
in Word-made contracts are compound hyphens, while typeset opinions break words
("peti-" + "tioner", "regula-" + "tory"). The rules above keep or drop the
hyphen as a reader would in all but about six cases, compounds the document
gives no evidence for, which are joined ("inhouse", "pershift", "marketfacing",
"headscratching", "thencurrent").
A soft hyphen (U+00AD) is always a break.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

__all__ = ["COMPOUND_PREFIXES", "SOLID_HEADS", "Lexicon", "join_lines"]

_LETTERS = r"[^\W\d_]"
_TOKEN = re.compile(rf"{_LETTERS}+(?:-{_LETTERS}+)*")
_HEAD = re.compile(rf"({_LETTERS}+(?:-{_LETTERS}+)*)[-\u00ad]$")
_TAIL = re.compile(rf"{_LETTERS}+(?:-{_LETTERS}+)*")

COMPOUND_PREFIXES = frozenset({"non", "self", "semi", "quasi", "anti", "multi", "cross"})

#: Words that begin many solid words, so "with-" + "out" is a broken word even
#: though "with" stands alone in the document.
# fmt: off
SOLID_HEADS = frozenset({
    "after", "any", "can", "every", "for", "further", "here", "hereto", "how",
    "more", "never", "none", "not", "other", "out", "over", "per", "some", "there",
    "thereto", "under", "what", "whatso", "when", "where", "who", "with",
})
# fmt: on

# fmt: off
_SUFFIXES = frozenset({
    "able", "ably", "age", "al", "ally", "ance", "ances", "ancy", "ant", "ants", "ate",
    "ated", "ates", "ating", "ation", "ations", "ed", "ee", "ees", "ence", "ences",
    "ency", "ent", "ently", "ents", "er", "ers", "ful", "ible", "ibly", "ing", "ings",
    "ion", "ions", "ism", "ist", "ists", "ity", "ities", "ive", "ively", "ize", "ized",
    "izes", "less", "ly", "ment", "ments", "ness", "or", "ors", "ous", "ously", "ship",
    "sion", "sions", "tion", "tions", "ture", "tures", "ure", "ures",
})
# fmt: on


def _breaks(prev: str, nxt: str) -> bool:
    return len(prev) >= 2 and prev[-1] in "-\u00ad" and prev[-2].isalpha() and nxt[:1].islower()


class Lexicon:
    """Word forms of one document, lower-cased, counted from its text lines.

    A hyphenated token counts with every run of two or more of its parts
    ("out-of-pocket" also counts "out-of" and "of-pocket"). The pieces of a
    line-end break (the "termi" before the hyphen and the "nation" after it)
    are not counted: they are what is being decided.
    """

    def __init__(self, pages: Iterable[Iterable[str]] = ()) -> None:
        self.counts: Counter[str] = Counter()
        for lines in pages:
            prev = ""
            for line in lines:
                body = line
                if _breaks(prev, line):
                    tail = _TAIL.match(line)
                    body = line[tail.end() :] if tail else line
                if _breaks(line, "a"):
                    head = _HEAD.search(body)
                    body = body[: head.start()] if head else body
                self.add(body)
                prev = line

    def add(self, text: str) -> None:
        for token in _TOKEN.findall(text.lower()):
            self.counts[token] += 1
            parts = token.split("-")
            n = len(parts)
            for size in range(2, n):  # the shorter runs of a long compound
                for i in range(n - size + 1):
                    self.counts["-".join(parts[i : i + size])] += 1

    def __getitem__(self, form: str) -> int:
        return self.counts.get(form, 0)


def keep_hyphen(head: str, tail: str, lexicon: Lexicon) -> bool:
    """Whether ``head`` + "-" + ``tail`` (a line-end break) is a compound."""
    head, tail = head.lower(), tail.lower()
    if "-" in head or "-" in tail:
        return True
    hyphenated, joined = lexicon[f"{head}-{tail}"], lexicon[head + tail]
    if hyphenated != joined:
        return hyphenated > joined
    if tail in _SUFFIXES:
        return False
    if len(head) == 1 or head in COMPOUND_PREFIXES:
        return True
    if head in SOLID_HEADS:
        return False
    return (len(head) >= 3 and lexicon[head] > 0) or (
        len(head) >= 4 and len(tail) >= 3 and lexicon[tail] > 0
    )


def join_lines(prev: str, nxt: str, lexicon: Lexicon) -> str:
    """Join two wrapped lines of one paragraph: a line-end break is joined
    without the hyphen ("termination") or kept as a compound ("non-compete");
    any other pair is joined with a space (so "1990-" + "2000" and "Non-" +
    "Compete" keep their hyphen and gain a space)."""
    if not _breaks(prev, nxt):
        return f"{prev} {nxt}"
    head, tail = _HEAD.search(prev), _TAIL.match(nxt)
    if prev[-1] == "-" and head and tail and keep_hyphen(head.group(1), tail.group(0), lexicon):
        return prev + nxt
    return prev[:-1] + nxt
