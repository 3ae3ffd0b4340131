"""How far a job's rows are from the data the model learnt from.

At training time each feature's training values are summed up (a Profile, kept beside the
model as profile.json): a number's deciles and range, a text's categories and their shares. A
job then counts its own rows in the same bins as it streams, and scores each feature with the
population stability index:

    PSI = sum over bins of (job share - training share) * ln(job share / training share)

0 means the same spread as in training; by the usual rule of thumb under 0.1 is no real change,
0.1 to 0.25 a moderate shift and over 0.25 (SHIFTED) a shift large enough that the model's
predictions for those rows deserve doubt. Separately, a row whose number lies outside the
training range, or whose text is a category training never saw, is flagged in the result's
warning column: the model is guessing there. Imported models come without training data, so
they have no profile and no drift figures.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from msgspec import Meta, Struct

from batchscore.numbers import parse_floats

SHIFTED = 0.25  # PSI above which a feature counts as shifted
QUANTILES = np.linspace(0, 1, 11)  # deciles: ten bins of about a tenth of the training rows
MAX_CATEGORIES = 200  # a text feature with more distinct values is profiled by its most common
FLOOR = 1e-4  # an empty bin's share in the PSI, so a bin no row fell in does not divide by 0


class FeatureProfile(Struct, kw_only=True, omit_defaults=True):
    """One feature's training values, binned."""

    kind: Literal["number", "category"]
    edges: Annotated[
        list[float] | None, Meta(description="A number's deciles, from its minimum to maximum.")
    ] = None
    categories: Annotated[
        list[str] | None, Meta(description="A text's categories, the most common first.")
    ] = None
    complete: bool = True  # every category training saw is listed, so others are new
    shares: Annotated[
        list[float], Meta(description="Training rows per bin (the last: other categories).")
    ] = []


class Profile(Struct):
    rows: int
    features: dict[str, FeatureProfile]


class FeatureDrift(Struct, kw_only=True):
    """One feature of a job against training: its PSI and bins, and rows outside training."""

    feature: str
    psi: float
    shifted: Annotated[bool, Meta(description=f"PSI over {SHIFTED}.")]
    outside: Annotated[int, Meta(ge=0, description="Rows outside what training saw.")]
    bins: list[str]
    training: Annotated[list[float], Meta(description="Share of training rows per bin.")]
    job: Annotated[list[float], Meta(description="Share of this job's rows per bin.")]


class Drift(Struct, kw_only=True):
    """A job's rows against the model's training data."""

    features: list[FeatureDrift]
    rows_outside: Annotated[
        int, Meta(ge=0, description="Scored rows with a value outside what training saw.")
    ]
    threshold: float = SHIFTED


def profile_of(frame: pd.DataFrame) -> Profile:
    """The profile of training rows: numeric columns as numbers, the others as categories."""
    features = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            features[str(name)] = _number_profile(column.to_numpy(dtype=float))
        else:
            features[str(name)] = _category_profile(column)
    return Profile(rows=len(frame), features=features)


def _number_profile(values: npt.NDArray[np.float64]) -> FeatureProfile:
    values = values[np.isfinite(values)]
    if not values.size:
        return FeatureProfile(kind="number")
    edges = [float(e) for e in np.quantile(values, QUANTILES)]
    counts = np.bincount(_number_bins(edges, values), minlength=len(_cuts(edges)) + 1)
    return FeatureProfile(kind="number", edges=edges, shares=_shares(counts))


def _category_profile(column: pd.Series) -> FeatureProfile:
    text = column.dropna().astype(str)
    text = text[text != ""]
    counts = text.value_counts()
    kept = counts.head(MAX_CATEGORIES)
    other = int(counts.iloc[MAX_CATEGORIES:].sum())
    return FeatureProfile(
        kind="category",
        categories=[str(c) for c in kept.index],
        complete=len(counts) <= MAX_CATEGORIES,
        shares=_shares(np.array([*kept.to_numpy(), other])),
    )


class DriftBuilder:
    """Counts a job's scored rows in its model's training bins, chunk by chunk (add), and
    says what they came to (drift); memory does not grow with the file."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.counts = {
            name: np.zeros(len(p.shares), dtype=np.int64)
            for name, p in profile.features.items()
            if p.shares
        }
        self.outside = dict.fromkeys(self.counts, 0)
        self.rows_outside = 0

    def add(
        self,
        frame: pd.DataFrame,
        columns: dict[str, str],
        scored: npt.NDArray[np.bool_],
        decimal: str = ".",
    ) -> pd.Series:
        """Count the chunk's scored rows (`columns`: each feature's column in the frame); each
        row's warning, None where nothing is unusual."""
        warnings = np.full(len(frame), None, dtype=object)
        flagged = np.zeros(len(frame), dtype=bool)
        for name, counts in self.counts.items():
            profile = self.profile.features[name]
            raw = frame[columns[name]].reset_index(drop=True)[scored]
            if profile.kind == "number":
                assert profile.edges is not None
                values = parse_floats(raw, decimal)
                known = np.isfinite(values)
                values = values[known]
                bins = _number_bins(profile.edges, values)
                low, high = profile.edges[0], profile.edges[-1]
                out = (values < low) | (values > high)
                said = f" (training: {_figure(low)} to {_figure(high)})"
            else:
                text = raw.astype("string").str.strip()
                known = (text.notna() & (text != "")).to_numpy()
                assert profile.categories is not None
                bins = pd.Index(profile.categories).get_indexer(pd.Index(text[known]))
                out = (bins < 0) if profile.complete else np.zeros(len(bins), dtype=bool)
                bins[bins < 0] = len(profile.categories)
                said = " (a category training never saw)"
                values = text[known].to_numpy(dtype=object)
            counts += np.bincount(bins, minlength=len(counts))
            self.outside[name] += int(out.sum())
            if out.any():
                rows = np.flatnonzero(scored)[np.flatnonzero(known)[out]]
                shown = pd.Series(values[out]).map(_cell).to_numpy(dtype=object)
                notes = f"{columns[name]} " + shown + said  # the column as the file names it
                again = flagged[rows]  # already outside on an earlier feature
                warnings[rows[again]] = warnings[rows[again]] + "; " + notes[again]
                warnings[rows[~again]] = notes[~again]
                flagged[rows] = True
        self.rows_outside += int(flagged.sum())
        return pd.Series(warnings, index=frame.index, dtype=object)

    def drift(self) -> Drift:
        features = []
        for name, counts in self.counts.items():
            profile = self.profile.features[name]
            if counts.sum() == 0:
                continue
            shares = _shares(counts)
            psi = _psi(np.array(profile.shares), np.array(shares))
            features.append(
                FeatureDrift(
                    feature=name,
                    psi=psi,
                    shifted=psi > SHIFTED,
                    outside=self.outside[name],
                    bins=_bin_names(profile),
                    training=profile.shares,
                    job=shares,
                )
            )
        features.sort(key=lambda f: -f.psi)
        return Drift(features=features, rows_outside=self.rows_outside)


def _cuts(edges: list[float]) -> npt.NDArray[np.float64]:
    """The inner deciles, without repeats (a column with few values has fewer bins)."""
    return np.unique(np.asarray(edges[1:-1], dtype=float))


def _number_bins(edges: list[float], values: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    return np.searchsorted(_cuts(edges), values, side="right")


def _bin_names(profile: FeatureProfile) -> list[str]:
    if profile.kind == "category":
        assert profile.categories is not None
        return [*profile.categories, "other"]
    assert profile.edges is not None
    cuts = [_figure(c) for c in _cuts(profile.edges)]
    if not cuts:
        return ["all"]
    inner = [f"{a} to {b}" for a, b in itertools.pairwise(cuts)]
    return [f"< {cuts[0]}", *inner, f"≥ {cuts[-1]}"]


def _shares(counts: npt.NDArray[Any]) -> list[float]:
    total = counts.sum()
    return [float(c / total) if total else 0.0 for c in counts]


def _psi(expected: npt.NDArray[np.float64], observed: npt.NDArray[np.float64]) -> float:
    e, o = np.maximum(expected, FLOOR), np.maximum(observed, FLOOR)
    return float(np.sum((o - e) * np.log(o / e)))


def _figure(value: float) -> str:
    return f"{value:.4g}"


def _cell(value: object) -> str:
    return _figure(value) if isinstance(value, float) else repr(str(value)[:40])
