"""The `dossier` command line as users and scripts see it: the real console
script, a real knowledge base in tmp, real files; exit codes, the ``--json``
contract documented in README.md, ``--kb`` and ``DOSSIER_DATA_DIR``.

Every invocation loads the embedding model for a few seconds, so one
knowledge base is built once for the module and the calls are kept few.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import COURT, CUAD, REPO

pytestmark = pytest.mark.slow

DOSSIER = REPO / ".venv" / "bin" / "dossier"
# two short CUAD contracts, each with a governing-law clause, and a file
# Dossier cannot read
NY = (
    CUAD
    / "pdf"
    / "BOLIVARMININGCORP_05_23_2003-EX-2.1-VISP WEB SITE BUILDING AND HOSTING AGREEMENT.PDF"
)
CA = (
    CUAD
    / "pdf"
    / "PACIFICSYSTEMSCONTROLTECHNOLOGYINC_08_24_2000-EX-10.53-SPONSORSHIP AGREEMENT.PDF"
)
BAD = COURT / "word-perfect.wpd"
HIT_KEYS = {"document", "document_id", "page", "heading_path", "text", "score"}


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> object:
        """The ``--json`` contract: the last line of stdout is one JSON value."""
        return json.loads(self.stdout.strip().splitlines()[-1])


def dossier(*args: str, kb: Path | None = None, env: dict[str, str] | None = None) -> Run:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    base.update({"HF_HUB_OFFLINE": "1", "COLUMNS": "200"})
    done = subprocess.run(
        [str(DOSSIER), *args, *(["--kb", str(kb)] if kb is not None else [])],
        env={**base, **(env or {})},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for path in (DOSSIER, NY, CA, BAD):
        assert path.is_file(), path
    return tmp_path_factory.mktemp("cli") / "kb"


@pytest.fixture(scope="module")
def ingested(kb: Path) -> Run:
    return dossier("ingest", str(NY), str(CA), str(BAD), "--json", kb=kb)


@pytest.fixture(scope="module")
def doc_ids(kb: Path, ingested: Run) -> dict[str, str]:
    """name -> id, from ``dossier documents --json``."""
    run = dossier("documents", "--json", kb=kb)
    assert run.code == 0, run.stderr[-2000:]
    return {d["name"]: d["id"] for d in run.json}  # type: ignore[attr-defined]


def search(kb: Path, query: str, *args: str) -> list[dict[str, object]]:
    run = dossier("search", query, "--json", *args, kb=kb)
    assert run.code == 0, run.stderr[-2000:]
    hits = run.json
    assert isinstance(hits, list)
    return hits


def assert_hit_contract(hit: dict[str, object]) -> None:
    assert set(hit) >= HIT_KEYS, hit.keys()
    assert isinstance(hit["document"], str)
    assert hit["document"]
    assert isinstance(hit["document_id"], str)
    assert hit["document_id"]
    assert type(hit["page"]) is int
    assert hit["page"] >= 1
    assert isinstance(hit["heading_path"], str)  # "7. Termination > 7.2", may be ""
    assert isinstance(hit["text"], str)
    assert hit["text"]
    assert isinstance(hit["score"], float)


def test_ingest_batch_with_a_bad_file(ingested: Run) -> None:
    assert ingested.code == 1, ingested.stderr[-2000:]
    report = ingested.json
    assert isinstance(report, dict)
    assert report["files"] == 3
    assert report["failed"] == 1
    by_name = {r["name"]: r for r in report["results"]}
    assert set(by_name) == {NY.name, CA.name, BAD.name}
    bad = by_name[BAD.name]
    assert bad["status"] == "failed"
    assert bad["document_id"] is None
    assert BAD.name in bad["error"]
    assert "WordPerfect" in bad["error"]
    assert "convert" in bad["error"].lower()
    for good in (NY, CA):
        r = by_name[good.name]
        assert r["status"] == "indexed", r
        assert r["error"] is None
        assert r["pages"] >= 2
        assert r["chunks"] > 0
    assert report["chunks"] == by_name[NY.name]["chunks"] + by_name[CA.name]["chunks"]
    # progress and the table go to stderr; stdout ends with the JSON value
    assert ingested.stdout.strip().splitlines()[-1].startswith("{")


def test_documents_json(kb: Path, ingested: Run, doc_ids: dict[str, str]) -> None:
    run = dossier("documents", "--json", kb=kb)
    assert run.code == 0, run.stderr[-2000:]
    docs = run.json
    assert isinstance(docs, list)
    assert len(docs) == 2  # the failed file left no row
    for d in docs:
        assert {"id", "name", "pages", "status"} <= set(d), d
        assert d["status"] == "ready"
        assert type(d["pages"]) is int
        assert d["pages"] >= 2
    report = {r["name"]: r for r in ingested.json["results"]}  # type: ignore[index]
    assert {d["name"]: d["id"] for d in docs} == {
        name: report[name]["document_id"] for name in (NY.name, CA.name)
    }


def test_search_json_hybrid(kb: Path, doc_ids: dict[str, str]) -> None:
    hits = search(kb, "governing law", "--k", "3")
    assert 1 <= len(hits) <= 3
    for hit in hits:
        assert_hit_contract(hit)
        assert doc_ids[hit["document"]] == hit["document_id"]  # type: ignore[index]
    assert any("governed by" in str(h["text"]) for h in hits)
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_search_modes(kb: Path, doc_ids: dict[str, str]) -> None:
    for mode in ("dense", "bm25"):
        hits = search(kb, "which state's laws govern this agreement", "--k", "4", "--mode", mode)
        assert hits, mode
        for hit in hits:
            assert_hit_contract(hit)
        assert any("governed by" in str(h["text"]) for h in hits), mode
    bad = dossier("search", "governing law", "--mode", "fuzzy", "--json", kb=kb)
    assert bad.code != 0
    assert "--mode must be hybrid, dense or bm25" in bad.stderr
    assert "fuzzy" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_search_doc_restricts_hits(kb: Path, doc_ids: dict[str, str]) -> None:
    ca = doc_ids[CA.name]
    hits = search(kb, "governing law", "--k", "5", "--doc", ca)
    assert hits
    assert {h["document_id"] for h in hits} == {ca}
    assert any("California" in str(h["text"]) for h in hits)


def test_human_ingest_output_and_data_dir_env(kb: Path) -> None:
    # No --kb, no --json: DOSSIER_DATA_DIR selects the same knowledge base
    # (the PDF is already there: unchanged), and the summary table shows it.
    run = dossier("ingest", str(CA), str(BAD), env={"DOSSIER_DATA_DIR": str(kb)})
    assert run.code == 1
    shown = run.stdout + run.stderr
    assert re.search(r"ingested 2 files in [\d.]+s", shown), shown[-2000:]
    for column in ("file", "status", "pages", "chunks", "document id / error"):
        assert column in shown
    row = next(line for line in shown.splitlines() if "SPONSORSHIP" in line)
    assert "unchanged" in row
    row = next(line for line in shown.splitlines() if BAD.name in line)
    assert "failed" in row
    assert not run.stdout.strip().startswith("{")  # no JSON without --json


def test_delete_and_kb_equals_data_dir_env(kb: Path, doc_ids: dict[str, str]) -> None:
    ny, ca = doc_ids[NY.name], doc_ids[CA.name]
    run = dossier("delete", ny, "--json", kb=kb)
    assert run.code == 0, run.stderr[-2000:]
    assert run.json == {"deleted": ny}
    by_flag = dossier("documents", "--json", kb=kb)
    by_env = dossier("documents", "--json", env={"DOSSIER_DATA_DIR": str(kb)})
    assert by_flag.code == by_env.code == 0
    assert by_flag.json == by_env.json
    assert [d["id"] for d in by_flag.json] == [ca]  # type: ignore[index]
    hits = search(kb, "governed by the laws of the state of New York", "--k", "10")
    assert hits  # the other contract still answers
    assert ny not in {h["document_id"] for h in hits}
    assert search(kb, "governing law", "--doc", ny) == []
    again = dossier("delete", ny, kb=kb)
    assert again.code != 0
    assert f"document {ny} not found" in again.stderr
