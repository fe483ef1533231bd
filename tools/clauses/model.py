"""The trained clause classifier: one logistic regression per category.

Stored as a small ``.npz`` of plain arrays (no pickle): ``coef`` (categories x
features), ``intercept``, per-category decision ``thresholds`` (chosen by
grouped cross-validation to maximise span F1), the category names and the
feature layout (embedding dimension, cue version and count) checked on load.
Inference needs only numpy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigurationError
from tools.clauses.features import CUE_VERSION, CUES, N_POSITION_FEATURES

__all__ = ["DEFAULT_MODEL_FILE", "ClauseModel"]

DEFAULT_MODEL_FILE = "clause_model.npz"


@dataclass
class ClauseModel:
    """Per-category linear scorer over :func:`tools.clauses.features.feature_matrix`."""

    categories: list[str]
    coef: np.ndarray  # (n_categories, n_features) float32
    intercept: np.ndarray  # (n_categories,)
    thresholds: np.ndarray  # (n_categories,) probability cut-offs
    #: At most ``caps[j]`` passages are reported per category and document.
    caps: np.ndarray  # (n_categories,) int
    #: ``(a, b)`` per category: presence confidence = sigmoid(a * logit(max p) + b).
    calibration: np.ndarray  # (n_categories, 2)
    embedding_dim: int = 384
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return self.embedding_dim + len(CUES) + N_POSITION_FEATURES

    def index(self, category: str) -> int:
        return self.categories.index(category)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probabilities, shape ``(n_passages, n_categories)``."""
        if features.ndim != 2 or features.shape[1] != self.coef.shape[1]:
            raise ValueError(
                f"feature matrix has shape {features.shape}; model expects (*, {self.coef.shape[1]})"
            )
        logits = features.astype(np.float32) @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -40.0, 40.0)))

    def presence_confidence(self, j: int, top_probability: float) -> float:
        """Calibrated probability that category j is present, from its best passage."""
        p = min(max(top_probability, 1e-6), 1 - 1e-6)
        a, b = self.calibration[j]
        return float(1.0 / (1.0 + np.exp(-(a * np.log(p / (1 - p)) + b))))

    # -- persistence ----------------------------------------------------------
    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
            thresholds=self.thresholds.astype(np.float32),
            caps=self.caps.astype(np.int32),
            calibration=self.calibration.astype(np.float32),
            header=np.array(
                json.dumps(
                    {
                        "format": 1,
                        "categories": self.categories,
                        "embedding_dim": self.embedding_dim,
                        "cue_version": CUE_VERSION,
                        "n_cues": len(CUES),
                        "metadata": self.metadata,
                    }
                )
            ),
        )

    @classmethod
    def load(cls, path: Path | None = None) -> ClauseModel:
        """Load ``path`` or the model shipped in the package.

        Raises ``ConfigurationError`` naming the file when it is missing,
        unreadable, or was trained for a different feature layout.
        """
        source = path or Path(str(resources.files(__package__).joinpath(DEFAULT_MODEL_FILE)))
        try:
            with np.load(source, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                coef, intercept = data["coef"], data["intercept"]
                thresholds = data["thresholds"]
                caps, calibration = data["caps"], data["calibration"]
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigurationError(
                f"{source}: cannot load clause model ({exc}); run scripts/train_clauses.py"
            ) from exc
        if header.get("cue_version") != CUE_VERSION or header.get("n_cues") != len(CUES):
            raise ConfigurationError(
                f"{source}: clause model was trained with cue list v{header.get('cue_version')} "
                f"({header.get('n_cues')} cues); this code has v{CUE_VERSION} ({len(CUES)}); "
                "retrain with scripts/train_clauses.py"
            )
        model = cls(
            categories=list(header["categories"]),
            coef=coef,
            intercept=intercept,
            thresholds=thresholds,
            embedding_dim=int(header["embedding_dim"]),
            caps=caps,
            calibration=calibration,
            metadata=dict(header.get("metadata") or {}),
        )
        if coef.shape != (len(model.categories), model.n_features):
            raise ConfigurationError(f"{source}: weight shape {coef.shape} does not match header")
        return model
