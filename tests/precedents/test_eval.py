"""The gold of ``dossier eval precedents``, built from CAP's own data."""

from __future__ import annotations

import json

from evaluation.precedents import gold_edges, headnotes, strip_headnotes
from tests.precedents.conftest import CAP


def test_gold_edges_are_the_15_internal_citations() -> None:
    meta = [json.loads(line) for line in (CAP / "metadata.jsonl").read_text().splitlines()]
    texts = {m["id"]: (CAP / "text" / f"{m['id']}.txt").read_text() for m in meta}
    edges = gold_edges(meta, texts)
    assert len(edges) == 15
    assert ("32044078577194_0082", "32044078577194_0007") in edges  # 288 Ark. 37


def test_headnotes_come_out_of_the_indexed_text() -> None:
    xml = CAP / "original_casemets" / "32044078573896_redacted_CASEMETS_0002.xml"
    notes = headnotes(xml)
    assert len(notes) == 4
    text = (CAP / "text" / "32044078573896_0002.txt").read_text()
    stripped = strip_headnotes(text, notes)
    assert notes[0][:60] in " ".join(text.split())
    assert notes[0][:60] not in " ".join(stripped.split())
    assert "delivered the opinion of the Court" in stripped


def test_cli_and_bench_tables_share_their_rows() -> None:
    from evaluation.precedents import render_markdown, summary_rows

    report = {
        "documents": 3, "ingest_s": 1.5,
        "metadata": {"accuracy": {"court": 1.0, "decided": 0.5},
                     "accuracy_where_stated": {"court": None, "decided": 1.0},
                     "stated_in_text": {"court": 0, "decided": 2}, "kind_opinion": 1.0},
        "graph": {"recall": 0.8, "precision": 1.0, "gold_edges": 5, "predicted_edges": 4,
                  "missed": ["a -> b"], "extra": []},
        "retrieval": {"recall@1": 0.5, "recall@5": 0.75, "queries": 4, "cases": 2},
    }  # fmt: skip
    rows = summary_rows(report)
    assert rows[0] == ("metadata court", "1.000", "—")
    assert rows[1] == ("metadata decided", "0.500", "1.000 (2 cases)")
    assert rows[-1] == ("headnote retrieval recall@5", "0.750", "")  # no baseline run: blank
    lines = render_markdown(report)
    assert lines[2:2 + len(rows)] == ["| " + " | ".join(r) + " |" for r in rows]  # fmt: skip
    report["retrieval"]["baseline"] = {"recall@1": 0.25, "recall@5": 0.5}
    assert summary_rows(report)[-1][2] == "naive baseline 0.500"


def test_cli_names_a_missing_document(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from api.cli import app

    for args in (["citations", "nope"], ["kind", "nope", "brief"], ["delete", "nope"]):
        result = CliRunner().invoke(app, [*args, "--kb", str(tmp_path / "kb")])
        assert result.exit_code == 1, result.output
        assert "document nope not found" in result.output
        assert "Traceback" not in result.output
