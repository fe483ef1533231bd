"""The built-in clause taxonomy: CUAD's 41 categories.

The names, descriptions and answer formats are a copy of CUAD v1's
``categories.csv`` (The Atticus Project, CC BY 4.0; see ``ATTRIBUTION.md``),
shipped inside the package as ``categories.json`` so nothing outside the
package is read at run time.

Category names are matched case-insensitively (CUAD's own files disagree on
case: "Cap on Liability" vs "Cap On Liability"); :func:`canonical_category`
maps any spelling to the name used here.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel

__all__ = [
    "VALUE_KINDS",
    "Category",
    "ValueKind",
    "canonical_category",
    "categories",
    "category_names",
    "slug",
]

#: What kind of value a category has (drives the rule-based value extractor).
ValueKind = Literal["title", "parties", "date", "duration", "jurisdiction", "amount", "none"]

#: Categories whose finding carries an extracted value.
VALUE_KINDS: dict[str, ValueKind] = {
    "Document Name": "title",
    "Parties": "parties",
    "Agreement Date": "date",
    "Effective Date": "date",
    "Expiration Date": "date",
    "Renewal Term": "duration",
    "Notice Period to Terminate Renewal": "duration",
    "Governing Law": "jurisdiction",
    "Non-Compete": "duration",
    "No-Solicit of Customers": "duration",
    "No-Solicit of Employees": "duration",
    "Warranty Duration": "duration",
    "Cap on Liability": "amount",
    "Liquidated Damages": "amount",
    "Minimum Commitment": "amount",
    "Insurance": "amount",
}


class Category(BaseModel):
    """One clause category of the taxonomy."""

    name: str
    description: str
    answer_format: str
    group: str

    @property
    def slug(self) -> str:
        return slug(self.name)

    @property
    def value_kind(self) -> ValueKind:
        return VALUE_KINDS.get(self.name, "none")


def slug(name: str) -> str:
    """``"Cap on Liability"`` -> ``"cap_on_liability"`` (stable identifiers)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@cache
def categories() -> tuple[Category, ...]:
    """The 41 CUAD categories, in CUAD's order."""
    raw = resources.files(__package__).joinpath("categories.json").read_text(encoding="utf-8")
    return tuple(Category.model_validate(c) for c in json.loads(raw)["categories"])


def category_names() -> list[str]:
    return [c.name for c in categories()]


@cache
def _by_key() -> dict[str, str]:
    table: dict[str, str] = {}
    for c in categories():
        table[c.name.lower()] = c.name
        table[c.slug] = c.name
    return table


def canonical_category(name: str) -> str:
    """The taxonomy's spelling of ``name`` (case-insensitive; slugs accepted).

    Raises ``KeyError`` naming the unknown category.
    """
    key = name.strip().lower()
    found = _by_key().get(key) or _by_key().get(slug(key))
    if found is None:
        raise KeyError(f"unknown clause category {name!r}")
    return found
