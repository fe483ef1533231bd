"""Rule-based value extraction (the CPU default, no LLM)."""

from __future__ import annotations

import pytest

from tools.clauses.values import RuleValueExtractor, rule_value


def test_governing_law_state() -> None:
    v = rule_value(
        "Governing Law",
        "This Agreement shall be governed by and construed in accordance with the laws of the "
        "State of New York, without regard to its conflict of laws principles.",
    )
    assert v is not None
    assert v.jurisdiction == "New York"


def test_governing_law_country() -> None:
    v = rule_value("Governing Law", "This Agreement is governed by the laws of England and Wales.")
    assert v is not None
    assert v.jurisdiction == "England and Wales"


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("for a period of two (2) years after termination", 730),
        ("upon sixty (60) days prior written notice", 60),
        ("at least 30 days before the end of the term", 30),
        ("for a further term of one year", 365),
        ("within ninety days", 90),
    ],
)
def test_durations(text: str, days: float) -> None:
    v = rule_value("Warranty Duration", text)
    assert v is not None
    assert v.days == days


def test_non_compete_takes_longest_period_and_scope() -> None:
    v = rule_value(
        "Non-Compete",
        "During the Term and for three (3) years thereafter, Distributor shall not compete "
        "anywhere in the world; notices within 10 days.",
    )
    assert v is not None
    assert v.years == pytest.approx(3.0)
    assert v.worldwide is True


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("shall not exceed $1,000,000 in the aggregate", 1_000_000.0),
        ("liability is limited to US$ 2.5 million", 2_500_000.0),
        ("a fee of $250.50", 250.5),
    ],
)
def test_amounts(text: str, amount: float) -> None:
    v = rule_value("Cap on Liability", text)
    assert v is not None
    assert v.amount == pytest.approx(amount)
    assert v.currency == "USD"


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("dated as of February 10, 2014 by and between", "2014-02-10"),
        ("made this 3rd day of March, 2005", "2005-03-03"),
        ("effective 2/10/14", "2014-02-10"),
    ],
)
def test_dates(text: str, iso: str) -> None:
    v = rule_value("Agreement Date", text)
    assert v is not None
    assert v.date == iso


def test_categories_without_values_give_none() -> None:
    assert rule_value("Audit Rights", "Licensor may audit the books and records.") is None


async def test_rule_extractor_is_a_value_extractor() -> None:
    out = await RuleValueExtractor().extract("Governing Law", "governed by the laws of Delaware")
    assert out.relevant is None
    assert out.value is not None
    assert out.value.jurisdiction == "Delaware"
