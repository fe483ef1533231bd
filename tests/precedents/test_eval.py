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
