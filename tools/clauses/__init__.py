"""Contract clause extraction and playbook review (CUAD taxonomy).

Core entry: :func:`review_document`; agent tool: :class:`ExtractClausesTool`.
"""

from tools.clauses.model import ClauseModel
from tools.clauses.playbook import Playbook, Rule, load_playbook
from tools.clauses.report import render_markdown
from tools.clauses.review import (
    ClauseEvidence,
    ClauseFinding,
    ContractReview,
    apply_playbook,
    areview_document,
    review_document,
)
from tools.clauses.taxonomy import Category, canonical_category, categories, category_names
from tools.clauses.tool import ExtractClausesArgs, ExtractClausesTool, review_stored_document
from tools.clauses.values import (
    ClauseValue,
    LLMClient,
    LLMValueExtractor,
    RuleValueExtractor,
    ValueExtractor,
)

__all__ = [
    "Category",
    "ClauseEvidence",
    "ClauseFinding",
    "ClauseModel",
    "ClauseValue",
    "ContractReview",
    "ExtractClausesArgs",
    "ExtractClausesTool",
    "LLMClient",
    "LLMValueExtractor",
    "Playbook",
    "Rule",
    "RuleValueExtractor",
    "ValueExtractor",
    "apply_playbook",
    "areview_document",
    "canonical_category",
    "categories",
    "category_names",
    "load_playbook",
    "render_markdown",
    "review_document",
    "review_stored_document",
]
