"""evmkit.rowlog: rows flushed one by one, read back on --resume, refused when they cannot be."""

from __future__ import annotations

import pytest

from evmkit.rowlog import RowLog, RowLogError, read_rows

COLUMNS = ["name", "gas", "seed"]


def test_rows_are_on_disk_as_soon_as_they_are_appended(tmp_path) -> None:
    path = tmp_path / "r.csv"
    log = RowLog(path, COLUMNS, resume=False, same={"seed": 1})
    log.append({"name": "a", "gas": 10, "seed": 1})
    assert read_rows(path) == [{"name": "a", "gas": 10, "seed": 1}]  # before close
    log.close()


def test_resume_keeps_rows_and_drops_a_row_cut_in_half(tmp_path) -> None:
    path = tmp_path / "r.csv"
    with RowLog(path, COLUMNS, resume=False, same={"seed": 1}) as log:
        log.append({"name": "a", "gas": 10, "seed": 1})
        log.append({"name": "b", "gas": 2.5, "seed": 1})
    with path.open("a") as handle:
        handle.write("c,3")  # an interruption in the middle of a row
    with RowLog(path, COLUMNS, resume=True, same={"seed": 1}) as log:
        assert [r["name"] for r in log.kept] == ["a", "b"] and log.kept[1]["gas"] == 2.5
        log.append({"name": "c", "gas": 3, "seed": 1})
    assert [r["name"] for r in read_rows(path)] == ["a", "b", "c"]
    assert path.read_text().count("name,gas,seed") == 1


def test_resume_without_a_file_starts_afresh(tmp_path) -> None:
    with RowLog(tmp_path / "new.csv", COLUMNS, resume=True) as log:
        assert log.kept == []
        log.append({"name": "a", "gas": 1, "seed": 1})
    assert read_rows(tmp_path / "new.csv") == [{"name": "a", "gas": 1, "seed": 1}]


def test_resume_refuses_other_settings_and_other_columns(tmp_path) -> None:
    path = tmp_path / "r.csv"
    with RowLog(path, COLUMNS, resume=False, same={"seed": 1}) as log:
        log.append({"name": "a", "gas": 10, "seed": 1})
    with pytest.raises(RowLogError, match="seed '1', this run uses '2'; pass --seed"):
        RowLog(path, COLUMNS, resume=True, same={"seed": 2}, hint="pass --seed 1")
    with pytest.raises(RowLogError, match="its columns are"):
        RowLog(path, ["name", "gas", "seed", "extra"], resume=True)
    assert read_rows(path) == [{"name": "a", "gas": 10, "seed": 1}]  # refusals change nothing
    with (
        RowLog(path, COLUMNS, resume=True, same={"seed": 1}) as log,
        pytest.raises(ValueError, match="differs"),
    ):
        log.append({"name": "b", "gas": 1, "seed": 7})


def test_a_fresh_run_moves_an_earlier_file_aside(tmp_path) -> None:
    path = tmp_path / "r.csv"
    with RowLog(path, COLUMNS, resume=False) as log:
        log.append({"name": "a", "gas": 10, "seed": 1})
    with RowLog(path, COLUMNS, resume=False) as log:
        assert log.moved_aside == tmp_path / "r.csv.prev"
    assert read_rows(tmp_path / "r.csv.prev")[0]["name"] == "a" and read_rows(path) == []
