"""A search query embedded while a large ingestion call runs waits for one
forward pass, not for the whole call (real MiniLM)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core.settings import EmbeddingSettings
from knowledge_base.embedding import SentenceTransformerEmbedder


@pytest.mark.parametrize("backend", ["openvino", "torch"])
def test_query_overtakes_a_long_embedding_call(backend: str) -> None:
    settings = EmbeddingSettings(batch_size=4, backend=backend)  # type: ignore[arg-type]
    embedder = SentenceTransformerEmbedder(settings, cache_size=0)
    query = "Which law governs this agreement?"
    expected = embedder.embed_batch([query])[0]
    texts = [
        f"Clause {i}. The supplier shall deliver lot {i} " + "and comply. " * 30 for i in range(400)
    ]
    big_done: list[float] = []

    def ingest() -> None:
        embedder.embed_batch(texts)
        big_done.append(time.perf_counter())

    worker = threading.Thread(target=ingest)
    worker.start()
    time.sleep(1.0)  # the large call is mid-way through its batches
    vector = embedder.embed_batch([query])[0]
    query_done = time.perf_counter()
    worker.join()
    assert big_done, "the large call finished"
    assert query_done < big_done[0], "the query waited for the whole ingestion call"
    np.testing.assert_allclose(vector, expected, atol=1e-5)


def test_small_calls_run_on_one_thread_large_ones_on_all() -> None:
    """torch backend: a query's forward pass uses one torch thread (no OpenMP spin-waiting
    against other processes); a large call keeps the configured threads, and
    the process setting is restored afterwards."""
    import torch

    embedder = SentenceTransformerEmbedder(
        EmbeddingSettings(threads=2, backend="torch"), cache_size=0
    )
    model = embedder.load()
    seen: list[int] = []
    handle = model[0].register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    try:
        before = torch.get_num_threads()
        query = embedder.embed_batch(["Which law governs this agreement?"])[0]
        embedder.embed_batch(
            [f"Clause {i}. The supplier shall deliver lot {i}." for i in range(40)]
        )
    finally:
        handle.remove()
    assert seen == [1, before]
    assert torch.get_num_threads() == before == 2
    np.testing.assert_allclose(np.linalg.norm(query), 1.0, atol=1e-5)


def test_parallel_large_calls_on_openvino_streams_keep_rows_in_place(
    contract_sentences: list[str],
) -> None:
    """Two ingestion-sized calls at once share the OpenVINO streams (and its
    pool of infer requests): every row is still its own text's vector."""
    embedder = SentenceTransformerEmbedder(
        EmbeddingSettings(batch_size=2, backend="openvino"), cache_size=0
    )
    texts = [f"{s} (copy {i})" for i, s in enumerate(contract_sentences * 3)]
    expected = np.stack([embedder.embed_query(t) for t in texts[:12]])
    results: dict[int, np.ndarray] = {}

    def call(n: int) -> None:
        results[n] = embedder.embed_batch(texts[n::2] if n else texts)

    threads = [threading.Thread(target=call, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # bf16 rounding differs with the batch's shape, so compare by cosine.
    assert np.min(np.sum(results[0][:12] * expected, axis=1)) > 0.9999
    assert np.min(np.sum(results[1] * results[0][1::2], axis=1)) > 0.9999
    assert np.max(results[0][:12] @ expected.T - np.eye(12) * 2) < 0.99  # not swapped
