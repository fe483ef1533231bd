"""docker/Dockerfile without a container engine (none on this machine): what
it copies exists and is let through the .dockerignore, every package of the
project is in the image, the stages compose builds exist, torch stays a CPU
build, the image runs offline, and the CPU vLLM stage serves the way
``dossier llm start`` does."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from agent.local_vllm import LocalVLLMServer
from core.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
DOCKERFILE = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
IGNORE = (DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8")


def _copied() -> list[str]:
    sources: list[str] = []
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            sources += line.split()[1:-1]
    return sources


def test_copied_paths_exist_and_pass_the_dockerignore() -> None:
    allowed = {line[1:].rstrip("/") for line in IGNORE.splitlines() if line.startswith("!")}
    assert _copied()
    for source in _copied():
        assert (REPO / source).exists(), source
        assert source in allowed, f"{source} is excluded by Dockerfile.dockerignore"


def test_every_project_package_is_in_the_image() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.rstrip("*") for p in patterns}
    assert packages <= set(_copied()), packages - set(_copied())


def test_compose_targets_are_stages() -> None:
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", DOCKERFILE, re.MULTILINE))
    targets = set()
    for name in ("compose.yaml", "compose.cpu.yaml"):
        text = (DOCKER / name).read_text(encoding="utf-8")
        targets |= set(re.findall(r"^\s+target:\s*(\S+)\s*$", text, re.MULTILINE))
        yaml.safe_load(text)
    assert targets
    assert targets <= stages, targets - stages


def test_torch_is_a_cpu_build_and_the_lock_is_installed_exactly() -> None:
    assert "pip install --no-deps -r requirements.lock" in DOCKERFILE
    assert "torch.version.cuda" in DOCKERFILE  # the build fails on a CUDA torch
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8").lower()
    assert "torch==2.13.0+cpu" in lock
    assert not re.search(r"^nvidia-", lock, re.MULTILINE)
    assert not re.search(r"^(torchvision|torchaudio|torchcodec)==", lock, re.MULTILINE)


def test_the_image_runs_offline() -> None:
    env = DOCKERFILE.split("ENV ", 1)[1].split("\n\n", 1)[0]
    for flag in ("HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "VLLM_NO_USAGE_STATS=1"):
        assert flag in env
    assert "snapshot_download" not in DOCKERFILE
    assert "huggingface-cli" not in DOCKERFILE


def test_cpu_llm_stage_serves_like_dossier_llm_start(tmp_path: Path) -> None:
    stage = DOCKERFILE.split("AS llm-cpu", 1)[1].split("FROM ", 1)[0]
    cmd = re.search(r"CMD \[(.*?)\]", stage, re.DOTALL)
    assert cmd is not None
    args = re.findall(r'"([^"]*)"', cmd.group(1))
    local = LocalVLLMServer(load_settings(data_dir=tmp_path)).command()
    for flag in ("--max-model-len", "--dtype", "--max-num-seqs"):
        assert args[args.index(flag) + 1] == local[local.index(flag) + 1], flag
    assert "--enforce-eager" in args
    assert args[: args.index("--model")] == ["python", "-m", "vllm.entrypoints.openai.api_server"]
