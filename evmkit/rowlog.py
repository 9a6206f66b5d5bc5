"""A CSV written one row at a time, so that a measurement interrupted after an hour keeps every row it
finished, and the next run can pick up from it (``--resume``) instead of measuring them again.

The file is the record: a resumed run reads it back, refuses it when it was written with other
columns or under other settings (a seed, a fork, a chain), and drops a last line that an interruption
cut in half. A run that does not resume moves an earlier file aside (``NAME.prev``), never over it.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from .errors import EvmkitError


class RowLogError(EvmkitError):
    """An earlier file that cannot be resumed (other columns, other settings, a broken row)."""


def parse_cell(text: str) -> Any:
    """A CSV cell back as the number it was written as (int, then float), else the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_rows(path: Path) -> list[dict[str, Any]]:
    """A CSV's complete rows as numbers where they parse (a missing file: none). For a plan's preview
    only; a resumed RowLog checks the file properly."""
    try:
        with Path(path).open(newline="") as handle:
            text = handle.read()
    except OSError:
        return []
    text = text[: text.rfind("\n") + 1]
    return [{k: parse_cell(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


class RowLog:
    """Rows appended to ``path`` and flushed one by one.

    ``same`` names the settings every row records and a resumed file must share with this run (for
    example ``{"seed": 1, "fork": "osaka"}``); ``hint`` is appended to a refusal (what to pass instead).
    """

    def __init__(
        self,
        path: Path,
        columns: Sequence[str],
        *,
        resume: bool,
        same: Mapping[str, Any] | None = None,
        hint: str = "",
    ) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.kept: list[dict[str, Any]] = []  # rows of the earlier run, read back (resume)
        self.moved_aside: Path | None = None  # where an earlier file went (no resume)
        self.written = 0
        self._same = {k: str(v) for k, v in (same or {}).items()}
        self._hint = hint
        unknown = set(self._same) - set(self.columns)
        if unknown:
            raise ValueError(f"settings {sorted(unknown)} are not columns of {self.path.name}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.path.exists():
            self.kept = self._read_back()
            self._handle: TextIO = self.path.open("a", newline="")
        else:
            if self.path.exists() and self.path.stat().st_size > 0:
                self.moved_aside = self.path.with_name(self.path.name + ".prev")
                os.replace(self.path, self.moved_aside)
            self._handle = self.path.open("w", newline="")
        self._writer = csv.DictWriter(self._handle, fieldnames=self.columns, extrasaction="raise")
        if not resume or not self.kept and self._handle.tell() == 0:
            self._writer.writeheader()
            self._handle.flush()

    def _refuse(self, why: str) -> RowLogError:
        return RowLogError(f"cannot resume from {self.path}: {why}{'; ' + self._hint if self._hint else ''}")

    def _read_back(self) -> list[dict[str, Any]]:
        with self.path.open(newline="") as handle:
            text = handle.read()
        if not text.strip():
            self.path.write_text("")  # nothing kept: the header is written afresh
            return []
        if not text.endswith("\n"):
            # the last row was cut by an interruption: drop it, and its bytes, before appending
            text = text[: text.rfind("\n") + 1]
            with self.path.open("r+", newline="") as handle:
                handle.truncate(len(text.encode()))
            if not text:
                return []
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header != self.columns:
            raise self._refuse(
                f"its columns are {','.join(header or [])!r}, this run writes {','.join(self.columns)!r} "
                "(an earlier version's file?)"
            )
        rows = []
        for number, cells in enumerate(reader, start=2):
            if len(cells) != len(self.columns):
                raise self._refuse(f"line {number} has {len(cells)} cells, not {len(self.columns)}")
            row = dict(zip(self.columns, cells))
            for column, value in self._same.items():
                if row[column] != value:
                    raise self._refuse(
                        f"line {number} was measured with {column} {row[column]!r}, this run uses {value!r}"
                    )
            rows.append({k: parse_cell(v) for k, v in row.items()})
        return rows

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one row and flush it to the operating system (an interruption keeps it)."""
        for column, value in self._same.items():
            if str(row[column]) != value:
                raise ValueError(f"row {column} {row[column]!r} differs from the run's {value!r}")
        self._writer.writerow(dict(row))
        self._handle.flush()
        self.written += 1

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> RowLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
