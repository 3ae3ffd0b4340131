"""Text → float64, vectorised: how the model and the xlsx writer read numbers in CSV text."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def parse_floats(values: pd.Series) -> npt.NDArray[np.float64]:
    """Parse to float64, NaN where a value is not a number (a writable copy).

    Accepts what pandas.to_numeric accepts: padding spaces, a sign, exponents, 'nan', 'inf'.
    """
    try:  # a clean column, the usual case: Arrow's parser is ~10x faster than to_numeric
        floats = pc.cast(pa.array(values, from_pandas=True), pa.float64())
        parsed: npt.NDArray[np.float64] = floats.to_numpy(zero_copy_only=False, writable=True)
        return parsed
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass  # some cell is not a number as Arrow reads them: parse cell by cell
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)


def matches(values: pd.Series, pattern: str) -> npt.NDArray[np.bool_]:
    """Where the text matches the RE2 `pattern` (search; anchor it with ^ to match at the start).

    Arrow's regex engine, not Python's re once per cell; missing values are False.
    """
    found = pc.match_substring_regex(pa.array(values, type=pa.string(), from_pandas=True), pattern)
    result: npt.NDArray[np.bool_] = found.fill_null(False).to_numpy(zero_copy_only=False)
    return result
