"""The LegalBench-RAG span metric against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from evaluation.metrics import (
    PrecisionRecall,
    mean_precision_recall,
    merge_spans,
    overlap_length,
    span_precision_recall,
)

A, B = "a.txt", "b.txt"


def pr(retrieved, truth):
    result = span_precision_recall(retrieved, truth)
    return result.precision, result.recall


def test_full_overlap_is_perfect():
    assert pr([(A, 10, 20)], [(A, 10, 20)]) == (1.0, 1.0)


def test_retrieved_chunk_containing_the_truth():
    # 100 retrieved characters, the 10 relevant ones all covered.
    assert pr([(A, 0, 100)], [(A, 40, 50)]) == pytest.approx((0.1, 1.0))


def test_partial_overlap():
    # retrieved [0, 30), truth [20, 60): 10 shared characters.
    assert pr([(A, 0, 30)], [(A, 20, 60)]) == pytest.approx((10 / 30, 10 / 40))


def test_touching_spans_share_nothing():
    assert pr([(A, 0, 20)], [(A, 20, 40)]) == (0.0, 0.0)


def test_wrong_file_scores_zero():
    assert pr([(B, 10, 20)], [(A, 10, 20)]) == (0.0, 0.0)


def test_wrong_file_dilutes_precision():
    # right chunk (10 chars, all relevant) + a 30-char chunk from another file.
    assert pr([(A, 10, 20), (B, 10, 40)], [(A, 10, 20)]) == pytest.approx((10 / 40, 1.0))


def test_duplicate_chunks_count_once_for_overlap_but_twice_for_cost():
    # The same chunk retrieved twice: overlap is the union (10 chars), the
    # retrieved length is the sum (20 chars): recall stays <= 1.
    assert pr([(A, 10, 20), (A, 10, 20)], [(A, 10, 20)]) == pytest.approx((0.5, 1.0))


def test_overlapping_chunks_take_the_union():
    # [0, 30) and [20, 50) together cover [0, 50); truth [10, 40) is fully covered.
    precision, recall = pr([(A, 0, 30), (A, 20, 50)], [(A, 10, 40)])
    assert recall == pytest.approx(1.0)
    assert precision == pytest.approx(30 / 60)


def test_multiple_ground_truth_spans():
    truth = [(A, 0, 10), (A, 100, 120), (B, 5, 15)]  # 40 relevant characters
    retrieved = [(A, 5, 105), (B, 0, 10)]  # 100 + 10 = 110 retrieved
    # A: overlap [5,10)=5 + [100,105)=5; B: [5,10)=5  -> 15 shared
    assert pr(retrieved, truth) == pytest.approx((15 / 110, 15 / 40))


def test_disjoint_spans_match_the_reference_formula():
    # The reference sums, per retrieved snippet, its overlap with each truth span.
    truth = [(A, 0, 50), (A, 80, 200)]
    retrieved = [(A, 40, 90), (A, 150, 260), (B, 0, 50)]
    relevant = sum(
        max(0, min(e, te) - max(s, ts)) for f, s, e in retrieved for tf, ts, te in truth if f == tf
    )
    expected = (relevant / (50 + 110 + 50), relevant / (50 + 120))
    assert pr(retrieved, truth) == pytest.approx(expected)


def test_nothing_retrieved():
    assert pr([], [(A, 0, 10)]) == (0.0, 0.0)


def test_empty_truth_gives_zero_recall():
    assert pr([(A, 0, 10)], []) == (0.0, 0.0)


def test_merge_spans():
    assert merge_spans([(5, 10), (0, 3), (3, 4), (8, 12), (20, 20)]) == [(0, 4), (5, 12)]


def test_overlap_length():
    assert overlap_length([(0, 10), (20, 30)], [(5, 25)]) == 10
    assert overlap_length([], [(0, 1)]) == 0


def test_mean_is_unweighted_over_queries():
    mean = mean_precision_recall([PrecisionRecall(1.0, 0.0), PrecisionRecall(0.5, 1.0)])
    assert (mean.precision, mean.recall) == (0.75, 0.5)
    assert math.isnan(mean_precision_recall([]).precision)
