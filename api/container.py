"""The composition root: the only place that builds concrete backends.

Both roots (the Litestar app and the CLI) call these builders with the
Settings they built once; everything below receives protocols.
"""

from __future__ import annotations

import os
from functools import cached_property

from core.settings import Settings
from ingest.chunking import Chunker
from ingest.pipeline import IngestPipeline
from knowledge_base.catalog import Catalog
from knowledge_base.embedding import SentenceTransformerEmbedder
from knowledge_base.milvus_store import MilvusVectorStore
from knowledge_base.service import KnowledgeBase
from knowledge_base.tokens import TokenCounter

__all__ = ["Container", "offline_environment"]


def offline_environment() -> None:
    """Nothing leaves the machine: no hub calls, no telemetry."""
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ.setdefault(key, value)


class Container:
    """Lazily built backends for one Settings object."""

    def __init__(self, settings: Settings, *, embedder: object | None = None) -> None:
        """``embedder`` lets a caller share one loaded model between containers
        (tests, the bench); otherwise it is built from ``settings.embedding``."""
        offline_environment()
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if embedder is not None:
            self.__dict__["embedder"] = embedder

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.settings.catalog_url, self.settings.files_dir)

    @cached_property
    def embedder(self) -> SentenceTransformerEmbedder:
        return SentenceTransformerEmbedder(self.settings.embedding)

    @cached_property
    def store(self) -> MilvusVectorStore:
        m = self.settings.milvus
        return MilvusVectorStore(
            uri=self.settings.milvus_uri,
            collection=m.collection,
            dimension=self.embedder.dimension,
            token=m.token.get_secret_value() if m.token else None,
            rrf_k=self.settings.retrieval.rrf_k,
            bm25_weight=self.settings.retrieval.bm25_weight,
            dense_weight=self.settings.retrieval.dense_weight,
        )

    @cached_property
    def kb(self) -> KnowledgeBase:
        return KnowledgeBase(self.embedder, self.store, self.catalog)

    @cached_property
    def token_counter(self) -> TokenCounter:
        return TokenCounter(
            self.settings.embedding.model_path / "tokenizer.json"
            if self.settings.embedding.model_path
            else None
        )

    @cached_property
    def pipeline(self) -> IngestPipeline:
        s = self.settings.ingest
        chunker = Chunker(self.token_counter, s.chunk_target_tokens, s.chunk_max_tokens)
        return IngestPipeline(
            self.kb,
            chunker,
            s,
            heading_path_in_vector=self.settings.embedding.heading_path_in_vector,
            live_job_window_s=self.settings.worker.stale_after_s,
        )

    def close(self) -> None:
        if "kb" in self.__dict__:
            self.kb.close()
        else:
            if "store" in self.__dict__:
                self.store.close()
            if "catalog" in self.__dict__:
                self.catalog.close()
