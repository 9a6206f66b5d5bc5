"""Which row an estimate speaks for: a typical one, and the cheapest and dearest of a set.

Inference gas depends on the row (ReLU's two branches, sigmoid's exponent steps, saturation), so
"the gas of one inference" needs a row. An all-zero row is not typical of any real data (it sits
on every ReLU's cheap branch), and the first row of a file is typical only by luck. The typical
row here is the *median row*: the real row nearest the per-feature medians, each feature measured
in its own spread (interquartile range) so that a feature in thousands does not outvote one in
hundredths. It is a row of the data, so its cost is a cost the contract really charges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CostRange", "cost_range", "median_row"]


def median_row(rows: np.ndarray) -> int:
    """The index of the row nearest the per-feature medians (L1, each feature over its IQR; a
    feature with no spread counts for nothing). Ties go to the first such row."""
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise ValueError(f"median_row needs a non-empty 2-D array of rows, got shape {rows.shape}")
    q1, median, q3 = np.percentile(rows, [25, 50, 75], axis=0)
    spread = q3 - q1
    spread = np.where(spread > 0, spread, np.inf)  # a constant feature adds 0 to every distance
    distance = np.sum(np.abs(rows - median) / spread, axis=1)
    return int(np.argmin(distance))


@dataclass(frozen=True)
class CostRange:
    """The cheapest and the dearest row of a set under a cost function (indices into the set)."""

    low_index: int
    low: int
    high_index: int
    high: int
    rows: int

    def to_json(self) -> dict[str, int]:
        return {
            "min": self.low,
            "min_row": self.low_index,
            "max": self.high,
            "max_row": self.high_index,
            "rows": self.rows,
        }


def cost_range(rows: Sequence[object], cost: Callable[[int], int], *, progress=None) -> CostRange:
    """Evaluate ``cost(i)`` for every row index and keep the extremes (first index on ties);
    ``progress(n)``, where given, is called once per row."""
    if len(rows) == 0:
        raise ValueError("a gas range needs at least one row")
    low_i = high_i = 0
    low = high = cost(0)
    if progress:
        progress(1)
    for i in range(1, len(rows)):
        value = cost(i)
        if value < low:
            low_i, low = i, value
        if value > high:
            high_i, high = i, value
        if progress:
            progress(1)
    return CostRange(low_i, low, high_i, high, len(rows))
