"""Read inference inputs: a text table (one row per sample, features only) or a NumPy ``.npy`` array.

Every failure is one ``InputError`` line naming the file, and for text the line and column.

Text files (CSV and the like; UTF-8, a byte-order mark allowed):

- Delimiter: whichever of comma, semicolon and tab the file uses (outside double quotes); a file using
  none of them is split on runs of whitespace (``np.savetxt``'s default) or is one column. A file using
  two of them is refused, since a guess could silently shift columns (a semicolon or tab file with
  decimal commas lands here, with a hint).
- Blank lines and lines starting with ``#`` (``np.savetxt(header=...)``) are skipped.
- Header: the first line is a header when none of its cells is a number (column names), or when its
  cells are the bare integers ``0,1,...,n-1`` that pandas writes by default, provided more lines follow
  and either n >= 3 or a line below holds a non-integer. Otherwise a first line of numbers is data:
  ``0.5,1.2`` always is, and so is ``0,1`` above integer rows (a pandas header there cannot be told
  from data). A first line that mixes numbers and words is refused rather than dropped.
- Row index: a header whose first cell is empty or ``Unnamed: 0`` (``to_csv(index=True)``, R's
  ``write.csv``, a re-saved pandas file) marks the first column as a row index, which is dropped. An
  index written without a header cannot be told from a feature and is kept.
- Every data cell is a number (``1``, ``-2.5e3``; ``nan``/``inf`` parse but are refused as values),
  and every row has as many cells as the first.

``.npy`` files (found by their magic bytes, whatever the suffix) load with ``allow_pickle=False``:
numeric or bool dtypes only, 1-D (one row) or 2-D (rows x features).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

__all__ = ["InputError", "read_rows"]

_NPY_MAGIC = b"\x93NUMPY"
_DELIMITERS = (",", ";", "\t")
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.IGNORECASE)
_BARE_INT = re.compile(r"\d+")
_QUOTED = re.compile(r'"[^"]*"')
_INDEX_HEADER = re.compile(r"(?:Unnamed: 0)?")
_KINDS = {"U": "text", "S": "bytes", "c": "complex", "M": "date", "m": "time-delta", "V": "record"}


class InputError(ValueError):
    """An input file that cannot be read as rows of finite floats; the message names the file."""


def read_rows(path: str | Path) -> np.ndarray:
    """A 2-D float array, one row per sample, from a CSV-like text file or a ``.npy`` array.

    The rules for headers, delimiters and index columns are in this module's docstring."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an input file (give a CSV or .npy file)")
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data.startswith(_NPY_MAGIC):
        return _read_npy(path)
    if path.suffix.lower() == ".npz":
        raise InputError(f"{path} is a .npz archive, not a .npy array: save one array with np.save")
    if path.suffix.lower() == ".npy":
        raise InputError(
            f"{path} is not a .npy file: it does not start with NumPy's header (np.save writes one)"
        )
    return _parse_text(_decode(path, data), path)


def _read_npy(path: Path) -> np.ndarray:
    """The array in ``path``, refused unless it is 1-D or 2-D, numeric, non-empty and finite."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InputError(
                f"{path} holds an object array (pickled Python objects), which is not loaded: "
                "save a numeric array, e.g. np.save(path, x.astype(float))"
            ) from None
        raise InputError(f"cannot read {path} as .npy: {_one_line(exc)}") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path} as .npy: {_one_line(exc)}") from None
    if loaded.dtype.kind not in "biuf":
        kind = _KINDS.get(loaded.dtype.kind, "non-numeric")
        raise InputError(f"{path} holds {kind} values (dtype {loaded.dtype}), not numbers")
    if loaded.ndim > 2:
        raise InputError(
            f"{path} holds a {loaded.ndim}-D array of shape {loaded.shape}; inputs are 2-D "
            "(rows x features): flatten each sample, e.g. x.reshape(len(x), -1)"
        )
    array = np.atleast_2d(loaded.astype(np.float64))
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"{path} holds no rows (an array of shape {loaded.shape})")
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        row, column = (int(i) + 1 for i in bad[0])
        raise InputError(f"{path} holds a NaN or infinite value (row {row}, column {column})")
    return array


def _decode(path: Path, data: bytes) -> str:
    """``data`` as UTF-8 text, or an error that says the file is binary rather than a codec trace."""
    nul = data.find(b"\x00")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start if nul < 0 else min(nul, exc.start)
        text = None
    else:
        offset = nul
    if text is None or nul >= 0:
        raise InputError(
            f"{path} is binary, not a CSV text file (byte 0x{data[offset]:02x} at offset {offset}); "
            "inputs are CSV text or a .npy array"
        )
    return text


def _parse_text(text: str, path: Path) -> np.ndarray:
    """Rows of floats from delimited text, by the rules in the module docstring."""
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise InputError(f"{path} is empty: no rows")
    delimiter = _delimiter(lines, path)
    records = [(number, _cells(line, delimiter)) for number, line in lines]
    header_line, header = records[0]
    index = False
    if _is_header(header, records[1:]):
        index = len(header) > 1 and _INDEX_HEADER.fullmatch(header[0]) is not None
        records = records[1:]
        if not records:
            raise InputError(f"{path} holds a header (line {header_line}) but no rows")
    else:
        _refuse_mixed_first_line(header, header_line, path)
    width = len(records[0][1])
    if header_line != records[0][0] and len(header) != width:
        raise InputError(
            f"{path} line {header_line} (the header) has {len(header)} cells "
            f"but line {records[0][0]} has {width}"
        )
    rows: list[list[float]] = []
    for number, cells in records:
        if len(cells) != width:
            raise InputError(
                f"{path} line {number} has {len(cells)} cells; "
                f"line {records[0][0]} (the first row) has {width}"
            )
        first = 1 + index  # an index column is dropped unread: it may hold names
        rows.append([_number(cell, path, number, column) for column, cell in enumerate(cells[index:], first)])
    array = np.array(rows, dtype=np.float64).reshape(len(rows), width - index)
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        row, column = (int(i) for i in bad[0])
        raise InputError(
            f"{path} line {records[row][0]}, column {column + 1 + index}: "
            f"{records[row][1][column + index]!r} is a NaN or infinite value"
        )
    return array


def _delimiter(lines: list[tuple[int, str]], path: Path) -> str | None:
    """The one delimiter the file uses, or None for whitespace-separated (or one-column) text."""
    first_use: dict[str, int] = {}
    for number, line in lines:
        bare = _QUOTED.sub("", line)
        used = [d for d in _DELIMITERS if d in bare]
        for d in used:
            first_use.setdefault(d, number)
        if len(first_use) > 1:
            a, b = sorted(first_use, key=lambda d: (first_use[d], _DELIMITERS.index(d)))[:2]
            where = (
                f"line {number} uses both {_NAMES[a]} and {_NAMES[b]}"
                if first_use[a] == first_use[b]
                else f"line {first_use[a]} uses {_NAMES[a]} and line {first_use[b]} uses {_NAMES[b]}"
            )
            hint = " (decimal commas? write numbers with a decimal point)" if "," in (a, b) else ""
            raise InputError(f"{path} mixes delimiters: {where}; use one{hint}")
    return next(iter(first_use), None)


def _cells(line: str, delimiter: str | None) -> list[str]:
    """The stripped cells of one line (double quotes removed, as the csv module reads them)."""
    if delimiter is None:
        return line.split()
    return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter, skipinitialspace=True))]


def _is_number(cell: str) -> bool:
    return _NUMBER.fullmatch(cell) is not None


def _is_header(cells: list[str], below: list[tuple[int, list[str]]]) -> bool:
    """Whether the first line is column names or pandas' default ``0,1,...,n-1`` header."""
    names = cells[1:] if len(cells) > 1 and _INDEX_HEADER.fullmatch(cells[0]) else cells
    if not any(_is_number(c) for c in names):
        return True
    if not below or names != [str(i) for i in range(len(names))]:
        return False  # a lone 0,1,2 line is a one-row input, not a header above nothing
    integers_only = all(_BARE_INT.fullmatch(c.lstrip("+-")) for _, row in below for c in row)
    return len(names) >= 3 or not integers_only


def _refuse_mixed_first_line(cells: list[str], number: int, path: Path) -> None:
    """A first line of numbers and words is neither a header nor data: refuse it, naming the word."""
    for column, cell in enumerate(cells, start=1):
        if cell and not _is_number(cell) and any(_is_number(c) for c in cells):
            raise InputError(
                f"{path} line {number}, column {column}: {cell!r} is not a number "
                "(a header line must hold only names, or pandas' 0,1,...,n-1)"
            )


def _number(cell: str, path: Path, line: int, column: int) -> float:
    """``cell`` as a float, or an error naming where it is and what it holds."""
    if not cell:
        raise InputError(f"{path} line {line}, column {column} is empty")
    if not _is_number(cell):
        hint = " (a decimal comma? use a decimal point)" if re.fullmatch(r"[+-]?\d*,\d+", cell) else ""
        raise InputError(f"{path} line {line}, column {column}: {cell!r} is not a number{hint}")
    return float(cell)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
