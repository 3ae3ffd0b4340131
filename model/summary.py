"""What a score job's predictions look like and, when its file holds the known answers (the
model's target column), how right they were: gathered chunk by chunk as the job streams, in
memory that does not grow with the file.

Class counts, the top-probability histogram, the confusion matrix and R²/MAE are exact; a
regressor's prediction histogram and the predicted-vs-actual points come from a uniform
sample (reservoir sampling) of SAMPLE rows, so a 10-million-row job costs what a small one does.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import numpy.typing as npt
import pandas as pd
from msgspec import Meta, Struct

from batchscore.model.drift import Drift
from batchscore.model.metadata import ModelInfo
from batchscore.numbers import parse_floats

SAMPLE = 10_000  # rows a regressor's histogram is drawn from
POINTS = 400  # (actual, predicted) pairs kept for the scatter plot
BINS = 20  # of a regressor's prediction histogram
PROBABILITY_EDGES = [i / 10 for i in range(11)]
OTHER = "(not a class)"  # a known answer the model has no class for: always a wrong prediction

Count = Annotated[int, Meta(ge=0)]


class Histogram(Struct):
    edges: Annotated[list[float], Meta(description="Bin i holds edges[i] ≤ value < edges[i+1].")]
    counts: list[Count]


class Confusion(Struct):
    """Rows are the known answers, columns the predictions, both in `labels` order."""

    labels: list[str]
    counts: list[list[Count]]


class Evaluation(Struct, kw_only=True, omit_defaults=True):
    """How right the predictions were on the rows whose file gave the answer."""

    target: Annotated[str, Meta(description="The column that holds the known answers.")]
    rows: Annotated[Count, Meta(description="Scored rows with a known answer.")]
    accuracy: float | None = None
    f1_macro: float | None = None
    confusion: Confusion | None = None
    r2: float | None = None
    mae: float | None = None
    points: Annotated[
        list[tuple[float, float]] | None,
        Meta(description="A uniform sample of (actual, predicted) pairs, for a scatter plot."),
    ] = None


class Summary(Struct, kw_only=True, omit_defaults=True):
    """A processed score job's predictions at a glance."""

    rows: Annotated[Count, Meta(description="Scored rows (rows with errors are not counted).")]
    class_counts: Annotated[
        dict[str, Count] | None, Meta(description="A classifier's predictions per class.")
    ] = None
    predictions: Annotated[
        Histogram | None,
        Meta(description="A regressor's predictions, from `sampled` of the rows."),
    ] = None
    sampled: Count | None = None
    top_probability: Annotated[
        Histogram | None,
        Meta(description="How sure the classifier was: each row's probability of its class."),
    ] = None
    evaluation: Evaluation | None = None
    drift: Annotated[
        Drift | None,
        Meta(description="The rows against the model's training data (none if imported)."),
    ] = None


class SummaryBuilder:
    """Takes each scored chunk once (add) and says what they came to (summary)."""

    def __init__(self, info: ModelInfo, *, has_target: bool, decimal: str = ".") -> None:
        self.info, self.has_target, self.decimal = info, has_target, decimal
        self.rows = 0
        self.rng = np.random.default_rng(0)  # the same file gives the same picture
        labels = [*(info.classes or ()), OTHER]
        self.labels = labels
        self.counts = np.zeros(len(labels) - 1, dtype=np.int64)
        self.confusion = np.zeros((len(labels), len(labels) - 1), dtype=np.int64)
        self.top = np.zeros(len(PROBABILITY_EDGES) - 1, dtype=np.int64)
        self.has_probabilities = False
        self.sample = _Reservoir(SAMPLE, 1, self.rng)
        self.points = _Reservoir(POINTS, 2, self.rng)
        self.known = 0  # a regressor's rows with an answer, and the sums R² and MAE need
        self.mean = self.m2 = self.squared_error = self.absolute_error = 0.0

    def add(self, predictions: pd.Series, top: pd.Series | None, actual: pd.Series | None) -> None:
        """One chunk: its predictions (None where unscored), each row's probability of its
        class (or None), and the target column's cells if the file has one."""
        scored = predictions.notna().to_numpy()
        self.rows += int(scored.sum())
        if top is not None:
            self.has_probabilities = True
            values = top.to_numpy(dtype=float)[scored]
            self.top += np.histogram(values, bins=PROBABILITY_EDGES)[0]
        if self.info.task == "classification":
            self._add_classes(predictions[scored], None if actual is None else actual[scored])
        else:
            predicted = predictions[scored].to_numpy(dtype=float)
            self.sample.add(predicted[:, None])
            if actual is not None:
                self._add_quantities(predicted, actual[scored])

    def _add_classes(self, predicted: pd.Series, actual: pd.Series | None) -> None:
        classes = pd.Index(self.labels[:-1])
        columns = classes.get_indexer(pd.Index(predicted.astype(str)))
        self.counts += np.bincount(columns[columns >= 0], minlength=len(classes))
        if actual is None:
            return
        answers = actual.astype("string").str.strip()
        given = (answers.notna() & (answers != "")).to_numpy()
        rows = classes.get_indexer(pd.Index(answers[given]))
        rows[rows < 0] = len(classes)  # OTHER
        columns = columns[given]
        cells = rows * len(classes) + columns
        found = np.bincount(cells[columns >= 0], minlength=self.confusion.size)
        self.confusion += found.reshape(self.confusion.shape)

    def _add_quantities(self, predicted: npt.NDArray[np.float64], actual: pd.Series) -> None:
        truth = parse_floats(actual.reset_index(drop=True), self.decimal)
        given = np.isfinite(truth)
        truth, predicted = truth[given], predicted[given]
        if not truth.size:
            return
        # Chan et al.'s update of the mean and sum of squares: exact in one pass, and stable.
        n, mean, m2 = truth.size, float(truth.mean()), float(((truth - truth.mean()) ** 2).sum())
        delta, total = mean - self.mean, self.known + n
        self.m2 += m2 + delta**2 * self.known * n / total
        self.mean += delta * n / total
        self.known = total
        self.squared_error += float(((truth - predicted) ** 2).sum())
        self.absolute_error += float(np.abs(truth - predicted).sum())
        self.points.add(np.column_stack([truth, predicted]))

    def summary(self) -> Summary:
        top = _histogram(PROBABILITY_EDGES, self.top) if self.has_probabilities else None
        if self.info.task == "classification":
            class_counts = dict(zip(self.labels[:-1], map(int, self.counts), strict=True))
            return Summary(
                rows=self.rows,
                class_counts=class_counts,
                top_probability=top,
                evaluation=self._class_evaluation(),
            )
        values = self.sample.values[:, 0]
        return Summary(
            rows=self.rows,
            predictions=_sample_histogram(values) if values.size else None,
            sampled=int(values.size),
            evaluation=self._quantity_evaluation(),
        )

    def _class_evaluation(self) -> Evaluation | None:
        if not self.has_target:
            return None
        matrix = self.confusion
        known = int(matrix.sum())
        if known == 0:
            return Evaluation(target=self.info.target, rows=0)
        right = np.diag(matrix[:-1]).astype(float)
        predicted, actual = matrix.sum(axis=0).astype(float), matrix[:-1].sum(axis=1)
        seen = (predicted + actual) > 0  # scikit-learn's macro F1 averages over these labels
        f1 = np.divide(2 * right, predicted + actual, out=np.zeros_like(right), where=seen)
        scores = list(f1[seen])
        if matrix[-1].sum():
            scores.append(0.0)  # answers the model has no class for: never predicted right
        labels = self.labels if matrix[-1].sum() else self.labels[:-1]
        return Evaluation(
            target=self.info.target,
            rows=known,
            accuracy=float(right.sum() / known),
            f1_macro=float(np.mean(scores)),
            confusion=Confusion(labels=labels, counts=matrix[: len(labels)].tolist()),
        )

    def _quantity_evaluation(self) -> Evaluation | None:
        if not self.has_target:
            return None
        if self.known == 0:
            return Evaluation(target=self.info.target, rows=0)
        r2 = 1 - self.squared_error / self.m2 if self.m2 > 0 else None
        return Evaluation(
            target=self.info.target,
            rows=self.known,
            r2=r2,
            mae=self.absolute_error / self.known,
            points=[(float(a), float(p)) for a, p in self.points.values],
        )


class _Reservoir:
    """A uniform sample of `size` rows of everything added (Vitter's algorithm R, by chunk)."""

    def __init__(self, size: int, width: int, rng: np.random.Generator) -> None:
        self.size, self.rng, self.seen = size, rng, 0
        self.values = np.empty((0, width))

    def add(self, rows: npt.NDArray[np.float64]) -> None:
        room = self.size - len(self.values)
        if room > 0:
            self.values = np.concatenate([self.values, rows[:room]])
        rest = rows[max(room, 0) :]
        if len(rest):
            # Row number t (counting from 0) replaces a random slot with probability size/(t+1).
            numbers = self.seen + max(room, 0) + np.arange(len(rest))
            slots = self.rng.integers(0, numbers + 1)
            taken = slots < self.size
            self.values[slots[taken]] = rest[taken]
        self.seen += len(rows)


def _histogram(edges: list[float], counts: npt.NDArray[np.int64]) -> Histogram:
    return Histogram(edges=list(edges), counts=[int(c) for c in counts])


def _sample_histogram(values: npt.NDArray[np.float64]) -> Histogram:
    low, high = float(values.min()), float(values.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(values, bins=BINS, range=(low, high))
    return Histogram(edges=[float(e) for e in edges], counts=[int(c) for c in counts])


def evaluation_rows(evaluation: Evaluation | None) -> list[tuple[str, int | float]]:
    """The evaluation as (item, value) rows, for the result workbook's about sheet."""
    if evaluation is None:
        return []
    rows: list[tuple[str, int | float]] = [
        (f"Rows with a known {evaluation.target}", evaluation.rows)
    ]
    named = {"Accuracy": evaluation.accuracy, "Macro F1": evaluation.f1_macro}
    named |= {"R²": evaluation.r2, "MAE": evaluation.mae}
    return rows + [(name, value) for name, value in named.items() if value is not None]
