"""Fitting the clause model: per-category logistic regression, thresholds and
caps chosen by grouped cross-validation, presence calibration.

Used by ``scripts/train_clauses.py`` (fit on all labelled contracts) and by
``evaluation/clauses.py`` (``--cv K``: fit on K-1 folds, predict the held-out
one). Deterministic for a given seed. Needs scikit-learn (training only;
inference in :mod:`tools.clauses.model` is numpy).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tools.clauses.matching import quotes_match, token_counts
from tools.clauses.model import ClauseModel

__all__ = ["TrainingContract", "cv_predict", "fit_clause_model", "fold_of", "span_counts"]

log = logging.getLogger(__name__)

CAP_CHOICES = (1, 2, 3, 5)


@dataclass
class TrainingContract:
    """One labelled contract turned into classifier units."""

    name: str
    features: np.ndarray  # (n_chunks, n_features)
    labels: np.ndarray  # (n_chunks, n_categories) bool: overlaps a gold span
    #: ``matches[c][i]``: indexes of category c's gold quotes that chunk i matches
    #: under the evaluation rule.
    matches: list[list[frozenset[int]]]
    n_gold: np.ndarray  # (n_categories,) number of gold quotes

    @classmethod
    def build(
        cls,
        name: str,
        features: np.ndarray,
        bodies: Sequence[str],
        positive: Sequence[Sequence[int]],
        gold_quotes: Sequence[Sequence[str]],
    ) -> TrainingContract:
        n_cat = len(gold_quotes)
        labels = np.zeros((len(bodies), n_cat), dtype=bool)
        for i, cats in enumerate(positive):
            labels[i, list(cats)] = True
        body_counts = [token_counts(b) for b in bodies]
        matches: list[list[frozenset[int]]] = []
        for quotes in gold_quotes:
            qc = [token_counts(q) for q in quotes]
            matches.append(
                [frozenset(k for k, q in enumerate(qc) if quotes_match(bc, q)) for bc in body_counts]
                if quotes
                else [frozenset()] * len(bodies)
            )
        return cls(name, features, labels, matches, np.array([len(q) for q in gold_quotes]))


def fold_of(names: Sequence[str], k: int, seed: int) -> np.ndarray:
    """Fold index per contract: a seeded permutation dealt round-robin."""
    order = np.random.default_rng(seed).permutation(len(names))
    folds = np.empty(len(names), dtype=int)
    folds[order] = np.arange(len(names)) % k
    return folds


def _fit_weights(
    x: np.ndarray, y: np.ndarray, seed: int, c: float
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    n_cat = y.shape[1]
    coef = np.zeros((n_cat, x.shape[1]), dtype=np.float32)
    intercept = np.full(n_cat, -12.0, dtype=np.float32)
    for j in range(n_cat):
        if y[:, j].sum() < 2:
            continue  # never seen: never predicted
        clf = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        clf.fit(x, y[:, j])
        coef[j] = clf.coef_[0]
        intercept[j] = clf.intercept_[0]
    return coef, intercept


def span_counts(
    probs: np.ndarray, contract: TrainingContract, j: int, threshold: float, cap: int
) -> tuple[int, int, int, int]:
    """``(predicted, predicted_matching, gold, gold_matched)`` for category j."""
    order = np.argsort(-probs[:, j], kind="stable")
    chosen = [i for i in order[:cap] if probs[i, j] >= threshold]
    covered: set[int] = set()
    good = 0
    for i in chosen:
        m = contract.matches[j][i]
        good += bool(m)
        covered |= m
    return len(chosen), good, int(contract.n_gold[j]), len(covered)


def _choose_threshold(
    oof: Sequence[np.ndarray], contracts: Sequence[TrainingContract], j: int
) -> tuple[float, int, float]:
    """Threshold and cap maximising span F1 of category j on out-of-fold scores."""
    pooled = np.concatenate([p[:, j] for p in oof])
    candidates = np.unique(np.quantile(pooled, np.linspace(0.80, 0.9995, 60)))
    candidates = np.unique(np.concatenate([candidates, [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]]))
    best = (0.5, 1, -1.0)
    for cap in CAP_CHOICES:
        for t in candidates:
            pred = good = gold = hit = 0
            for p, c in zip(oof, contracts, strict=True):
                a, b, g, h = span_counts(p, c, j, float(t), cap)
                pred, good, gold, hit = pred + a, good + b, gold + g, hit + h
            prec = good / pred if pred else 0.0
            rec = hit / gold if gold else 0.0
            f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
            if f1 > best[2] + 1e-9:
                best = (float(t), cap, f1)
    return best


def _calibrate(oof: Sequence[np.ndarray], contracts: Sequence[TrainingContract]) -> np.ndarray:
    """Per category ``(a, b)``: presence probability = sigmoid(a * logit(max p) + b)."""
    from sklearn.linear_model import LogisticRegression

    n_cat = oof[0].shape[1]
    params = np.tile(np.array([1.0, 0.0], dtype=np.float32), (n_cat, 1))
    for j in range(n_cat):
        top = np.array([p[:, j].max() if len(p) else 0.0 for p in oof])
        present = np.array([c.n_gold[j] > 0 for c in contracts])
        if present.all() or not present.any():
            continue
        z = np.log(np.clip(top, 1e-6, 1 - 1e-6) / np.clip(1 - top, 1e-6, 1)).reshape(-1, 1)
        clf = LogisticRegression(C=1.0).fit(z, present)
        params[j] = (clf.coef_[0, 0], clf.intercept_[0])
    return params


def cv_predict(
    contracts: Sequence[TrainingContract], folds: np.ndarray, seed: int, c: float
) -> list[np.ndarray]:
    """Out-of-fold chunk probabilities for every contract."""
    out: list[np.ndarray] = [np.empty(0)] * len(contracts)
    for f in sorted(set(folds.tolist())):
        train = [c_ for c_, g in zip(contracts, folds, strict=True) if g != f]
        coef, intercept = _fit_weights(
            np.vstack([t.features for t in train]), np.vstack([t.labels for t in train]), seed, c
        )
        for i, g in enumerate(folds):
            if g == f:
                logits = contracts[i].features @ coef.T + intercept
                out[i] = 1.0 / (1.0 + np.exp(-np.clip(logits, -40, 40)))
        log.info("clauses.cv_fold fold=%d train_contracts=%d", f, len(train))
    return out


def fit_clause_model(
    contracts: Sequence[TrainingContract],
    categories: Sequence[str],
    *,
    embedding_dim: int,
    seed: int = 13,
    folds: int = 5,
    c: float = 4.0,
    metadata: dict[str, object] | None = None,
) -> ClauseModel:
    """Fit on ``contracts``; thresholds, caps and calibration from ``folds``-fold
    grouped (by contract) cross-validation inside them."""
    fold_ids = fold_of([c_.name for c_ in contracts], folds, seed)
    oof = cv_predict(contracts, fold_ids, seed, c)
    thresholds = np.zeros(len(categories), dtype=np.float32)
    caps = np.zeros(len(categories), dtype=np.int32)
    cv_f1 = {}
    for j, name in enumerate(categories):
        t, cap, f1 = _choose_threshold(oof, contracts, j)
        thresholds[j], caps[j], cv_f1[name] = t, cap, round(f1, 4)
    calibration = _calibrate(oof, contracts)
    coef, intercept = _fit_weights(
        np.vstack([t.features for t in contracts]), np.vstack([t.labels for t in contracts]), seed, c
    )
    return ClauseModel(
        categories=list(categories),
        coef=coef,
        intercept=intercept,
        thresholds=thresholds,
        caps=caps,
        calibration=calibration,
        embedding_dim=embedding_dim,
        metadata={**(metadata or {}), "seed": seed, "folds": folds, "C": c, "cv_span_f1": cv_f1},
    )
