"""Read inference inputs: CSV (one row per sample, features only) or NumPy ``.npy``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


class InputError(ValueError):
    """An input file that cannot be read as rows of finite floats; the message names the file."""


def read_rows(path: str | Path) -> np.ndarray:
    """A 2-D float array, one row per sample. A non-numeric first CSV line is a header."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(f"cannot read {path} as .npy: {exc}") from None
        array = np.atleast_2d(np.asarray(array, dtype=np.float64))
    else:
        array = _read_csv(path)
    if array.ndim != 2 or array.shape[0] == 0:
        raise InputError(f"{path} holds no rows")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{path} holds a NaN or infinite value")
    return array


def _read_csv(path: Path) -> np.ndarray:
    rows: list[list[float]] = []
    with path.open(newline="") as handle:
        for line_no, record in enumerate(csv.reader(handle), start=1):
            if not record or all(not cell.strip() for cell in record):
                continue
            try:
                rows.append([float(cell) for cell in record])
            except ValueError:
                if line_no == 1 and not rows:
                    continue  # header
                raise InputError(f"{path}:{line_no}: not a number in {record!r}") from None
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise InputError(f"{path}: rows have different lengths {sorted(widths)}")
    return np.array(rows, dtype=np.float64)
