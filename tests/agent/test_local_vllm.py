"""The embedded vLLM manager: model preparation, start/stop/status, clear failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from agent.local_vllm import LOCAL_MODEL_NAME, LocalVLLMServer, prepare_local_model
from core.errors import ConfigurationError, LLMUnavailableError
from core.settings import load_settings
from tests.agent.conftest import free_port


def test_status_of_a_fresh_data_dir_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIER_RUNTIME_DIR", str(tmp_path / "run"))  # not the session's server
    server = LocalVLLMServer(load_settings(data_dir=tmp_path))
    status = server.status()
    assert not status.running
    assert status.to_json()["state"] == "stopped"
    assert server.stop() is False


def test_start_without_a_prepared_model_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIER_RUNTIME_DIR", str(tmp_path / "run"))  # not the session's server
    server = LocalVLLMServer(load_settings(data_dir=tmp_path))
    with pytest.raises(ConfigurationError, match="dossier llm prepare"):
        server.start()


def test_command_line_is_the_module_entry_point(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    cmd = LocalVLLMServer(settings).command()
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert cmd[cmd.index("--served-model-name") + 1] == LOCAL_MODEL_NAME
    assert cmd[cmd.index("--port") + 1] == str(settings.llm.local_port)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"


def test_server_computes_on_every_cpu_unless_told(tmp_path: Path) -> None:
    """No core is held back for vLLM's front end (agent TTFT p50 0.76-0.82 s
    vs 0.94-1.03 s on the 2-core box); ``llm.local_threads`` overrides."""
    env = LocalVLLMServer(load_settings(data_dir=tmp_path))._env()
    assert env["OMP_NUM_THREADS"] == str(len(os.sched_getaffinity(0)))
    assert env["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0"
    assert env["VLLM_NO_USAGE_STATS"] == "1"
    assert env["HF_HUB_OFFLINE"] == "1"
    settings = load_settings(data_dir=tmp_path)
    settings.llm.local_threads = 1
    assert LocalVLLMServer(settings)._env()["OMP_NUM_THREADS"] == "1"


@pytest.mark.slow
def test_prepare_is_idempotent(llm_model_dir: Path) -> None:
    before = (llm_model_dir / "model.safetensors").stat().st_mtime
    assert prepare_local_model(llm_model_dir) == llm_model_dir
    assert (llm_model_dir / "model.safetensors").stat().st_mtime == before
    config = json.loads((llm_model_dir / "config.json").read_text())
    assert "quantization_config" not in config
    assert (llm_model_dir / "chat_template.jinja").is_file() or "chat_template" in (
        llm_model_dir / "tokenizer_config.json"
    ).read_text()


@pytest.mark.slow
def test_a_dying_server_fails_with_the_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIER_RUNTIME_DIR", str(tmp_path / "run"))  # not the session's server
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    (broken / "dossier-prepared.json").write_text("{}")
    settings = load_settings(data_dir=tmp_path / "data")
    settings.llm.local_port = free_port()
    settings.llm.local_startup_timeout_s = 300
    server = LocalVLLMServer(settings, model_dir=broken)
    with pytest.raises(LLMUnavailableError, match="exited with code") as info:
        server.start()
    assert str(server.log_path) in str(info.value)
    assert not server.status().running
    assert not server.state_path.exists()


@pytest.mark.llm
@pytest.mark.slow
def test_session_server_reports_running_and_answers(llm_server: LocalVLLMServer | None) -> None:
    if llm_server is None:
        pytest.skip("DOSSIER_TEST_LLM_BASE_URL points at an external server")
    status = llm_server.status()
    assert status.running
    assert status.healthy
    assert status.model == LOCAL_MODEL_NAME
    assert status.pid is not None
    assert status.uptime_s is not None
    state = json.loads(llm_server.state_path.read_text())
    assert state["pid"] == status.pid
    assert state["port"] == llm_server.port
    models = httpx.get(f"{llm_server.base_url}/models", timeout=5).json()
    assert models["data"][0]["id"] == LOCAL_MODEL_NAME
    # starting again is a no-op on the running server
    assert llm_server.start().pid == status.pid
