"""The estimate's typical row is a real row near the medians, and the range finds the true extremes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ml2sc.rowpick import cost_range, median_row


def test_median_row_ignores_scale_and_constant_features() -> None:
    # feature 0 in thousands, feature 1 in hundredths, feature 2 constant: row 2 is central in both
    rows = np.array(
        [[1000.0, 0.01, 5], [3000.0, 0.05, 5], [2000.0, 0.03, 5], [2100.0, 0.01, 5], [900.0, 0.05, 5]]
    )
    assert median_row(rows) == 2
    # an outlier in one feature moves the medians little: still row 2
    assert median_row(np.vstack([rows, [[1e9, 0.03, 5]]])) == 2


def test_median_row_of_one_row_and_bad_shapes() -> None:
    assert median_row(np.array([[1.0, 2.0]])) == 0
    with pytest.raises(ValueError, match="non-empty 2-D"):
        median_row(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="non-empty 2-D"):
        median_row(np.zeros(3))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 5)), elements=st.floats(-1e6, 1e6)))
def test_median_row_is_a_row_no_farther_than_any_other(rows: np.ndarray) -> None:
    index = median_row(rows)
    q1, med, q3 = np.percentile(rows, [25, 50, 75], axis=0)
    spread = np.where(q3 - q1 > 0, q3 - q1, np.inf)
    distance = np.sum(np.abs(rows - med) / spread, axis=1)
    assert 0 <= index < len(rows)
    assert distance[index] == distance.min()
    assert index == int(np.flatnonzero(distance == distance.min())[0])  # first of the ties


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=40))
def test_cost_range_is_min_and_max_with_first_indices(costs: list[int]) -> None:
    seen: list[int] = []
    r = cost_range(costs, lambda i: costs[i], progress=seen.append)
    assert (r.low, r.high, r.rows) == (min(costs), max(costs), len(costs))
    assert (r.low_index, r.high_index) == (costs.index(min(costs)), costs.index(max(costs)))
    assert sum(seen) == len(costs)
    assert r.to_json()["max_row"] == r.high_index


def test_cost_range_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one row"):
        cost_range([], lambda i: 0)
