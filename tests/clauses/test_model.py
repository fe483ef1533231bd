"""The shipped clause model: plain arrays (no pickle), one row per category."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigurationError
from tools.clauses import ClauseModel, category_names
from tools.clauses.features import CUES, feature_matrix


def test_shipped_model_loads_without_pickle() -> None:
    path = Path(str(resources.files("tools.clauses").joinpath("clause_model.npz")))
    assert path.stat().st_size < 2_000_000
    with np.load(path, allow_pickle=False) as data:
        assert {"coef", "intercept", "thresholds", "caps", "calibration", "header"} <= set(
            data.files
        )
    model = ClauseModel.load()
    assert model.categories == category_names()
    assert model.coef.shape == (41, 384 + len(CUES) + 3)
    assert model.metadata["seed"] == 13


def test_scores_are_probabilities() -> None:
    model = ClauseModel.load()
    emb = np.random.default_rng(0).normal(size=(3, 384)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    texts = ["This Agreement shall be governed by the laws of Delaware.", "Fees.", "Notices."]
    probs = model.predict_proba(feature_matrix(emb, texts, [0, 1, 2], 3))
    assert probs.shape == (3, 41)
    assert ((probs >= 0) & (probs <= 1)).all()


def test_unreadable_model_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "m.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ConfigurationError, match=r"m\.npz: cannot load clause model"):
        ClauseModel.load(bad)


def test_cue_prefilter_matches_plain_regex_search() -> None:
    """The literal prefilter of ``cue_features`` never changes a feature."""
    from tools.clauses.features import CUES, cue_features

    texts = [
        "THIS SUPPLY AGREEMENT is made by and between Acme Inc. and Beta LLC.",
        "This Agreement shall be governed by the laws of the State of New York.",
        "IN NO EVENT SHALL EITHER PARTY'S AGGREGATE LIABILITY EXCEED THE FEES PAID.",
        "Licensee shall not, for two (2) years, compete with or solicit employees.",
        "Either party may terminate this Agreement for convenience on 30 days' notice.",
        "Straße, ſervice, KELVIN, café: unusual letters around ordinary words.",
        "",
    ]
    expected = [[1.0 if pattern.search(t) else 0.0 for _, pattern in CUES] for t in texts]
    assert cue_features(texts).tolist() == expected
    assert cue_features(texts[:5]).sum() > 5  # the texts do hit cues
