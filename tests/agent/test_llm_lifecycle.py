"""The embedded LLM's lifecycle across commands and knowledge bases.

- ``dossier serve`` and ``dossier ask`` stop, on SIGTERM / Ctrl-C, the vLLM
  server they started (it used to stay behind: 4 processes, ~4.4 GB), and
  leave alone one that was running before.
- One server per model and machine: a second KB's ``ask`` uses the server
  another KB started (it used to answer evidence-only: "port 8756 already
  serves an OpenAI API not started by Dossier"); a taken port moves the new
  server to a free one. Evidence-only answers say so in the last lines.

Real processes throughout; the interrupted starts are stopped seconds after
launch (vLLM is still importing), so they cost little CPU.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.llm_runtime import read_state
from agent.local_model import LOCAL_MODEL_NAME
from agent.local_vllm import LocalVLLMServer
from core.settings import load_settings
from tests.agent.conftest import CUAD_PDF, free_port

REPO = Path(__file__).resolve().parents[2]
DOSSIER = [sys.executable, "-m", "api"]

pytestmark = pytest.mark.slow


def _env(run_dir: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DOSSIER_RUNTIME_DIR=str(run_dir), DOSSIER_LLM__LOCAL_PORT=str(port))
    env.pop("DOSSIER_LLM__BASE_URL", None)
    return env


def _kb_with_model(tmp_path: Path, name: str, model_dir: Path) -> Path:
    """A data dir whose prepared model is the session's converted SmolLM2."""
    kb = tmp_path / name
    (kb / "models").mkdir(parents=True)
    (kb / "models" / LOCAL_MODEL_NAME).symlink_to(model_dir, target_is_directory=True)
    return kb


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _launched_pid(run_dir: Path) -> int:
    state = _wait(
        lambda: read_state(run_dir / f"llm-{LOCAL_MODEL_NAME}.json"), 240, "a vLLM launch"
    )
    assert isinstance(state, dict)
    return int(state["pid"])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_the_llm_it_started(tmp_path: Path, llm_model_dir: Path, sig: int) -> None:
    kb, run_dir = _kb_with_model(tmp_path, "kb", llm_model_dir), tmp_path / "run"
    cmd = [*DOSSIER, "serve", "--kb", str(kb), "--port", str(free_port())]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(run_dir, free_port()),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        pid = _launched_pid(run_dir)
        assert _group_alive(pid)
        proc.send_signal(sig)
        output = proc.communicate(timeout=90)[0].decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
    _wait(lambda: not _group_alive(pid), 30, "the vLLM process group to exit")
    assert not (run_dir / f"llm-{LOCAL_MODEL_NAME}.json").exists()
    assert "Traceback" not in output


def test_ask_interrupted_while_starting_stops_the_llm(tmp_path: Path, llm_model_dir: Path) -> None:
    kb, run_dir = _kb_with_model(tmp_path, "kb", llm_model_dir), tmp_path / "run"
    cmd = [*DOSSIER, "ask", "What is the term?", "--kb", str(kb)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(run_dir, free_port()),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        pid = _launched_pid(run_dir)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "stopped the embedded LLM this command had started" in stderr.decode()
    _wait(lambda: not _group_alive(pid), 30, "the vLLM process group to exit")
    assert not (run_dir / f"llm-{LOCAL_MODEL_NAME}.json").exists()


def test_a_taken_port_moves_the_new_server(
    tmp_path: Path, llm_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSSIER_RUNTIME_DIR", str(tmp_path / "run"))
    settings = load_settings(data_dir=tmp_path / "kb")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.llm.local_port = taken.getsockname()[1]
        server = LocalVLLMServer(settings, model_dir=llm_model_dir)
        try:
            status = server.start(wait=False)
            assert status.running
            assert server.started_here
            assert status.port != settings.llm.local_port
            other = LocalVLLMServer(load_settings(data_dir=tmp_path / "other"))
            assert other.status().pid == status.pid  # found through the runtime file
            assert other.base_url == status.base_url
            assert other.status().owner == str(tmp_path / "kb")
        finally:
            assert server.stop()
    assert not server.status().running


@pytest.mark.llm
def test_a_second_kb_uses_the_running_llm_and_leaves_it_running(
    tmp_path: Path, llm_server: LocalVLLMServer | None
) -> None:
    if llm_server is None:
        pytest.skip("DOSSIER_TEST_LLM_BASE_URL points at an external server")
    before = llm_server.status()
    assert before.running
    env = dict(os.environ)  # the session's runtime dir records the session server
    env.pop("DOSSIER_LLM__BASE_URL", None)
    env["DOSSIER_LLM__LOCAL_PORT"] = str(free_port())
    kb = tmp_path / "other-kb"  # no prepared model of its own
    ingest = subprocess.run([*DOSSIER, "ingest", str(CUAD_PDF), "--kb", str(kb), "--json"],
                            cwd=REPO, env=env, capture_output=True, timeout=300)  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr.decode()
    ask = subprocess.run([*DOSSIER, "ask", "Which law governs the agreement?", "--kb", str(kb),
                          "--json"], cwd=REPO, env=env, capture_output=True, timeout=600)  # fmt: skip
    assert ask.returncode == 0, ask.stderr.decode()
    result = json.loads(ask.stdout.decode().strip().splitlines()[-1])
    assert result["mode"] != "evidence-only", ask.stderr.decode()
    assert "Evidence-only" not in ask.stderr.decode()
    assert llm_server.status().pid == before.pid  # used, not restarted, not stopped
    serve = [*DOSSIER, "serve", "--kb", str(kb), "--port", str(free_port())]
    proc = subprocess.Popen(serve, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(20)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert llm_server.status().pid == before.pid  # it was running before: left alone


def test_evidence_only_is_said_plainly_and_without_library_noise(tmp_path: Path) -> None:
    env = _env(tmp_path / "run", free_port())
    kb = tmp_path / "kb"
    ingest = subprocess.run([*DOSSIER, "ingest", str(CUAD_PDF), "--kb", str(kb)],
                            cwd=REPO, env=env, capture_output=True, timeout=300)  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr.decode()
    ask = subprocess.run([*DOSSIER, "ask", "Which law governs?", "--kb", str(kb), "--no-start"],
                         cwd=REPO, env=env, capture_output=True, timeout=300)  # fmt: skip
    assert ask.returncode == 0
    stderr = ask.stderr.decode()
    tail = " ".join(stderr.split()[-60:])
    assert "Evidence-only answer: no language model was used" in tail
    assert "--no-start was given" in tail
    for noise in ("Loading weights", "loss_type", "WARNING", "Traceback"):  # #12 item 5
        assert noise not in stderr, stderr
    ask_json = subprocess.run([*DOSSIER, "ask", "Which law governs?", "--kb", str(kb),
                               "--no-start", "--json"], cwd=REPO, env=env, capture_output=True,
                              timeout=300)  # fmt: skip
    assert json.loads(ask_json.stdout.decode().strip().splitlines()[-1])["mode"] == "evidence-only"
