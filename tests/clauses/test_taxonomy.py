"""The built-in taxonomy is CUAD's 41 categories, shipped inside the package."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tools.clauses.taxonomy import canonical_category, categories

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cuad-dev"


def test_matches_cuad_categories_csv() -> None:
    with (DATA / "categories.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))[1:]
    shipped = categories()
    assert len(shipped) == 41
    assert [c.name for c in shipped] == [r[0].removeprefix("Category:").strip() for r in rows]
    assert shipped[0].description == "The name of the contract"


def test_canonical_category_is_case_insensitive() -> None:
    assert canonical_category("Cap On Liability") == "Cap on Liability"
    assert canonical_category("cap_on_liability") == "Cap on Liability"
    with pytest.raises(KeyError, match="unknown clause category"):
        canonical_category("Force Majeure")
