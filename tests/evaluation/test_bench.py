"""The bench frame: command runner, JSON contract, hooks, report writing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from evaluation.bench import (
    BenchContext,
    Section,
    _hook_section,
    _render_json,
    _write,
    previous_sections,
    run_command,
)


def test_run_command_captures_json_time_and_peak_rss():
    code = "import json; x = bytearray(50 * 2**20); print('progress'); print(json.dumps({'ok': 1}))"
    result = run_command([sys.executable, "-c", code], timeout_s=60)
    assert result.returncode == 0
    assert result.json == {"ok": 1}
    assert result.peak_rss_mb >= 50
    assert result.wall_s > 0


def test_run_command_kills_at_the_timeout():
    result = run_command([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=1)
    assert result.timed_out
    assert "timed out" in result.failure()


def test_hook_section_reports_a_missing_eval_command():
    ctx = BenchContext(quick=True, budget_s=120)
    section = _hook_section(ctx, "Missing", "no-such-command", [], _render_json)
    assert any("Not yet available" in line for line in section.body)
    assert not section.data


def test_report_has_environment_and_commands(tmp_path: Path):
    ctx = BenchContext(quick=True, budget_s=60)
    section = Section("Example", commands=["dossier eval retrieval --json"], body=["| a |"])
    out = tmp_path / "BENCH.md"
    _write(out, ctx, [section])
    text = out.read_text()
    assert "CPU:" in text
    assert "versions:" in text
    assert "dossier eval retrieval --json" in text
    assert out.with_suffix(".json").exists()


def test_partial_rerun_keeps_the_other_sections(tmp_path: Path):
    out = tmp_path / "BENCH.md"
    first = BenchContext(quick=True, budget_s=60)
    old = [
        Section("Ingestion: 101 CUAD contracts (PDF)", body=["ingest table"], name="ingestion"),
        Section("agent", body=["Skipped: the time budget was spent."], name="agent"),
        Section("API latency under load", body=["old api"], name="api"),
    ]
    old[0].data = {"Dossier": {"pages": 2002}}
    _write(out, first, old)
    kept = previous_sections(out)
    assert set(kept) == {"ingestion", "agent", "api"}
    assert kept["ingestion"].data == {"Dossier": {"pages": 2002}}

    second = BenchContext(quick=True, budget_s=60)
    second.only, second.kept = {"agent", "api"}, kept
    fresh = [
        Section("Agent latency (local vLLM CPU, SmolLM2-135M)", body=["new agent"], name="agent"),
        Section("API latency under load", body=["new api"], name="api"),
    ]
    _write(out, second, fresh)
    text = out.read_text()
    assert text.index("ingest table") < text.index("new agent") < text.index("new api")
    assert "Skipped" not in text
    assert "old api" not in text
    assert "re-ran only `python -m evaluation.bench agent api`" in text
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["Ingestion: 101 CUAD contracts (PDF)"] == {"Dossier": {"pages": 2002}}
