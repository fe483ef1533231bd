"""The evaluation runner, the query loader and the PDF text locator (no model)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from evaluation.baseline import split_with_offsets
from evaluation.retrieval import (
    EvaluationInputError,
    RetrievalQuery,
    TextLocator,
    corpus_files,
    evaluate,
    load_queries,
    parse_ks,
)

CUAD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cuad-dev"


def test_load_queries_reads_the_dev_set_and_strips_the_corpus_folder():
    queries = load_queries(CUAD / "queries.json", limit=5)
    assert len(queries) == 5
    name, start, end = queries[0].truth[0]
    assert "/" not in name
    assert name.endswith(".txt")
    text = (CUAD / "txt" / name).read_text(encoding="utf-8")
    raw = json.loads((CUAD / "queries.json").read_text(encoding="utf-8"))["tests"][0]
    assert text[start:end] == raw["snippets"][0]["answer"]


def test_load_queries_names_the_file_and_the_problem(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"tests": [{"query": "q"}]}')
    with pytest.raises(EvaluationInputError, match=r"bad\.json: test #0 is malformed"):
        load_queries(bad)
    bad.write_text("not json")
    with pytest.raises(EvaluationInputError, match=r"bad\.json: not JSON"):
        load_queries(bad)
    with pytest.raises(EvaluationInputError, match="cannot read"):
        load_queries(tmp_path / "missing.json")


def test_corpus_files_maps_txt_and_pdf_and_reports_missing(tmp_path: Path):
    queries = load_queries(CUAD / "queries.json", limit=30)
    txt = corpus_files(queries, CUAD / "txt", "txt")
    pdf = corpus_files(queries, CUAD / "pdf", "pdf")
    assert txt.keys() == pdf.keys() == {n for q in queries for n in q.files}
    assert all(p.suffix == ".pdf" and p.stem == Path(n).stem for n, p in pdf.items())
    with pytest.raises(EvaluationInputError, match=r"corpus file\(s\) missing"):
        corpus_files(queries, tmp_path, "txt")


def test_parse_ks():
    assert parse_ks("8,1, 2,8") == (1, 2, 8)
    with pytest.raises(EvaluationInputError):
        parse_ks("0,1")
    with pytest.raises(EvaluationInputError):
        parse_ks("a")


def test_evaluate_asks_per_k_unless_nested():
    queries = [RetrievalQuery("q1", (("a.txt", 0, 10),)), RetrievalQuery("q2", (("b.txt", 0, 10),))]
    calls: list[tuple[str, int]] = []

    def search(query: str, k: int) -> list[tuple[str, int, int]]:
        calls.append((query, k))
        ranked = [("a.txt", 0, 10), ("b.txt", 0, 10)]  # right for q1 at k=1, for q2 at k=2
        return ranked[:k]

    report = evaluate(queries, search, [2, 1])
    assert calls == [("q1", 1), ("q1", 2), ("q2", 1), ("q2", 2)]
    assert report.at_k[1].precision == pytest.approx(0.5)  # (1 + 0) / 2
    assert report.at_k[1].recall == pytest.approx(0.5)
    assert report.at_k[2].precision == pytest.approx(0.5)  # (0.5 + 0.5) / 2
    assert report.at_k[2].recall == pytest.approx(1.0)
    calls.clear()
    nested = evaluate(queries, search, [1, 2], nested=True)
    assert calls == [("q1", 2), ("q2", 2)]
    assert nested.at_k == report.at_k
    js = report.to_json()
    assert js["queries"] == 2
    assert set(js["k"]) == {"1", "2"}
    assert set(js["k"]["1"]) == {"precision", "recall"}


def test_text_locator_ignores_whitespace_differences():
    text = "ARTICLE 1\n\nThe  Licensee shall\npay the fees.\nARTICLE 2"
    locator = TextLocator(text)
    start, end = locator.locate("Licensee shall pay\nthe fees.")  # type: ignore[misc]
    assert text[start:end] == "Licensee shall\npay the fees."
    assert locator.locate("not in the text") is None
    assert locator.locate("   ") is None


def test_naive_splitter_tiles_a_real_contract_exactly():
    path = sorted((CUAD / "txt").glob("*.txt"))[0]
    text = path.read_text(encoding="utf-8")
    spans = split_with_offsets(text)
    assert spans[0][0] == 0
    assert spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert max(e - s for s, e in spans) <= 500
