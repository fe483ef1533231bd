"""SentenceTransformerEmbedder on the real MiniLM model and real contract text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigurationError
from core.settings import EmbeddingSettings
from knowledge_base.embedding import (
    SentenceTransformerEmbedder,
    cpu_supports_bf16,
    default_model_path,
)
from knowledge_base.protocols import Embedder


@pytest.fixture(scope="session")
def fp32_reference():  # type: ignore[no-untyped-def]
    """The plain sentence-transformers float32 model: the quality oracle."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    model.max_seq_length = 256

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)

    return encode


def test_implements_protocol_and_dimension(st_embedder: SentenceTransformerEmbedder) -> None:
    assert isinstance(st_embedder, Embedder)
    assert st_embedder.dimension == 384


def test_dimension_is_known_without_loading_the_model() -> None:
    embedder = SentenceTransformerEmbedder(EmbeddingSettings())
    assert embedder.dimension == 384
    assert embedder._model is None  # read from the pooling config, not the weights


def test_empty_input(st_embedder: SentenceTransformerEmbedder) -> None:
    out = st_embedder.embed_batch([])
    assert out.shape == (0, 384)
    assert out.dtype == np.float32


def test_rejects_a_bare_string(st_embedder: SentenceTransformerEmbedder) -> None:
    with pytest.raises(TypeError):
        st_embedder.embed_batch("governing law")  # type: ignore[arg-type]


@pytest.mark.slow
def test_shape_normalisation_and_order_with_duplicates_and_mixed_lengths(
    st_embedder: SentenceTransformerEmbedder, contract_sentences: list[str]
) -> None:
    long_text = " ".join(contract_sentences)  # far past 256 tokens: truncated
    texts = [
        contract_sentences[5],
        "Termination.",
        long_text,
        contract_sentences[5],  # duplicate within the call
        "",
        contract_sentences[30],
        "Termination.",
    ]
    st_embedder.clear_cache()
    out = st_embedder.embed_batch(texts)
    assert out.shape == (len(texts), 384)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out[0], out[3])
    np.testing.assert_array_equal(out[1], out[6])
    # Each row is the embedding of its own text, whatever order it was computed in.
    for i, text in enumerate(texts):
        single = st_embedder.embed_batch([text])[0]
        assert float(single @ out[i]) > 0.9999, i
    # Different texts really differ.
    assert float(out[0] @ out[5]) < 0.95


def test_cache_returns_identical_vectors(
    st_embedder: SentenceTransformerEmbedder, contract_sentences: list[str]
) -> None:
    st_embedder.clear_cache()
    first = st_embedder.embed_batch(contract_sentences[:4])
    second = st_embedder.embed_batch(list(reversed(contract_sentences[:4])))
    np.testing.assert_array_equal(first, second[::-1])
    query = st_embedder.embed_query(contract_sentences[2])
    assert query.shape == (384,)
    np.testing.assert_array_equal(query, first[2])


@pytest.mark.slow
def test_cache_is_bounded(
    contract_sentences: list[str], st_embedder: SentenceTransformerEmbedder
) -> None:
    embedder = SentenceTransformerEmbedder(EmbeddingSettings(), cache_size=3)
    embedder._model = st_embedder.load()  # share the loaded weights
    out = embedder.embed_batch(contract_sentences[:8])
    assert len(embedder._cache) == 3
    np.testing.assert_allclose(embedder.embed_batch(contract_sentences[:8]), out, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["openvino", "torch"])
@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
def test_matches_fp32_reference(
    backend: str,
    dtype: str,
    contract_sentences: list[str],
    fp32_reference,  # type: ignore[no-untyped-def]
) -> None:
    """Every speed trick, on either forward-pass engine, keeps cosine >= 0.9999
    against plain fp32 sentence-transformers, on 50 real contract texts of
    varied length (several batches, so OpenVINO runs them on parallel streams)."""
    texts = [
        *contract_sentences,
        *(" ".join(contract_sentences[i : i + 4]) for i in range(0, 30, 2)),
    ]
    assert len(texts) == 50
    settings = EmbeddingSettings(dtype=dtype, backend=backend, batch_size=2)  # type: ignore[arg-type]
    embedder = SentenceTransformerEmbedder(settings, cache_size=0)
    assert embedder.backend == backend
    got = embedder.embed_batch(texts)
    want = fp32_reference(texts)
    cosine = np.sum(got * want, axis=1)
    assert cosine.min() >= 0.9999, (backend, dtype, float(cosine.min()))
    if embedder.dtype == "fp32":
        assert cosine.min() >= 0.99999
    # A query (one text, one stream/thread) gives the same vector as inside a batch.
    single = embedder.embed_query(texts[7])
    assert float(single @ got[7]) > 0.9999


def test_default_backend_is_openvino_and_sends_no_telemetry(
    st_embedder: SentenceTransformerEmbedder,
) -> None:
    """OpenVINO is installed by make setup, so "auto" uses it; its conversion
    tooling would send usage telemetry, which this process must make impossible."""
    import sys

    assert st_embedder.backend == "openvino"
    assert sys.modules.get("openvino_telemetry") is None
    with pytest.raises(ImportError):
        import openvino_telemetry  # noqa: F401
    utils = sys.modules.get("openvino.tools.ovc.telemetry_utils")
    if utils is not None:  # the frontend imported it: it must be holding the no-op stub
        assert utils.tm.__name__ == "openvino.tools.ovc.telemetry_stub"


def test_openvino_backend_refuses_a_model_it_cannot_convert(tmp_path: Path) -> None:
    """An explicit openvino backend on a model that is not Transformer -> mean
    pooling is a configuration error naming the folder, not a silent fallback."""
    import shutil

    model = tmp_path / "cls-model"
    model.mkdir()
    for entry in default_model_path().iterdir():  # weights linked, pooling config copied
        if entry.name == "1_Pooling":
            shutil.copytree(entry, model / entry.name)
        else:
            (model / entry.name).symlink_to(entry)
    pooling = model / "1_Pooling" / "config.json"
    config = pooling.read_text(encoding="utf-8")
    pooling.write_text(
        config.replace(
            '"pooling_mode_mean_tokens": true', '"pooling_mode_mean_tokens": false'
        ).replace('"pooling_mode_cls_token": false', '"pooling_mode_cls_token": true'),
        encoding="utf-8",
    )
    embedder = SentenceTransformerEmbedder(EmbeddingSettings(model_path=model, backend="openvino"))
    with pytest.raises(ConfigurationError, match=r"cls-model.*mean"):
        embedder.embed_batch(["text"])
    auto = SentenceTransformerEmbedder(EmbeddingSettings(model_path=model))
    assert auto.backend == "torch"


def test_auto_dtype_follows_cpu_flags(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu sse avx2 avx512f avx512_bf16\n")
    assert cpu_supports_bf16(cpuinfo)
    cpuinfo.write_text("processor : 0\nflags : fpu sse avx2 amx_tile amx_bf16\n")
    assert cpu_supports_bf16(cpuinfo)
    cpuinfo.write_text("processor : 0\nflags : fpu sse avx2 avx512f\n")
    assert not cpu_supports_bf16(cpuinfo)
    assert not cpu_supports_bf16(tmp_path / "missing")
    expected = "bf16" if cpu_supports_bf16() else "fp32"
    assert SentenceTransformerEmbedder(EmbeddingSettings(dtype="auto")).dtype == expected
    assert SentenceTransformerEmbedder(EmbeddingSettings(dtype="fp32")).dtype == "fp32"


def test_missing_model_folder_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    embedder = SentenceTransformerEmbedder(EmbeddingSettings(model_path=missing))
    with pytest.raises(ConfigurationError, match="no-such-model"):
        embedder.embed_batch(["text"])
