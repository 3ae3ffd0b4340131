"""Drift: a training profile's bins, the PSI of a job's rows against them, and the rows flagged
as outside what training saw; chunk by chunk, as a job streams."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from batchscore.model.drift import SHIFTED, Drift, DriftBuilder, Profile, profile_of

RNG = np.random.default_rng(7)
TRAINING = pd.DataFrame(
    {
        "income": RNG.normal(50, 10, 5000),
        "region": RNG.choice(["north", "south", "east"], 5000, p=[0.5, 0.3, 0.2]).astype(object),
    }
)
COLUMNS = {"income": "Income", "region": "Region"}  # the features' columns in the job's file


def job_drift(
    profile: Profile, frame: pd.DataFrame, chunk: int = 700
) -> tuple[Drift, list[object]]:
    """Stream `frame` (text cells, as a job reads them) through a builder in chunks."""
    builder = DriftBuilder(profile)
    notes: list[object] = []
    for start in range(0, len(frame), chunk):
        part = frame.iloc[start : start + chunk].rename(columns=COLUMNS).astype(str)
        notes += builder.add(part, COLUMNS, np.ones(len(part), dtype=bool)).tolist()
    return builder.drift(), notes


def test_a_profile_holds_deciles_and_category_shares_of_the_training_rows() -> None:
    profile = profile_of(TRAINING)

    income = profile.features["income"]
    assert income.kind == "number" and income.edges is not None
    assert (
        income.edges[0] == TRAINING["income"].min() and income.edges[-1] == TRAINING["income"].max()
    )
    assert income.shares == pytest.approx([0.1] * 10, abs=0.002)
    region = profile.features["region"]
    assert (region.kind, region.categories, region.complete) == (
        "category",
        ["north", "south", "east"],
        True,
    )
    assert region.shares == pytest.approx([0.5, 0.3, 0.2, 0.0], abs=0.02)


def test_rows_like_the_training_rows_have_a_psi_near_zero_and_no_warnings() -> None:
    profile = profile_of(TRAINING)
    fresh = pd.DataFrame(
        {
            "income": RNG.normal(50, 10, 3000).clip(
                TRAINING["income"].min(), TRAINING["income"].max()
            ),
            "region": RNG.choice(["north", "south", "east"], 3000, p=[0.5, 0.3, 0.2]),
        }
    )
    drift, notes = job_drift(profile, fresh)

    assert all(f.psi < 0.02 and not f.shifted for f in drift.features)
    assert drift.rows_outside == 0 and set(notes) == {None}


def test_shifted_rows_score_over_the_threshold_and_out_of_range_rows_are_flagged() -> None:
    profile = profile_of(TRAINING)
    top = TRAINING["income"].max()
    shifted = pd.DataFrame(
        {
            "income": [*RNG.normal(75, 10, 1990), top + 1, top + 50, *[top + 5] * 8],
            "region": [*RNG.choice(["north", "south"], 1996), "west", "west", "north", "south"],
        }
    )
    drift, notes = job_drift(profile, shifted)

    by_name = {f.feature: f for f in drift.features}
    assert by_name["income"].psi > SHIFTED and by_name["income"].shifted
    assert drift.features[0].feature == "income"  # the worst first
    expected_out = int((shifted["income"] > top).sum())
    assert by_name["income"].outside == expected_out
    assert by_name["region"].outside == 2  # two rows from a region training never saw
    flagged = [i for i, note in enumerate(notes) if note]
    assert drift.rows_outside == len(flagged)
    high = float(np.float64(top + 50))
    assert (
        notes[1991] == f"Income {high:.4g} (training: {TRAINING['income'].min():.4g} to {top:.4g})"
    )
    assert str(notes[1996]).endswith("; Region 'west' (a category training never saw)")
    assert sum(by_name["income"].job) == pytest.approx(1)
    assert by_name["income"].job[-1] > 0.6  # most rows above training's top decile
    assert by_name["income"].training[-1] == pytest.approx(0.1, abs=0.002)


def test_a_row_outside_on_two_features_names_both() -> None:
    profile = profile_of(TRAINING)
    frame = pd.DataFrame({"income": [1e6], "region": ["mars"]})
    _, notes = job_drift(profile, frame)

    assert notes[0] is not None
    assert str(notes[0]).startswith("Income 1e+06 (training: ")
    assert str(notes[0]).endswith("; Region 'mars' (a category training never saw)")


def test_unscored_rows_and_empty_cells_are_not_counted() -> None:
    profile = profile_of(TRAINING)
    builder = DriftBuilder(profile)
    part = pd.DataFrame({"Income": ["1e6", "", "abc", "50"], "Region": ["mars", "", "north", "x"]})
    notes = builder.add(part, COLUMNS, np.array([False, True, True, True]))

    assert notes.tolist()[:3] == [None, None, None]  # unscored, empty, not a number
    assert notes.tolist()[3] == "Region 'x' (a category training never saw)"
    drift = builder.drift()
    assert {f.feature: f.outside for f in drift.features} == {"income": 0, "region": 1}
    assert drift.rows_outside == 1


def test_a_text_feature_with_many_values_flags_no_unseen_category() -> None:
    many = pd.DataFrame({"income": np.arange(300.0), "region": [f"r{i}" for i in range(300)]})
    profile = profile_of(many)
    assert profile.features["region"].complete is False
    _, notes = job_drift(profile, pd.DataFrame({"income": [5.0], "region": ["r999"]}))
    assert notes == [None]
