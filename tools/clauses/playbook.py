"""Review playbooks: YAML rules that turn clause findings into risks.

A rule names a category and when it fires:

- ``when: present`` — the clause is in the contract (e.g. uncapped liability);
- ``when: absent`` — the clause is missing (a missing protection, e.g. no cap);
- ``when: value`` — the clause is present and its extracted value meets the
  ``conditions`` (``match: any`` or ``all``), e.g. governing law not in an
  allowed list, a non-compete longer than 2 years or worldwide.

``requires`` lists other categories that must be present for the rule to
apply (a non-renewal notice window only matters with an auto-renewal). When a
value rule cannot read the value, it does not fire unless
``if_value_missing: fire``. Condition fields: ``days``, ``years``, ``amount``,
``jurisdiction``, ``worldwide``, ``text``.

:func:`load_playbook` accepts a path, a mapping, a :class:`Playbook` or None
(the shipped ``default_playbook.yaml``) and raises
:class:`~core.errors.PlaybookError` naming the file, the rule and the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from core.errors import PlaybookError
from tools.clauses.taxonomy import canonical_category
from tools.clauses.values import ClauseValue

__all__ = ["Condition", "Playbook", "Risk", "Rule", "load_playbook"]

Risk = Literal["high", "medium", "low", "info"]
RISK_ORDER: dict[str, int] = {"high": 0, "medium": 1, "low": 2, "info": 3}


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: Literal["days", "years", "amount", "jurisdiction", "worldwide", "text"]
    op: Literal["lt", "le", "gt", "ge", "eq", "ne", "in", "not_in", "contains"]
    value: Any

    @model_validator(mode="after")
    def _check(self) -> Condition:
        numeric = self.field in ("days", "years", "amount")
        if self.op in ("lt", "le", "gt", "ge") and not (
            numeric and isinstance(self.value, int | float) and not isinstance(self.value, bool)
        ):
            raise ValueError(f"'{self.op}' needs a numeric field and a number value")
        if self.op in ("in", "not_in") and not (
            isinstance(self.value, list) and all(isinstance(v, str) for v in self.value)
        ):
            raise ValueError(f"'{self.op}' needs a list of strings")
        return self

    def holds(self, value: ClauseValue) -> bool | None:
        """True/False, or None when the value lacks the field."""
        actual: Any = value.years if self.field == "years" else getattr(value, self.field)
        if actual is None:
            return None
        v = self.value
        match self.op:
            case "lt":
                return bool(actual < v)
            case "le":
                return bool(actual <= v)
            case "gt":
                return bool(actual > v)
            case "ge":
                return bool(actual >= v)
            case "eq":
                return str(actual).lower() == str(v).lower() if isinstance(v, str) else actual == v
            case "ne":
                return str(actual).lower() != str(v).lower() if isinstance(v, str) else actual != v
            case "in":
                return str(actual).lower() in {x.lower() for x in v}
            case "not_in":
                return str(actual).lower() not in {x.lower() for x in v}
            case "contains":
                return str(v).lower() in str(actual).lower()
        return None  # pragma: no cover


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    category: str
    when: Literal["present", "absent", "value"]
    risk: Risk
    reason: str
    conditions: list[Condition] = []
    match: Literal["any", "all"] = "any"
    requires: list[str] = []
    if_value_missing: Literal["ignore", "fire"] = "ignore"

    @field_validator("category")
    @classmethod
    def _known_category(cls, v: str) -> str:
        try:
            return canonical_category(v)
        except KeyError as exc:
            raise ValueError(f"unknown category {v!r} (see the CUAD taxonomy)") from exc

    @field_validator("requires")
    @classmethod
    def _known_required(cls, v: list[str]) -> list[str]:
        try:
            return [canonical_category(c) for c in v]
        except KeyError as exc:
            raise ValueError(str(exc).strip("\"'")) from exc

    @model_validator(mode="after")
    def _conditions_fit(self) -> Rule:
        if self.when == "value" and not self.conditions:
            raise ValueError("'when: value' needs at least one condition")
        if self.when != "value" and self.conditions:
            raise ValueError(f"'when: {self.when}' takes no conditions")
        return self

    def fires(self, present: set[str], value: ClauseValue | None) -> bool:
        """Whether the rule fires, given the present categories and this category's value."""
        if any(r not in present for r in self.requires):
            return False
        here = self.category in present
        if self.when == "present":
            return here
        if self.when == "absent":
            return not here
        if not here:
            return False
        if value is None:
            return self.if_value_missing == "fire"
        results = [c.holds(value) for c in self.conditions]
        known = [r for r in results if r is not None]
        if not known:
            return self.if_value_missing == "fire"
        return any(known) if self.match == "any" else all(r is True for r in results)


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: int = 1
    description: str = ""
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique_ids(self) -> Playbook:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self


def _describe(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    problems = []
    rules = raw.get("rules") if isinstance(raw, Mapping) else None
    for err in exc.errors(include_url=False, include_input=False):
        loc = list(err["loc"])
        where = "playbook"
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
            rid = rule.get("id") if isinstance(rule, Mapping) else None
            where = f"rule {rid!r}" if rid else f"rule #{loc[1] + 1}"
            loc = loc[2:]
        field = ".".join(str(p) for p in loc if not str(p).startswith(("function-", "tagged-")))
        problems.append(f"{where}: {field + ': ' if field else ''}{err['msg']}")
    return "; ".join(problems)


def load_playbook(source: Path | str | Mapping[str, Any] | Playbook | None = None) -> Playbook:
    """The playbook from a YAML file path, a mapping, or the shipped default."""
    if isinstance(source, Playbook):
        return source
    label = "<playbook dict>"
    if source is None or isinstance(source, str | Path):
        if source is None:
            label = "default_playbook.yaml"
            text = resources.files(__package__).joinpath(label).read_text(encoding="utf-8")
        else:
            label = str(source)
            try:
                text = Path(source).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise PlaybookError(f"{label}: cannot read playbook ({exc})") from exc
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PlaybookError(f"{label}: not valid YAML ({exc})") from exc
    else:
        raw = source
    if not isinstance(raw, Mapping):
        raise PlaybookError(f"{label}: a playbook is a mapping with 'name' and 'rules'")
    try:
        return Playbook.model_validate(raw)
    except ValidationError as exc:
        raise PlaybookError(f"{label}: {_describe(exc, raw)}") from exc
