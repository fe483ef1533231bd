"""The bench frame: command runner, JSON contract, hooks, report writing."""

from __future__ import annotations

import sys
from pathlib import Path

from evaluation.bench import BenchContext, Section, _hook_section, _render_json, _write, run_command


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
