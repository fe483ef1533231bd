"""A search query embedded while a large ingestion call runs waits for one
forward pass, not for the whole call (real MiniLM)."""

from __future__ import annotations

import threading
import time

import numpy as np

from core.settings import EmbeddingSettings
from knowledge_base.embedding import SentenceTransformerEmbedder


def test_query_overtakes_a_long_embedding_call() -> None:
    embedder = SentenceTransformerEmbedder(EmbeddingSettings(batch_size=4), cache_size=0)
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
    np.testing.assert_allclose(vector, expected, atol=1e-6)
