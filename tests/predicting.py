"""The JSON predict route's answer for an iris row: what a batch result must agree with."""

from __future__ import annotations

from collections.abc import Sequence

import httpx2
from factories import IRIS_HEADER


def predicted_probability(client: httpx2.Client, row: Sequence[str], model: str = "iris") -> float:
    """The probability POST /api/models/{model}/predict gives the class it predicts for `row`."""
    record = dict(zip(IRIS_HEADER, map(float, row), strict=True))
    response = client.post(f"/api/models/{model}/predict", json=record)
    assert response.status_code == 200, response.text
    body = response.json()
    probability: float = body["probabilities"][body["prediction"]]
    return probability
