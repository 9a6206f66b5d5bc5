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
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    """A CSV's complete rows, numbers where they parse (a missing file: none). For a file this code
    wrote itself (a report after a run); an earlier run's file is read back with :func:`read_back`."""
    try:
        with Path(path).open(newline="") as handle:
            text = handle.read()
    except OSError:
        return []
    text = text[: text.rfind("\n") + 1]
    return [{k: parse_cell(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


@dataclass(frozen=True)
class Spec:
    """What a resumable CSV must look like: its columns, the settings every row shares with the run
    (``same``, e.g. ``{"seed": 1}``), the columns that hold a number or nothing (``numeric``) and what
    to pass instead when refused (``hint``)."""

    path: Path
    columns: tuple[str, ...]
    same: Mapping[str, Any] = field(default_factory=dict)
    numeric: tuple[str, ...] = ()
    hint: str = ""

    def refuse(self, why: str) -> RowLogError:
        return RowLogError(f"cannot resume from {self.path}: {why}{'; ' + self.hint if self.hint else ''}")


def read_back(spec: Spec) -> list[dict[str, Any]]:
    """The complete rows of an earlier run's file, checked (nothing is changed on disk): a missing or
    empty file has none; a last line cut in half is left out; anything else that is not a row this
    run could have written (other columns, other settings, a cell that is not a number where one
    belongs) is refused, naming the line."""
    try:
        with spec.path.open(newline="") as handle:
            text = handle.read()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise spec.refuse(f"it cannot be read ({exc})") from None
    text = text[: text.rfind("\n") + 1]  # a row cut by an interruption is not kept
    if not text.strip():
        return []
    same = {k: str(v) for k, v in spec.same.items()}
    try:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header != list(spec.columns):
            raise spec.refuse(
                f"its columns are {','.join(header or [])!r}, this run writes {','.join(spec.columns)!r} "
                "(an earlier version's file?)"
            )
        rows = []
        for cells in reader:
            number = reader.line_num
            if len(cells) != len(spec.columns):
                raise spec.refuse(f"line {number} has {len(cells)} cells, not {len(spec.columns)}")
            row = dict(zip(spec.columns, cells))
            for column, value in same.items():
                if row[column] != value:
                    raise spec.refuse(
                        f"line {number} was measured with {column} {row[column]!r}, this run uses {value!r}"
                    )
            parsed = {k: parse_cell(v) for k, v in row.items()}
            for column in spec.numeric:
                if row[column] != "" and isinstance(parsed[column], str):
                    raise spec.refuse(f"line {number}: {column} {row[column][:20]!r} is not a number")
            rows.append(parsed)
    except csv.Error as exc:
        raise spec.refuse(f"it is not a CSV this bench wrote ({exc})") from None
    return rows


def _aside(path: Path) -> Path:
    """A free name to move an earlier file to: NAME.prev, then NAME.prev2, NAME.prev3, ..."""
    candidate = path.with_name(path.name + ".prev")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.prev{n}")
        n += 1
    return candidate


class RowLog:
    """Rows appended to ``spec.path`` and flushed one by one; with ``resume``, after the rows an
    earlier run left there (read back and checked by :func:`read_back`)."""

    def __init__(self, spec: Spec, *, resume: bool) -> None:
        self.spec = spec
        self.path = spec.path
        self.columns = list(spec.columns)
        self.kept: list[dict[str, Any]] = []  # rows of the earlier run, read back (resume)
        self.moved_aside: Path | None = None  # where an earlier file went (no resume): never over one
        self.written = 0
        self._same = {k: str(v) for k, v in spec.same.items()}
        unknown = set(self._same) - set(self.columns)
        if unknown:
            raise ValueError(f"settings {sorted(unknown)} are not columns of {self.path.name}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.path.exists():
            self.kept = read_back(spec)
            self._drop_cut_line()
            self._handle: TextIO = self.path.open("a", newline="")
        else:
            if self.path.exists() and self.path.stat().st_size > 0:
                self.moved_aside = _aside(self.path)
                os.replace(self.path, self.moved_aside)
            self._handle = self.path.open("w", newline="")
        self._writer = csv.DictWriter(self._handle, fieldnames=self.columns, extrasaction="raise")
        if self._handle.tell() == 0:
            self._writer.writeheader()
            self._handle.flush()

    def _drop_cut_line(self) -> None:
        """Truncate a last line an interruption cut in half (and an empty file's nothing), so rows
        append after the last complete one."""
        data = self.path.read_bytes()
        keep = data[: data.rfind(b"\n") + 1] if data.strip() else b""
        if not self.kept and not keep.strip():
            keep = b""
        if len(keep) != len(data):
            with self.path.open("r+b") as handle:
                handle.truncate(len(keep))

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
