"""Playbook validation and rules firing as written (synthetic findings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import PlaybookError
from tools.clauses import ClauseFinding, apply_playbook, load_playbook
from tools.clauses.taxonomy import category_names
from tools.clauses.values import rule_value


def _findings(present: dict[str, str]) -> list[ClauseFinding]:
    """One finding per category: ``present`` maps category -> passage text."""
    out = []
    for name in category_names():
        text = present.get(name)
        out.append(
            ClauseFinding(
                category=name,
                verdict="present" if text is not None else "absent",
                value=rule_value(name, text) if text else None,
                confidence=0.9 if text is not None else 0.05,
            )
        )
    return out


def _by(findings: list[ClauseFinding]) -> dict[str, ClauseFinding]:
    return {f.category: f for f in findings}


BENIGN = {
    "Cap on Liability": "In no event shall either party's aggregate liability exceed $100,000.",
    "Audit Rights": "Customer may audit Supplier's books and records once a year.",
    "Governing Law": "This Agreement is governed by the laws of the State of Delaware.",
}


def test_default_playbook_loads() -> None:
    book = load_playbook()
    assert {r.id for r in book.rules} >= {
        "uncapped-liability",
        "no-liability-cap",
        "termination-for-convenience",
        "auto-renewal-short-notice",
        "governing-law-not-allowed",
        "broad-non-compete",
        "no-audit-rights",
    }


def test_benign_contract_has_no_risks() -> None:
    f = _by(apply_playbook(_findings(BENIGN), load_playbook()))
    assert all(x.risk == "info" for x in f.values()), [x for x in f.values() if x.risk != "info"]
    assert f["Governing Law"].verdict == "present"


def test_missing_cap_and_audit_are_missing_protections() -> None:
    f = _by(apply_playbook(_findings({"Governing Law": BENIGN["Governing Law"]}), load_playbook()))
    assert (f["Cap on Liability"].verdict, f["Cap on Liability"].risk) == ("absent", "high")
    assert f["Cap on Liability"].rule_id == "no-liability-cap"
    assert (f["Audit Rights"].verdict, f["Audit Rights"].risk) == ("absent", "low")


def test_uncapped_liability_is_high() -> None:
    passages = {
        **BENIGN,
        "Uncapped Liability": "The foregoing cap shall not apply to indemnification.",
    }
    f = _by(apply_playbook(_findings(passages), load_playbook()))
    assert (f["Uncapped Liability"].verdict, f["Uncapped Liability"].risk) == ("deviates", "high")


def test_termination_for_convenience_is_medium() -> None:
    passages = {
        **BENIGN,
        "Termination for Convenience": "Either party may terminate this Agreement for any reason upon 30 days notice.",
    }
    f = _by(apply_playbook(_findings(passages), load_playbook()))
    assert f["Termination for Convenience"].risk == "medium"


@pytest.mark.parametrize(
    ("notice", "risk"), [("thirty (30) days", "medium"), ("ninety (90) days", "info")]
)
def test_auto_renewal_notice_window(notice: str, risk: str) -> None:
    passages = {
        **BENIGN,
        "Renewal Term": "This Agreement shall automatically renew for successive one (1) year terms.",
        "Notice Period to Terminate Renewal": f"unless either party gives {notice} notice of non-renewal.",
    }
    f = _by(apply_playbook(_findings(passages), load_playbook()))
    assert f["Notice Period to Terminate Renewal"].risk == risk


def test_short_notice_without_auto_renewal_does_not_fire() -> None:
    passages = {**BENIGN, "Notice Period to Terminate Renewal": "upon thirty (30) days notice"}
    f = _by(apply_playbook(_findings(passages), load_playbook()))
    assert f["Notice Period to Terminate Renewal"].risk == "info"


@pytest.mark.parametrize(
    ("law", "risk"), [("Delaware", "info"), ("Nevada", "medium"), ("New York", "info")]
)
def test_governing_law_allowed_list(law: str, risk: str) -> None:
    passages = {**BENIGN, "Governing Law": f"governed by the laws of the State of {law}."}
    f = _by(apply_playbook(_findings(passages), load_playbook()))
    assert f["Governing Law"].risk == risk


@pytest.mark.parametrize(
    ("text", "risk"),
    [
        ("shall not compete in the Territory for one (1) year after termination", "info"),
        ("shall not compete for three (3) years after termination", "high"),
        ("shall not compete anywhere in the world during the Term", "high"),
    ],
)
def test_non_compete(text: str, risk: str) -> None:
    f = _by(apply_playbook(_findings({**BENIGN, "Non-Compete": text}), load_playbook()))
    assert f["Non-Compete"].risk == risk
    assert f["Non-Compete"].verdict == ("deviates" if risk != "info" else "present")


def test_override_with_dict() -> None:
    book = load_playbook(
        {
            "name": "strict",
            "rules": [
                {
                    "id": "need-insurance",
                    "category": "insurance",
                    "when": "absent",
                    "risk": "high",
                    "reason": "no insurance",
                }
            ],
        }
    )
    f = _by(apply_playbook(_findings({}), book))
    assert (f["Insurance"].risk, f["Insurance"].rule_id) == ("high", "need-insurance")
    assert f["Cap on Liability"].risk == "info"  # default rules replaced


# -- malformed playbooks ------------------------------------------------------------
def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "book.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "name: x\nrules:\n  - id: r1\n    category: Not A Clause\n    when: present\n    risk: high\n    reason: r\n",
            ["book.yaml", "rule 'r1'", "unknown category 'Not A Clause'"],
        ),
        (
            "name: x\nrules:\n  - id: r2\n    category: Governing Law\n    when: value\n    risk: high\n    reason: r\n",
            ["rule 'r2'", "needs at least one condition"],
        ),
        (
            "name: x\nrules:\n  - id: r3\n    category: Non-Compete\n    when: value\n    risk: severe\n    reason: r\n"
            "    conditions: [{field: years, op: gt, value: 2}]\n",
            ["rule 'r3'", "risk"],
        ),
        (
            "name: x\nrules:\n  - id: r4\n    category: Non-Compete\n    when: value\n    risk: high\n    reason: r\n"
            "    conditions: [{field: jurisdiction, op: gt, value: 2}]\n",
            ["rule 'r4'", "numeric"],
        ),
        (
            "name: x\nrules:\n  - category: Audit Rights\n    when: absent\n    risk: low\n    reason: r\n",
            ["rule #1", "id"],
        ),
        ("name: x\nrules: [\n", ["book.yaml", "not valid YAML"]),
        ("- just\n- a list\n", ["book.yaml", "mapping"]),
        (
            "name: x\nrules:\n  - {id: a, category: Audit Rights, when: absent, risk: low, reason: r}\n"
            "  - {id: a, category: Insurance, when: absent, risk: low, reason: r}\n",
            ["used twice"],
        ),
    ],
)
def test_malformed_playbook_names_file_rule_and_problem(
    tmp_path: Path, yaml_text: str, expected: list[str]
) -> None:
    with pytest.raises(PlaybookError) as info:
        load_playbook(_write(tmp_path, yaml_text))
    for part in expected:
        assert part in str(info.value)


def test_missing_playbook_file(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match=r"nope\.yaml: cannot read playbook"):
        load_playbook(tmp_path / "nope.yaml")
