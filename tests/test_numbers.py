"""parse_floats agrees with pandas.to_numeric, the reference it replaces for speed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchscore.numbers import matches, parse_floats

NUMBERISH = st.text(alphabet=" \t+-.0123456789eEnaifINFty,_x", max_size=12)


def reference(values: list[str | None]) -> np.ndarray:
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(NUMBERISH, st.none()), max_size=20))
def test_parse_floats_reads_what_to_numeric_reads(values: list[str | None]) -> None:
    for dtype in ("str", object):
        parsed = parse_floats(pd.Series(values, dtype=dtype))
        np.testing.assert_array_equal(parsed, reference(values))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1.5", "2", "-3e2"], [1.5, 2.0, -300.0]),  # clean: Arrow's cast
        ([" 1.5", "north", "", "inf", "1,5"], [1.5, np.nan, np.nan, np.inf, np.nan]),  # mixed
        (["NaN", "+.5", "1.", " -Infinity "], [np.nan, 0.5, 1.0, -np.inf]),
    ],
)
def test_parse_floats_examples(values: list[str], expected: list[float]) -> None:
    parsed = parse_floats(pd.Series(values, dtype="str"))
    np.testing.assert_array_equal(parsed, expected)
    parsed[0] = 7.0  # writable: callers fill in re-parsed cells


def test_matches_is_a_search_that_anchors_with_a_caret() -> None:
    values = pd.Series(["007", "x007", None, " 12"], dtype="str")
    assert matches(values, r"^\s*0[0-9]").tolist() == [True, False, False, False]
    assert matches(values, r"0[0-9]").tolist() == [True, True, False, False]


def test_parse_floats_reads_a_column_of_concatenated_chunks() -> None:
    """pd.concat of str chunks gives an Arrow-backed column that pa.array reads as a
    ChunkedArray: the training path, where every chunk of the file is joined."""
    chunks = [pd.DataFrame({"x": ["1", "2"]}, dtype="str"), pd.DataFrame({"x": ["3", "x"]})]
    column = pd.concat(chunks, ignore_index=True)["x"]

    np.testing.assert_array_equal(parse_floats(column), [1.0, 2.0, 3.0, np.nan])
    clean = pd.concat([chunks[0], chunks[0]], ignore_index=True)["x"]
    np.testing.assert_array_equal(parse_floats(clean), [1.0, 2.0, 1.0, 2.0])
