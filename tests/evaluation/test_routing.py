"""Document routing on real CUAD openings (no model, no store)."""

from __future__ import annotations

from pathlib import Path

from evaluation.retrieval import load_queries
from knowledge_base.routing import HEADER_CHARS, DocumentRouter, split_reference

CUAD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cuad-dev"


def _router() -> DocumentRouter:
    openings = {
        p.name: p.name + "\n" + p.read_text(encoding="utf-8")[:HEADER_CHARS]
        for p in sorted((CUAD / "txt").glob("*.txt"))
    }
    return DocumentRouter(openings)


def test_queries_naming_a_contract_route_to_it():
    router = _router()
    queries = load_queries(CUAD / "queries.json")[::8]  # ~100 queries over the dev set
    routed = [router.route(q.query) for q in queries]
    assert sum(r is not None for r in routed) >= 0.9 * len(queries)
    for query, route in zip(queries, routed, strict=True):
        if route is not None:
            assert route == [query.truth[0][0]], query.query


def test_generic_questions_are_not_routed():
    router = _router()
    for query in (
        "Which contracts have uncapped liability?",
        "termination for convenience notice period",
        "What is the governing law?",
    ):
        assert router.route(query) is None, query


def test_empty_router_and_no_match():
    assert DocumentRouter({}).route("anything") is None
    assert DocumentRouter({"a": "alpha beta"}).route("gamma") is None
    assert DocumentRouter({"a": "alpha beta", "b": "gamma"}).route("alpha", m=2) == ["a", "b"]


def test_split_reference_separates_the_contract_from_the_question():
    reference, question = split_reference(
        'Consider the LICENSE AGREEMENT (Acme ("Licensor"); Beta, Inc ("Licensee")); '
        "What is the expiration date of this contract?"
    )
    assert reference == 'Consider the LICENSE AGREEMENT (Acme ("Licensor"); Beta, Inc ("Licensee"))'
    assert question == "What is the expiration date of this contract?"
    assert split_reference("What is the governing law?") == ("", "What is the governing law?")
    # every dev query has the LegalBench-RAG shape
    for query in load_queries(CUAD / "queries.json"):
        assert split_reference(query.query)[0], query.query
