"""Input files: headers, delimiters and index columns are read as users write them; every bad file is
one clear line naming the file and, for text, the line and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ml2sc.inputs import InputError, read_rows

DELIMITERS = [",", ";", "\t", " "]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """One folder reused by every hypothesis example (function-scoped tmp_path is not per example)."""
    return tmp_path_factory.mktemp("inputs")


def write(folder: Path, text: str | bytes, name: str = "rows.csv") -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def table(rows: np.ndarray, delimiter: str, header: list[str] | None = None, index: bool = False) -> str:
    """``rows`` as text the way pandas / numpy write it (floats as repr, so the round trip is exact)."""
    lines = [delimiter.join(([""] if index else []) + header)] if header is not None else []
    for i, row in enumerate(rows):
        lines.append(delimiter.join(([str(i)] if index else []) + [repr(float(v)) for v in row]))
    return "\n".join(lines) + "\n"


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
matrices = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6), elements=finite
)


def error(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        read_rows(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


@settings(max_examples=60, deadline=None)
@given(
    rows=matrices, delimiter=st.sampled_from(DELIMITERS), header=st.sampled_from(["none", "pandas", "names"])
)
def test_float_tables_round_trip(scratch: Path, rows: np.ndarray, delimiter: str, header: str) -> None:
    names = {
        "none": None,
        "pandas": [str(i) for i in range(rows.shape[1])],
        "names": [f"f{i}" for i in range(rows.shape[1])],
    }[header]
    got = read_rows(write(scratch, table(rows, delimiter, names)))
    assert got.shape == rows.shape and np.array_equal(got, rows)


@settings(max_examples=40, deadline=None)
@given(rows=matrices, delimiter=st.sampled_from([",", ";", "\t"]), pandas=st.booleans())
def test_an_unnamed_index_column_is_dropped(
    scratch: Path, rows: np.ndarray, delimiter: str, pandas: bool
) -> None:
    names = [str(i) if pandas else f"x{i}" for i in range(rows.shape[1])]
    got = read_rows(write(scratch, table(rows, delimiter, names, index=True)))
    assert np.array_equal(got, rows)


@settings(max_examples=60, deadline=None)
@given(
    rows=hnp.arrays(
        np.int64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=5), elements=st.integers(-9, 99)
    )
)
def test_integer_rows_without_a_header_stay_data(scratch: Path, rows: np.ndarray) -> None:
    """Only a first row 0,1,...,n-1 with n >= 3 above other rows is read as pandas' header."""
    text = "\n".join(",".join(str(v) for v in row) for row in rows) + "\n"
    pandas_like = rows.shape[0] > 1 and rows.shape[1] >= 3 and list(rows[0]) == list(range(rows.shape[1]))
    got = read_rows(write(scratch, text))
    assert np.array_equal(got, rows[1:] if pandas_like else rows)


def test_pandas_default_header_is_not_a_row(tmp_path: Path) -> None:
    # pd.DataFrame(X).to_csv(index=False), written out: pandas is not a dependency
    assert read_rows(write(tmp_path, "0,1,2,3\n0.5,1.2,3.0,4.0\n")).tolist() == [[0.5, 1.2, 3.0, 4.0]]
    assert read_rows(write(tmp_path, "0\n0.5\n")).tolist() == [[0.5]]  # one feature: floats below decide
    assert read_rows(write(tmp_path, "0,1\n2.5,3\n")).tolist() == [[2.5, 3.0]]
    # to_csv(index=True), and a re-saved one ("Unnamed: 0")
    assert read_rows(write(tmp_path, ",0,1\n0,0.5,1.5\n1,2.5,3.5\n")).tolist() == [[0.5, 1.5], [2.5, 3.5]]
    assert read_rows(write(tmp_path, "Unnamed: 0,0,1\n0,0.5,1.5\n")).tolist() == [[0.5, 1.5]]
    assert read_rows(write(tmp_path, '"",a\n"s1",0.5\n"s2",1\n')).tolist() == [[0.5], [1.0]]  # R row names


def test_numeric_first_rows_stay_data(tmp_path: Path) -> None:
    assert read_rows(write(tmp_path, "0.5,1.2\n3,4\n")).tolist() == [[0.5, 1.2], [3.0, 4.0]]
    assert read_rows(write(tmp_path, "0,1\n1,0\n")).tolist() == [[0.0, 1.0], [1.0, 0.0]]  # ambiguous: data
    assert read_rows(write(tmp_path, "0,1,2,3\n")).tolist() == [[0.0, 1.0, 2.0, 3.0]]  # a lone row is data
    assert read_rows(write(tmp_path, "1,2,3\n0,1,2\n")).tolist() == [[1, 2, 3], [0, 1, 2]]


def test_delimiters_quotes_comments_and_encodings(tmp_path: Path) -> None:
    expected = [[1.5, -2.0], [3.0, 4e-3]]
    for text in (
        "a;b\n1.5;-2\n3;4e-3\n",
        "a\tb\n1.5\t-2\n3\t4e-3\n",
        "# x y\n1.5   -2\n\n3 4e-3\n",  # np.savetxt(header=...), a blank line
        '"a, first","b"\n"1.5", -2\n3,4E-3\n',  # quoted names and numbers, spaces after commas
        "\ufeffa,b\r\n1.5,-2\r\n3,4e-3\r\n",  # Excel: byte-order mark and CRLF
    ):
        assert read_rows(write(tmp_path, text)).tolist() == expected, text
    assert read_rows(write(tmp_path, "value\n1\n-2\n")).tolist() == [[1.0], [-2.0]]


def test_text_errors_name_the_line_and_column(tmp_path: Path) -> None:
    cases = {
        "1,2,3\n" * 6 + "1,2,abc\n": "line 7, column 3: 'abc' is not a number",
        "a,b\n1,2\n1,,3\n": "line 3 has 3 cells; line 2 (the first row) has 2",
        "a,b\n1,2\n1,\n": "line 3, column 2 is empty",
        "a,b,c\n1,2\n": "line 1 (the header) has 3 cells but line 2 has 2",
        "1,x,3\n1,2,3\n": "line 1, column 2: 'x' is not a number (a header line must hold only names",
        "a;b\n1,5;2\n": "line 1 uses semicolon and line 2 uses comma; use one (decimal commas?",
        "1,2\n3\t4\n": "mixes delimiters: line 1 uses comma and line 2 uses tab",
        "1;2\n3,5\t4\n": "mixes delimiters",
        "a\tb\n1,5\t2\n": "line 1 uses tab and line 2 uses comma; use one (decimal commas?",
        '"a";"b"\n"1,5";2\n': "line 2, column 1: '1,5' is not a number (a decimal comma? use a decimal",
        "": "is empty: no rows",
        "\n\n# only a comment\n": "is empty: no rows",
        "a,b\n": "holds a header (line 1) but no rows",
        "a,b\n1,2\n3,nan\n": "line 3, column 2: 'nan' is a NaN or infinite value",
        ",a,b\n0,1,2\n1,3,-inf\n": "line 3, column 3: '-inf' is a NaN or infinite value",
        "1,1e999\n": "line 1, column 2: '1e999' is a NaN or infinite value",
        "1,2_0\n": "'2_0' is not a number",
    }
    for text, expected in cases.items():
        assert expected in error(write(tmp_path, text)), text


def test_binary_files_are_named_binary(tmp_path: Path) -> None:
    assert "is binary, not a CSV text file (byte 0x80 at offset 0)" in error(write(tmp_path, b"\x80\x02]q"))
    assert "(byte 0x00 at offset 3)" in error(write(tmp_path, b"1,2\x00\n"))
    # a model file passed as input by mistake: a zip archive
    assert "is binary" in error(write(tmp_path, b"PK\x03\x04\x14\x00\x00\x00\x08\x00\xff\xfe", "model.pt"))


def test_npy_files(tmp_path: Path) -> None:
    np.save(tmp_path / "rows.npy", np.arange(6, dtype=np.int16).reshape(2, 3))
    assert read_rows(tmp_path / "rows.npy").tolist() == [[0, 1, 2], [3, 4, 5]]
    np.save(tmp_path / "one.npy", np.array([0.5, 1.5]))
    assert read_rows(tmp_path / "one.npy").tolist() == [[0.5, 1.5]]  # 1-D: one row
    (tmp_path / "one.npy").rename(tmp_path / "saved_as.csv")  # found by its magic bytes
    assert read_rows(tmp_path / "saved_as.csv").tolist() == [[0.5, 1.5]]


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.zeros((2, 8, 8)), "holds a 3-D array of shape (2, 8, 8); inputs are 2-D (rows x features)"),
        (np.array([["a", "b"]]), "holds text values (dtype <U1), not numbers"),
        (np.array([[1 + 2j]]), "holds complex values"),
        (
            np.array([1, "a"], dtype=object),
            "holds an object array (pickled Python objects), which is not loaded",
        ),
        (np.zeros((0, 4)), "holds no rows (an array of shape (0, 4))"),
        (np.array([[1.0, 2.0], [3.0, np.inf]]), "holds a NaN or infinite value (row 2, column 2)"),
    ],
    ids=["3d", "text", "complex", "object", "empty", "inf"],
)
def test_bad_npy_arrays(tmp_path: Path, array: np.ndarray, expected: str) -> None:
    np.save(tmp_path / "bad.npy", array, allow_pickle=True)
    assert expected in error(tmp_path / "bad.npy")


def test_npy_lookalikes(tmp_path: Path) -> None:
    np.savez(tmp_path / "two.npz", a=np.eye(2))
    assert "is a .npz archive, not a .npy array" in error(tmp_path / "two.npz")
    (tmp_path / "two.npz").rename(tmp_path / "two.npy")
    assert "two.npy is not a .npy file" in error(tmp_path / "two.npy")
    write(tmp_path, "1,2\n", "text.npy")
    assert "text.npy is not a .npy file: it does not start with NumPy's header" in error(
        tmp_path / "text.npy"
    )
    np.save(tmp_path / "cut.npy", np.eye(50))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:200])
    assert "cannot read" in error(tmp_path / "cut.npy")


def test_missing_files_and_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input file not found: .*none.csv"):
        read_rows(tmp_path / "none.csv")
    assert "is a folder, not an input file" in error(tmp_path)
