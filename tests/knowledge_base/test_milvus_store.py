"""MilvusVectorStore on real Milvus Lite (tmp_path), real MiniLM vectors and
real sentences of a CUAD contract."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.errors import KnowledgeBaseError
from core.types import Chunk
from knowledge_base.embedding import SentenceTransformerEmbedder
from knowledge_base.milvus_store import MilvusVectorStore, _quote
from knowledge_base.protocols import SearchRequest, VectorStore
from tests.conftest import stop_process
from tests.knowledge_base.conftest import make_chunks

HOSTILE = ['a" or tenant != "x', 'acme" || tenant like "%', "b\\", 'c\\" or 1 == 1 or "', "d'e"]
MODES = ("dense", "bm25", "hybrid")

StoreFactory = Callable[..., MilvusVectorStore]


def request(
    embedder: SentenceTransformerEmbedder, text: str, mode: str, tenant: str = "acme", **kw: object
) -> SearchRequest:
    vector = embedder.embed_query(text).tolist()
    return SearchRequest(tenant=tenant, text=text, vector=vector, mode=mode, **kw)  # type: ignore[arg-type]


@pytest.fixture
def indexed(
    store: MilvusVectorStore, contract_sentences: list[str], sentence_vectors: np.ndarray
) -> tuple[MilvusVectorStore, list[Chunk]]:
    chunks = make_chunks(contract_sentences)
    store.upsert(chunks, sentence_vectors)
    return store, chunks


def body_with(chunks: list[Chunk], needle: str) -> str:
    (match,) = [c.body for c in chunks if needle in c.body]
    return match


# ------------------------------------------------------------------ escaping


def test_quote_escapes_backslash_and_double_quote() -> None:
    assert _quote("acme") == '"acme"'
    assert _quote('a"b') == '"a\\"b"'
    assert _quote("a\\b") == '"a\\\\b"'
    assert _quote('a\\"') == '"a\\\\\\""'
    assert _quote("") == '""'
    with pytest.raises(TypeError):
        _quote(3)  # type: ignore[arg-type]


def test_filter_always_carries_the_tenant() -> None:
    expr = MilvusVectorStore._filter("t1", ["d1"], ["d2"])
    assert expr == 'tenant == "t1" and document_id in ["d1"] and document_id not in ["d2"]'
    with pytest.raises(KnowledgeBaseError):
        MilvusVectorStore._filter("")


# ------------------------------------------------------------------ writes


def test_implements_protocol(store: MilvusVectorStore) -> None:
    assert isinstance(store, VectorStore)


def test_upsert_twice_keeps_one_copy_and_round_trips_chunks(
    indexed: tuple[MilvusVectorStore, list[Chunk]], sentence_vectors: np.ndarray
) -> None:
    store, chunks = indexed
    assert store.count("acme") == len(chunks) == 35
    store.upsert(chunks, sentence_vectors)
    assert store.count("acme") == 35
    assert store.count("acme", "doc-1") == 35
    assert store.count("acme", "other-doc") == 0
    assert store.count("nobody") == 0
    assert store.document_chunks("acme", "doc-1") == chunks  # every field survives


def test_upsert_replaces_a_changed_chunk(
    indexed: tuple[MilvusVectorStore, list[Chunk]], sentence_vectors: np.ndarray
) -> None:
    store, chunks = indexed
    changed = chunks[3].model_copy(update={"body": "Replaced body.", "heading_path": []})
    store.upsert([changed], sentence_vectors[3:4])
    stored = store.document_chunks("acme", "doc-1")
    assert len(stored) == 35
    assert stored[3].body == "Replaced body."
    assert stored[3].heading_path == []


def test_upsert_rejects_bad_vectors(
    store: MilvusVectorStore, contract_sentences: list[str]
) -> None:
    chunks = make_chunks(contract_sentences[:2])
    with pytest.raises(KnowledgeBaseError, match="2 chunks"):
        store.upsert(chunks, np.zeros((3, 384), dtype=np.float32))
    with pytest.raises(KnowledgeBaseError, match="dimension 8"):
        store.upsert(chunks, np.ones((2, 8), dtype=np.float32))
    store.upsert([], np.zeros((0, 384), dtype=np.float32))
    assert store.count("acme") == 0


def test_upsert_names_the_chunk_when_a_field_is_too_long(
    store: MilvusVectorStore, contract_sentences: list[str]
) -> None:
    (chunk,) = make_chunks(contract_sentences[:1])
    huge = chunk.model_copy(update={"document_name": "x" * 5000})
    with pytest.raises(KnowledgeBaseError, match=f"chunk {chunk.id}.*document_name"):
        store.upsert([huge], np.ones((1, 384), dtype=np.float32))


def test_document_chunks_in_ordinal_order_across_batches(store: MilvusVectorStore) -> None:
    """2,300 chunks written in scrambled order (5 upsert batches, 3 query pages)."""
    rng = np.random.default_rng(7)
    texts = [f"Clause {i}: the supplier shall deliver lot {i}." for i in range(2300)]
    chunks = make_chunks(texts, document_id="big")
    order = rng.permutation(len(chunks))
    vectors = rng.normal(size=(len(chunks), 384)).astype(np.float32)
    store.upsert([chunks[i] for i in order], vectors[order])
    stored = store.document_chunks("acme", "big")
    assert [c.ordinal for c in stored] == list(range(2300))
    assert stored == chunks
    assert store.document_chunks("acme", "missing") == []
    assert store.document_chunks("other-tenant", "big") == []
    same, stored_vectors = store.document_vectors("acme", "big")
    assert same == chunks
    np.testing.assert_allclose(stored_vectors, vectors, rtol=1e-6)  # row i belongs to chunk i
    empty, none = store.document_vectors("other-tenant", "big")
    assert empty == []
    assert none.shape == (0, 384)


def test_delete_documents_leaves_zero(
    indexed: tuple[MilvusVectorStore, list[Chunk]],
    contract_sentences: list[str],
    sentence_vectors: np.ndarray,
    st_embedder: SentenceTransformerEmbedder,
) -> None:
    store, _ = indexed
    other = make_chunks(contract_sentences, document_id="doc-2")
    store.upsert(other, sentence_vectors)
    assert store.count("acme") == 70
    store.delete_documents("acme", ["doc-1", "never-existed"])
    assert store.count("acme", "doc-1") == 0
    assert store.count("acme", "doc-2") == 35
    assert store.document_chunks("acme", "doc-1") == []
    for mode in MODES:
        hits = store.search(request(st_embedder, "governing law", mode, k=50))
        assert {h.chunk.document_id for h in hits} == {"doc-2"}
    store.delete_documents("acme", [])
    store.delete_documents("acme", ["doc-2"])
    assert store.count("acme") == 0


# ------------------------------------------------------------------ search


@pytest.mark.parametrize(
    ("mode", "query", "needle"),
    [
        ("dense", "Which jurisdiction's laws apply to this contract?", "laws of British Columbia"),
        ("dense", "How much is the consultant paid each year?", "annual fee"),
        ("bm25", "British Columbia laws", "laws of British Columbia"),
        ("bm25", "annual fee $240,000", "annual fee"),
        ("hybrid", "Can the agreement be assigned without consent?", "not assignable"),
        ("hybrid", "may the contractor keep the laptop and phone", "laptop computer"),
    ],
)
def test_each_mode_finds_the_obvious_chunk(
    indexed: tuple[MilvusVectorStore, list[Chunk]],
    st_embedder: SentenceTransformerEmbedder,
    mode: str,
    query: str,
    needle: str,
) -> None:
    store, chunks = indexed
    hits = store.search(request(st_embedder, query, mode, k=5))
    assert hits, mode
    assert hits[0].chunk.body == body_with(chunks, needle)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(s > 0 for s in scores)  # BM25 comes back negated from Milvus: flipped
    assert hits[0].chunk in chunks


@pytest.mark.parametrize("mode", MODES)
def test_smaller_k_is_a_prefix_of_larger_k(
    indexed: tuple[MilvusVectorStore, list[Chunk]],
    st_embedder: SentenceTransformerEmbedder,
    mode: str,
) -> None:
    """Top-k is stable across k (up to 64): paging and the nested retrieval
    eval rely on it, and the hybrid fusion pool does not depend on k."""
    store, _ = indexed
    query = "termination of the agreement and payment of fees"
    full = [h.chunk.id for h in store.search(request(st_embedder, query, mode, k=64))]
    assert len(full) > 8
    for k in (1, 3, 8):
        hits = store.search(request(st_embedder, query, mode, k=k))
        assert [h.chunk.id for h in hits] == full[:k]


def test_flush_keeps_rows_and_search_results(
    indexed: tuple[MilvusVectorStore, list[Chunk]], st_embedder: SentenceTransformerEmbedder
) -> None:
    store, chunks = indexed
    before = [h.chunk.id for h in store.search(request(st_embedder, "annual fee", "hybrid", k=10))]
    store.flush()
    after = [h.chunk.id for h in store.search(request(st_embedder, "annual fee", "hybrid", k=10))]
    assert after == before
    assert store.count("acme") == len(chunks)


def test_search_right_after_upsert_sees_the_rows(
    store: MilvusVectorStore, contract_sentences: list[str], sentence_vectors: np.ndarray
) -> None:
    for i in range(3):
        chunks = make_chunks(contract_sentences, document_id=f"d{i}")
        store.upsert(chunks, sentence_vectors)
        hits = store.search(
            SearchRequest(tenant="acme", text="British Columbia", mode="bm25", k=10)
        )
        assert len(hits) == i + 1
        dense = store.search(
            SearchRequest(
                tenant="acme", text="", vector=sentence_vectors[0].tolist(), mode="dense", k=200
            )
        )
        assert len(dense) == 35 * (i + 1)


def test_document_filters(
    indexed: tuple[MilvusVectorStore, list[Chunk]],
    contract_sentences: list[str],
    sentence_vectors: np.ndarray,
    st_embedder: SentenceTransformerEmbedder,
) -> None:
    store, _ = indexed
    store.upsert(make_chunks(contract_sentences, document_id='x" or "1'), sentence_vectors)
    for mode in MODES:
        only = store.search(
            request(st_embedder, "termination notice", mode, k=50, document_ids=["doc-1"])
        )
        assert only
        assert {h.chunk.document_id for h in only} == {"doc-1"}
        excluded = store.search(
            request(st_embedder, "termination notice", mode, k=50, exclude_document_ids=["doc-1"])
        )
        assert {h.chunk.document_id for h in excluded} == {'x" or "1'}
        assert store.search(request(st_embedder, "termination", mode, document_ids=[])) == []


def test_bm25_ignores_english_stop_words(indexed: tuple[MilvusVectorStore, list[Chunk]]) -> None:
    store, _ = indexed
    assert store.search(SearchRequest(tenant="acme", text="the of and to", mode="bm25")) == []
    assert store.search(SearchRequest(tenant="acme", text="   ", mode="bm25")) == []


def test_dense_and_hybrid_need_a_vector(indexed: tuple[MilvusVectorStore, list[Chunk]]) -> None:
    store, _ = indexed
    for mode in ("dense", "hybrid"):
        with pytest.raises(KnowledgeBaseError, match="vector"):
            store.search(SearchRequest(tenant="acme", text="fee", mode=mode))  # type: ignore[arg-type]
        with pytest.raises(KnowledgeBaseError, match="dimension"):
            store.search(SearchRequest(tenant="acme", text="fee", vector=[0.1] * 5, mode=mode))  # type: ignore[arg-type]


# ------------------------------------------------------------------ tenants


@pytest.mark.parametrize("intruder", ["tenant-b", *HOSTILE])
def test_tenant_never_sees_another_tenants_chunks(
    indexed: tuple[MilvusVectorStore, list[Chunk]],
    contract_sentences: list[str],
    sentence_vectors: np.ndarray,
    st_embedder: SentenceTransformerEmbedder,
    intruder: str,
) -> None:
    store, _ = indexed
    # The intruder owns one document of its own, with a hostile document id too.
    own = make_chunks(contract_sentences[:3], tenant=intruder, document_id=intruder)
    store.upsert(own, sentence_vectors[:3])
    assert store.count(intruder) == 3
    for mode in MODES:
        for query in ("governing law British Columbia", "annual fee", "terminate"):
            hits = store.search(
                request(st_embedder, query, mode, tenant=intruder, k=50, document_ids=None)
            )
            assert {h.chunk.tenant for h in hits} <= {intruder}, (mode, query)
        others = ["doc-1", *(h for h in HOSTILE if h != intruder)]
        assert (
            store.search(request(st_embedder, "fee", mode, tenant=intruder, document_ids=others))
            == []
        )
        mine = store.search(
            request(
                st_embedder, "fee", mode, tenant=intruder, k=50, document_ids=[*others, intruder]
            )
        )
        assert {(h.chunk.tenant, h.chunk.document_id) for h in mine} <= {(intruder, intruder)}
        excluded = store.search(
            request(st_embedder, "fee", mode, tenant=intruder, k=50, exclude_document_ids=HOSTILE)
        )
        assert {h.chunk.tenant for h in excluded} <= {intruder}
    assert store.count(intruder, "doc-1") == 0
    assert store.document_chunks(intruder, "doc-1") == []
    # Deleting acme's document ids as the intruder touches nothing of acme's.
    store.delete_documents(intruder, others)
    assert store.count("acme") == 35
    assert store.count(intruder) == 3
    store.delete_documents(intruder, [intruder])
    assert store.count(intruder) == 0
    assert store.count("acme") == 35


# ------------------------------------------------------------------ lifecycle


def test_reopen_keeps_data_and_checks_the_dimension(
    make_store: StoreFactory, contract_sentences: list[str], sentence_vectors: np.ndarray
) -> None:
    store = make_store("reopen")
    store.upsert(make_chunks(contract_sentences), sentence_vectors)
    store.close()
    again = make_store("reopen")
    assert again.count("acme") == 35
    again.close()
    with pytest.raises(KnowledgeBaseError, match="384-dimensional"):
        make_store("reopen", dimension=768)


def test_closing_the_last_lite_store_frees_the_db_for_another_process(
    tmp_path: Path, contract_sentences: list[str], sentence_vectors: np.ndarray
) -> None:
    """Two stores on one path share the embedded server: closing one keeps the
    other working; closing the last frees the lock, so a second process can
    open the knowledge base while this one lives on."""
    uri = str(tmp_path / "shared" / "milvus.db")
    first, second = MilvusVectorStore(uri), MilvusVectorStore(uri)
    first.upsert(make_chunks(contract_sentences), sentence_vectors)
    first.flush()
    first.close()
    assert second.count("acme") == 35
    second.close()
    second.close()  # idempotent
    repo = Path(__file__).resolve().parents[2]
    code = (
        "import sys; from knowledge_base.milvus_store import MilvusVectorStore; "
        "s = MilvusVectorStore(sys.argv[1]); print(s.count('acme')); s.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, uri], cwd=repo, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "35"


def test_bad_uri_is_a_knowledge_base_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(KnowledgeBaseError):
        MilvusVectorStore(str(blocker / "sub" / "milvus.db"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_works_against_a_milvus_lite_server(
    tmp_path: Path,
    contract_sentences: list[str],
    sentence_vectors: np.ndarray,
    st_embedder: SentenceTransformerEmbedder,
) -> None:
    """The same code over gRPC: ``milvus-lite server`` shared by processes."""
    executable = shutil.which("milvus-lite", path=str(Path(sys.executable).parent)) or shutil.which(
        "milvus-lite"
    )
    if executable is None:
        pytest.fail("milvus-lite executable not found next to the interpreter")
    port = _free_port()
    db = tmp_path / "server" / "milvus.db"
    db.parent.mkdir(parents=True)  # the server creates the .db folder itself
    server = subprocess.Popen(
        [executable, "server", "--data-dir", str(db), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    err = server.stderr.read().decode() if server.stderr else ""
                    pytest.fail(f"milvus-lite server did not start: {err[-2000:]}")
                time.sleep(0.3)
        store = MilvusVectorStore(f"http://127.0.0.1:{port}")
        try:
            chunks = make_chunks(contract_sentences)
            store.upsert(chunks, sentence_vectors)
            store.upsert(chunks, sentence_vectors)
            assert store.count("acme") == 35
            for mode in MODES:
                hits = store.search(
                    request(st_embedder, "British Columbia governing law", mode, k=3)
                )
                assert hits[0].chunk.body == body_with(chunks, "laws of British Columbia")
                assert store.search(request(st_embedder, "fee", mode, tenant=HOSTILE[0])) == []
            assert store.document_chunks("acme", "doc-1") == chunks
            store.delete_documents("acme", ["doc-1"])
            assert store.count("acme") == 0
        finally:
            store.close()
    finally:
        stop_process(server, timeout=20)
