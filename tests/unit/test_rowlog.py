"""evmkit.rowlog: rows flushed one by one, read back on --resume, refused when they cannot be."""

from __future__ import annotations

import pytest

from evmkit.rowlog import RowLog, RowLogError, Spec, read_back, read_rows

COLUMNS = ("name", "gas", "seed")


def spec(path, seed=1, hint=""):
    return Spec(path, COLUMNS, {"seed": seed}, ("gas", "seed"), hint)


def test_rows_are_on_disk_as_soon_as_they_are_appended(tmp_path) -> None:
    path = tmp_path / "r.csv"
    log = RowLog(spec(path), resume=False)
    log.append({"name": "a", "gas": 10, "seed": 1})
    assert read_rows(path) == [{"name": "a", "gas": 10, "seed": 1}]  # before close
    log.close()


def test_resume_keeps_rows_and_drops_a_row_cut_in_half(tmp_path) -> None:
    path = tmp_path / "r.csv"
    with RowLog(spec(path), resume=False) as log:
        log.append({"name": "a", "gas": 10, "seed": 1})
        log.append({"name": "b", "gas": 2.5, "seed": 1})
    with path.open("a") as handle:
        handle.write("c,3")  # an interruption in the middle of a row
    assert [r["name"] for r in read_back(spec(path))] == ["a", "b"]
    assert path.read_text().endswith("c,3")  # reading back changes nothing
    with RowLog(spec(path), resume=True) as log:
        assert [r["name"] for r in log.kept] == ["a", "b"] and log.kept[1]["gas"] == 2.5
        log.append({"name": "c", "gas": 3, "seed": 1})
    assert [r["name"] for r in read_rows(path)] == ["a", "b", "c"]
    assert path.read_text().count("name,gas,seed") == 1


def test_resume_without_a_file_or_with_half_a_header_starts_afresh(tmp_path) -> None:
    with RowLog(spec(tmp_path / "new.csv"), resume=True) as log:
        assert log.kept == []
        log.append({"name": "a", "gas": 1, "seed": 1})
    assert read_rows(tmp_path / "new.csv") == [{"name": "a", "gas": 1, "seed": 1}]
    (tmp_path / "cut.csv").write_text("name,ga")
    with RowLog(spec(tmp_path / "cut.csv"), resume=True) as log:
        log.append({"name": "b", "gas": 2, "seed": 1})
    assert read_rows(tmp_path / "cut.csv") == [{"name": "b", "gas": 2, "seed": 1}]


@pytest.mark.parametrize(
    "body, message",
    [
        ("a,10,2\r\n", "line 2 was measured with seed '2', this run uses '1'; pass --seed 2"),
        ("a,10,1,\r\n", "line 2 has 4 cells, not 3"),
        ("a,10\r\n", "line 2 has 2 cells, not 3"),
        ("a,zz,1\r\n", "line 2: gas 'zz' is not a number"),
        ('a,"1\r0",1\r\n', "line 2: gas"),
    ],
)
def test_resume_refuses_what_this_run_could_not_have_written(tmp_path, body, message) -> None:
    path = tmp_path / "r.csv"
    path.write_text("name,gas,seed\r\n" + body, newline="")
    with pytest.raises(RowLogError, match=message.replace("(", r"\(")):
        RowLog(spec(path, hint="pass --seed 2"), resume=True)
    assert path.read_bytes() == ("name,gas,seed\r\n" + body).encode()  # refusals change nothing


def test_resume_refuses_other_columns_and_unreadable_files(tmp_path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("name,gas,seed,extra\r\n")
    with pytest.raises(RowLogError, match="its columns are"):
        read_back(spec(path))
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(RowLogError, match="cannot be read"):
        read_back(spec(tmp_path / "dir.csv"))
    path.write_bytes(b"name,gas,seed\r\n\xff\xfe,1,1\r\n")
    with pytest.raises(RowLogError, match="cannot be read"):
        read_back(spec(path))


def test_fresh_runs_move_earlier_files_aside_and_never_over_one(tmp_path) -> None:
    path = tmp_path / "r.csv"
    for n in range(3):
        with RowLog(spec(path), resume=False) as log:
            log.append({"name": f"run{n}", "gas": n, "seed": 1})
            assert log.moved_aside == (None, tmp_path / "r.csv.prev", tmp_path / "r.csv.prev2")[n]
    assert read_rows(tmp_path / "r.csv.prev")[0]["name"] == "run0"
    assert read_rows(tmp_path / "r.csv.prev2")[0]["name"] == "run1"
    assert read_rows(path)[0]["name"] == "run2"
