"""``dossier ingest`` and versions: a version only when the user says so
(the same path again, or ``--replaces ID``); same-named files elsewhere are
documents of their own. The real console script on a real knowledge base."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingest.test_cli_contract import dossier

pytestmark = pytest.mark.slow


def _write(path: Path, law: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"1. Term. This agreement lasts two years.\n\n2. Law. {law} law governs.\n")
    return path


def _results(run) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    assert run.code == 0, run.stderr[-2000:]
    return {r["name"]: r for r in run.json["results"]}


def test_reingesting_a_path_versions_it_and_namesakes_stay_apart(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    acme = _write(tmp_path / "acme" / "Agreement.txt", "New York")
    beta = _write(tmp_path / "beta" / "Agreement.txt", "Texas")
    first = dossier("ingest", str(acme), str(beta), "--json", kb=kb)
    assert first.code == 0, first.stderr[-2000:]
    rows = first.json["results"]  # type: ignore[index]
    assert [(r["name"], r["status"], r["version"]) for r in rows] == [
        ("Agreement.txt", "indexed", 1),
        ("Agreement.txt", "indexed", 1),
    ]  # two files called Agreement.txt: two documents
    a, b = rows[0]["document_id"], rows[1]["document_id"]
    assert a != b

    _write(acme, "Ohio")  # the user edits the file and re-runs the ingest
    again = _results(dossier("ingest", str(acme.parent), "--json", kb=kb))
    assert again["Agreement.txt"]["status"] == "indexed"
    assert again["Agreement.txt"]["version"] == 2

    newer = _write(tmp_path / "inbox" / "beta-signed.txt", "Delaware")
    replaced = dossier("ingest", str(newer), "--replaces", str(b), "--json", kb=kb)
    assert _results(replaced)["beta-signed.txt"]["version"] == 2
    listed = {d["id"]: d for d in dossier("documents", "--json", kb=kb).json}
    ready = sorted(d["name"] for d in listed.values() if d["status"] == "ready")
    assert ready == ["Agreement.txt", "beta-signed.txt"]
    assert listed[b]["status"] == "superseded"
    assert listed[a]["status"] == "superseded"

    both = dossier("ingest", str(acme), str(newer), "--replaces", str(b), kb=kb)
    assert both.code != 0
    assert "--replaces takes exactly one file (2 given)" in both.stderr
