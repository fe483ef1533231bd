"""The compose files validate and keep their deployment promises.

Runs the real ``docker-compose config`` (Debian's docker-compose 1.29 needs no
engine; ``docker compose`` v2 works too) on the GPU stack and on the CPU
overlay, with and without the env profiles, and checks the merged result:
the service set, one published port (the API's, on 127.0.0.1 by default),
a health check on every service, named volumes only, an internal backend
network, and a vLLM command that carries the tool-call parser variable.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
GPU = [DOCKER / "compose.yaml"]
CPU = [DOCKER / "compose.yaml", DOCKER / "compose.cpu.yaml"]
ENV = DOCKER / "env"

BACKENDS = {"etcd", "minio", "milvus", "postgres", "api", "worker"}


def _compose_cmd() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    pytest.skip("neither docker-compose nor the docker compose plugin is installed")


def compose_config(files: list[Path], env_file: Path | None = None, **env: str) -> dict[str, Any]:
    """The merged, interpolated configuration as ``docker-compose config`` prints it."""
    cmd = [*_compose_cmd(), "--project-directory", str(DOCKER)]
    for f in files:
        cmd += ["-f", str(f)]
    if env_file is not None:
        cmd += ["--env-file", str(env_file)]
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "DOSSIER_"))}
    proc = subprocess.run(
        [*cmd, "config"],
        capture_output=True,
        text=True,
        env={**clean_env, **env},
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"{' '.join(cmd)} config failed:\n{proc.stderr}"
    config = yaml.safe_load(proc.stdout)
    assert isinstance(config, dict)
    return config


def active_services(config: dict[str, Any], profiles: frozenset[str] = frozenset()) -> set[str]:
    """Services ``up`` starts: those without profiles, or with an enabled one."""
    return {
        name
        for name, svc in config["services"].items()
        if not svc.get("profiles") or set(svc["profiles"]) & profiles
    }


CASES = {
    "gpu-defaults": (GPU, None, "vllm"),
    "gpu-env": (GPU, ENV / "gpu.env", "vllm"),
    "cpu-defaults": (CPU, None, "vllm-cpu"),
    "cpu-env": (CPU, ENV / "cpu.env", "vllm-cpu"),
}


@pytest.fixture(params=sorted(CASES), scope="module")
def case(request: pytest.FixtureRequest) -> tuple[dict[str, Any], str]:
    files, env_file, llm = CASES[request.param]
    return compose_config(files, env_file), llm


def test_service_set(case: tuple[dict[str, Any], str]) -> None:
    config, llm = case
    assert active_services(config) == BACKENDS | {llm}
    if llm == "vllm-cpu":
        # The GPU server is parked in a profile, and the CPU one answers as `vllm`.
        assert config["services"]["vllm"]["profiles"]
        aliases = config["services"]["vllm-cpu"]["networks"]["backend"]["aliases"]
        assert "vllm" in aliases
        assert "deploy" not in config["services"]["vllm-cpu"]


def test_only_the_api_publishes_a_port_on_localhost(case: tuple[dict[str, Any], str]) -> None:
    config, _ = case
    published = {name for name, svc in config["services"].items() if svc.get("ports")}
    assert published == {"api"}
    (port,) = config["services"]["api"]["ports"]
    text = port if isinstance(port, str) else f"{port.get('host_ip')}:{port.get('published')}"
    assert text.startswith("127.0.0.1:"), f"API must bind to localhost by default: {port}"
    for name, svc in config["services"].items():
        assert "expose" not in svc or name == "api"
        assert svc.get("network_mode") != "host", name
        assert not svc.get("privileged"), name


def test_backend_network_is_internal(case: tuple[dict[str, Any], str]) -> None:
    config, _ = case
    assert config["networks"]["backend"].get("internal") is True
    on_frontend = {
        name
        for name, svc in config["services"].items()
        if "frontend" in (svc.get("networks") or {})
    }
    assert on_frontend == {"api"}


def test_every_service_has_a_healthcheck(case: tuple[dict[str, Any], str]) -> None:
    config, _ = case
    for name, svc in config["services"].items():
        check = svc.get("healthcheck")
        assert check, f"{name}: no healthcheck"
        assert check.get("test"), f"{name}: healthcheck without a test"
        assert not check.get("disable"), f"{name}: healthcheck disabled"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_volumes_are_named(case: tuple[dict[str, Any], str]) -> None:
    config, _ = case
    declared = set(config.get("volumes") or {})
    for name, svc in config["services"].items():
        for volume in svc.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            kind = "volume" if isinstance(volume, str) else volume.get("type", "volume")
            assert kind == "volume", f"{name}: {volume} is a bind mount, not a named volume"
            assert source in declared, f"{name}: {volume} is not a declared named volume"
    for stateful in ("etcd", "minio", "milvus", "postgres", "api", "worker"):
        assert config["services"][stateful].get("volumes"), f"{stateful} keeps no data"


def _llm_command(config: dict[str, Any], llm: str) -> list[str]:
    command = config["services"][llm]["command"]
    return command if isinstance(command, list) else command.split()


def test_vllm_carries_the_tool_call_parser(case: tuple[dict[str, Any], str]) -> None:
    config, llm = case
    command = _llm_command(config, llm)
    assert "--enable-auto-tool-choice" in command
    assert command[command.index("--tool-call-parser") + 1] == "hermes"


TOOL_CALLING = {"gpu-defaults": "auto", "gpu-env": "native", "cpu-defaults": "planner",
                "cpu-env": "planner"}  # fmt: skip


def test_dossier_asks_for_the_model_the_server_serves() -> None:
    """Without an env file too: the CPU overlay must not leave the API asking
    vllm-cpu (SmolLM2) for compose.yaml's GPU default model, with native tools."""
    for name, (files, env_file, llm) in sorted(CASES.items()):
        config = compose_config(files, env_file)
        command = _llm_command(config, llm)
        served = command[command.index("--served-model-name") + 1]
        for service in ("api", "worker"):
            env = config["services"][service]["environment"]
            assert env["DOSSIER_LLM__MODEL"] == served, (name, service)
            assert env["DOSSIER_LLM__TOOL_CALLING"] == TOOL_CALLING[name], (name, service)
    # One variable renames the served model everywhere, on the CPU overlay too.
    config = compose_config(CPU, LLM_SERVED_NAME="qwen2.5-1.5b-instruct")
    command = _llm_command(config, "vllm-cpu")
    assert command[command.index("--served-model-name") + 1] == "qwen2.5-1.5b-instruct"
    for service in ("api", "worker"):
        env = config["services"][service]["environment"]
        assert env["DOSSIER_LLM__MODEL"] == "qwen2.5-1.5b-instruct"


def test_worker_health_check_is_its_readyz(case: tuple[dict[str, Any], str]) -> None:
    config, _ = case
    worker = config["services"]["worker"]
    command = worker["command"]
    port = command[command.index("--health-port") + 1]
    assert "--health-host" not in command, "inside the container only (127.0.0.1)"
    assert not worker.get("ports")
    assert not worker.get("expose")
    test = " ".join(worker["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/readyz" in test
    assert worker["environment"]["DOSSIER_WORKER__STALE_AFTER_S"] == "600"


@pytest.mark.parametrize(("files", "llm"), [(GPU, "vllm"), (CPU, "vllm-cpu")], ids=["gpu", "cpu"])
def test_tool_call_parser_and_model_are_variables(files: list[Path], llm: str) -> None:
    config = compose_config(
        files, LLM_TOOL_CALL_PARSER="llama3_json", LLM_MODEL="/models/Llama-3.1-8B-Instruct"
    )
    command = _llm_command(config, llm)
    assert command[command.index("--tool-call-parser") + 1] == "llama3_json"
    if llm == "vllm":
        assert command[command.index("--model") + 1] == "/models/Llama-3.1-8B-Instruct"
        assert config["services"]["vllm"]["deploy"]["resources"]["reservations"]["devices"]


def test_dossier_services_share_one_configuration() -> None:
    config = compose_config(GPU, ENV / "gpu.env")
    api, worker = config["services"]["api"], config["services"]["worker"]
    assert api["environment"] == worker["environment"]
    env = api["environment"]
    assert env["DOSSIER_CATALOG__URL"].startswith("postgresql+psycopg://")
    assert env["DOSSIER_MILVUS__URI"] == "http://milvus:19530"
    assert env["DOSSIER_LLM__BASE_URL"] == "http://vllm:8000/v1"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert "--no-worker" in api["command"]
    assert worker["command"][:2] == ["dossier", "worker"]
    assert api["image"] == worker["image"]


def test_env_profiles_only_set_variables_the_compose_files_read() -> None:
    """A typo in an env profile would silently fall back to a default."""
    used = set()
    for f in (DOCKER / "compose.yaml", DOCKER / "compose.cpu.yaml"):
        used |= set(re.findall(r"\$\{([A-Z0-9_]+)", f.read_text(encoding="utf-8")))
    for profile in ("gpu.env", "cpu.env"):
        for line in (ENV / profile).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key = line.split("=", 1)[0].strip()
                assert key in used, f"docker/env/{profile}: {key} is not used by any compose file"
