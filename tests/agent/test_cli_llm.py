"""`dossier ask` and `dossier llm ...` through the real Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.agent.conftest import CUAD_PDF, closed_base_url

runner = CliRunner()


def last_json(output: str) -> object:
    return json.loads(output.strip().splitlines()[-1])


def test_llm_status_of_a_fresh_kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOSSIER_RUNTIME_DIR", str(tmp_path / "run"))  # not the session's server
    result = runner.invoke(app, ["llm", "status", "--kb", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    status = last_json(result.stdout)
    assert isinstance(status, dict)
    assert status["state"] == "stopped"
    assert status["pid"] is None


@pytest.fixture(scope="module")
def cli_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kb = tmp_path_factory.mktemp("cli-kb")
    result = runner.invoke(app, ["ingest", str(CUAD_PDF), "--kb", str(kb), "--json"])
    assert result.exit_code == 0, result.output
    return kb


@pytest.mark.slow
def test_ask_with_the_llm_down_prints_an_evidence_only_json_answer(cli_kb: Path) -> None:
    result = runner.invoke(
        app,
        ["ask", "Which state's law governs this agreement?", "--kb", str(cli_kb), "--json"],
        env={"DOSSIER_LLM__BASE_URL": closed_base_url(), "DOSSIER_LLM__MAX_RETRIES": "0"},
    )
    assert result.exit_code == 0, result.output
    answer = last_json(result.stdout)
    assert isinstance(answer, dict)
    assert set(answer) >= {"answer", "citations", "tool_calls", "timings", "usage"}
    assert answer["degraded"] is True
    assert answer["citations"]
    for citation in answer["citations"]:
        keys = {"n", "document", "document_id", "page", "quote", "verified", "cite"}
        assert set(citation) == keys
        assert citation["cite"] is None  # a contract: citation form is for opinions
        assert citation["verified"] is True
        assert citation["page"] >= 1
    assert set(answer["timings"]) == {"retrieval_s", "tools_s", "ttft_s", "total_s"}


@pytest.mark.slow
@pytest.mark.llm
def test_ask_streams_then_lists_sources(cli_kb: Path, llm_base_url: str) -> None:
    env = {"DOSSIER_LLM__BASE_URL": llm_base_url}
    result = runner.invoke(
        app, ["ask", "What law governs the agreement?", "--kb", str(cli_kb)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "Sources" in result.stdout
    assert "page" in result.stdout
    follow = runner.invoke(
        app,
        ["ask", "and termination?", "--kb", str(cli_kb), "--session", "cli-1", "--json"],
        env=env,
    )
    assert follow.exit_code == 0, follow.output
    data = last_json(follow.stdout)
    assert isinstance(data, dict)
    assert data["session_id"] == "cli-1"
