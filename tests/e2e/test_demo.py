"""`make demo` end to end: scripts/demo.sh on a throw-away knowledge base.

Every step runs (ingest, documents, search, ask, review) on the real model,
Milvus Lite and the repository's sample contract, with DEMO_NO_LLM=1 so `ask`
gets ``--no-start`` and no vLLM server is started: the LLM address is a closed
port, the answer is evidence-only. The same knowledge base is then queried
with the same ``dossier`` command and ``--json`` to check the hits exactly.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOSSIER = REPO / ".venv" / "bin" / "dossier"
QUERY = "Which law governs the agreement?"  # the query scripts/demo.sh runs
NAMES = {"master-services-agreement.pdf", "master-services-agreement.docx"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DOSSIER.exists(), reason="no .venv/bin/dossier (run make setup)"),
]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    kb = tmp_path_factory.mktemp("demo") / "kb"
    llm_url = f"http://127.0.0.1:{_closed_port()}/v1"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DOSSIER_") or k == "DOSSIER_RUNTIME_DIR"}  # fmt: skip
    env.update(DEMO_NO_LLM="1", DOSSIER_LLM__BASE_URL=llm_url, COLUMNS="160")
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo.sh"), str(kb)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    return {"kb": kb, "env": env, "llm_url": llm_url, "out": proc.stdout, "err": proc.stderr}


def _json(demo: dict[str, Any], *args: str) -> Any:
    proc = subprocess.run(
        [str(DOSSIER), *args, "--kb", str(demo["kb"]), "--json"],
        cwd=REPO,
        env=demo["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_step_runs_in_order(demo: dict[str, Any]) -> None:
    steps = re.findall(r"== dossier (\w+)", demo["out"])
    assert steps == ["ingest", "documents", "search", "ask", "review"]
    assert "ingested 2 files" in demo["err"]
    assert "failed" not in demo["err"]


def test_search_step_shows_the_governing_law_clause_with_pages(demo: dict[str, Any]) -> None:
    search = demo["out"].split("== dossier search", 1)[1].split("== dossier ask", 1)[0]
    hits = re.findall(
        r"^\d\. (master-services-agreement\.\w+)\s+p\.(\d+)\s+(.*?)\s+score", search, re.M
    )
    assert {(name, page) for name, page, _ in hits[:2]} == {
        ("master-services-agreement.pdf", "3"),
        ("master-services-agreement.docx", "3"),
    }
    assert all(path.endswith("> 12.2") for _, _, path in hits[:2])
    assert "governed by the laws of the State of New York" in search


def test_ask_step_starts_no_llm_and_answers_from_evidence(demo: dict[str, Any]) -> None:
    ask = demo["out"].split("== dossier ask", 1)[1].split("== dossier review", 1)[0]
    assert "--no-start" in ask.splitlines()[0]
    last = demo["err"].split("Evidence-only answer:", 1)[1]  # said plainly, at the end
    assert demo["llm_url"] in last  # the closed port, nothing else was tried
    assert "Stopped the embedded LLM" not in demo["out"]
    assert "terminate this Agreement for convenience" in ask
    assert not (demo["kb"] / "llm" / "server.log").exists()  # no LLM was launched


def test_review_step_reports_on_the_sample(demo: dict[str, Any]) -> None:
    review = demo["out"].split("== dossier review", 1)[1]
    assert "# Contract review: master-services-agreement" in review
    assert "Termination for Convenience" in review
    assert "Governing Law** — New York" in review


def test_same_kb_through_the_json_commands(demo: dict[str, Any]) -> None:
    docs = _json(demo, "documents")
    assert {d["name"] for d in docs} == NAMES
    assert all(d["status"] == "ready" and d["chunks"] > 0 for d in docs)
    hits = _json(demo, "search", QUERY, "--k", "3")
    top = hits[:2]
    assert {h["document"] for h in top} == NAMES
    for h in top:
        assert h["page"] == 3
        assert h["clause_number"] == "12.2"
        assert h["text"].startswith("12.2 This Agreement is governed by the laws of the State")
        assert h["end"] - h["start"] == len(h["text"])
