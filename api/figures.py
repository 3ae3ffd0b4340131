"""The panel's figures: what a model's versions scored, what a job's predictions look like and
how right they were, and how the queue and its processors are doing. Data in, (caption,
chart) pairs and rows to show out; drawing is api/charts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from markupsafe import Markup

from batchscore.api import charts
from batchscore.db.workers import ALIVE_WITHIN_SECONDS, WorkerRecord
from batchscore.model.metadata import ModelInfo
from batchscore.model.summary import Confusion, Summary
from batchscore.service.status import Queue

# How the panel names a metric; programs see the keys.
METRIC_NAMES = {"accuracy": "Accuracy", "f1_macro": "Macro F1", "r2": "R²", "mae": "MAE"}
AT_MOST_ONE = {"accuracy", "f1_macro", "r2"}  # a chart's axis stops at 1 for these
SHADES = 4  # a confusion matrix cell's shade: 0 (none of its row) to SHADES (all of it)

Figure = tuple[str, Markup]  # (caption, chart)


def metric_charts(versions: Sequence[ModelInfo]) -> list[Figure]:
    """A line per metric across the versions that measured it (an imported version was
    measured by nobody)."""
    names = sorted({name for info in versions for name in info.metrics}, key=_metric_order)
    figures = []
    for name in names:
        caption = f"{METRIC_NAMES.get(name, name)} by version"
        points = [(f"v{i.version}", i.metrics[name]) for i in versions if name in i.metrics]
        most = 1.0 if name in AT_MOST_ONE else None
        figures.append((caption, charts.line(points, title=caption, most=most)))
    return figures


def summary_of(job_summary: dict[str, Any] | None) -> Summary | None:
    return None if job_summary is None else msgspec.convert(job_summary, Summary)


def prediction_charts(summary: Summary) -> list[Figure]:
    """How the predictions fell: per class, or a histogram; and how sure the classifier was."""
    figures = []
    if summary.class_counts is not None:
        counts = sorted(summary.class_counts.items(), key=lambda item: -item[1])
        figures.append(("Rows per predicted class", charts.bars(counts, title="Rows per class")))
    if summary.predictions is not None:
        sampled = summary.sampled or 0
        caption = "Predictions" + (
            f" (a sample of {sampled:,} rows)" if sampled < summary.rows else ""
        )
        histogram = summary.predictions
        figures.append((caption, charts.columns(histogram.edges, histogram.counts, title=caption)))
    if summary.top_probability is not None:
        caption = "How sure: each row's probability of its class"
        top = summary.top_probability
        figures.append((caption, charts.columns(top.edges, top.counts, title=caption)))
    return figures


def scatter_chart(summary: Summary) -> Figure | None:
    """A regressor's predictions against the known answers, where the file gave them."""
    evaluation = summary.evaluation
    if evaluation is None or not evaluation.points:
        return None
    caption = f"Predicted against actual {evaluation.target}"
    points = [(a, p) for a, p in evaluation.points]
    return caption, charts.scatter(points, title=caption, x_label="actual", y_label="predicted")


def drift_charts(summary: Summary, most: int = 3) -> list[Figure]:
    """The shifted features' spread in training (hollow) against the job's (filled)."""
    if summary.drift is None:
        return []
    figures = []
    for feature in [f for f in summary.drift.features if f.shifted][:most]:
        caption = f"{feature.feature}: training (hollow) against this file (filled)"
        chart = charts.pairs(feature.bins, feature.training, feature.job, title=caption)
        figures.append((caption, chart))
    return figures


@dataclass(frozen=True)
class Cell:
    count: int
    shade: int  #: 0 … SHADES, of the row's total
    right: bool  #: on the diagonal: predicted as it was


def confusion_rows(confusion: Confusion) -> list[tuple[str, list[Cell]]]:
    """(known answer, its cells by prediction), shaded by share of the row."""
    rows = []
    for i, (label, counts) in enumerate(zip(confusion.labels, confusion.counts, strict=True)):
        total = sum(counts) or 1
        cells = [Cell(n, round(SHADES * n / total), j == i) for j, n in enumerate(counts)]
        rows.append((label, cells))
    return rows


def _metric_order(name: str) -> tuple[int, str]:
    order = list(METRIC_NAMES)
    return (order.index(name) if name in order else len(order), name)


@dataclass(frozen=True)
class Throughput:
    jobs: int  #: processed in the last hour
    jobs_per_minute: str
    rows_per_second: str
    sparkline: Markup  #: jobs per minute


def throughput(queue: Queue) -> Throughput:
    per_minute = [m.jobs for m in queue.minutes]
    return Throughput(
        jobs=sum(per_minute),
        jobs_per_minute=charts.number(queue.jobs_per_minute),
        rows_per_second=charts.number(queue.rows_per_second),
        sparkline=charts.sparkline(per_minute, title="Jobs processed per minute, the last hour"),
    )


@dataclass(frozen=True)
class ProcessorLine:
    """One processor as the processors page shows it."""

    worker_id: str
    host: str
    role: str
    state: str  #: "working", "idle", "stopped" or "silent"
    job_id: int | None
    jobs_done: int
    seen_seconds_ago: float
    started_at: str


def processor_line(worker: WorkerRecord) -> ProcessorLine:
    """A worker id is host:pid:nonce (scheduler.context), so its host reads off it."""
    if worker.job_id is not None:
        state = "working"
    elif worker.stopped_at is not None:
        state = "stopped"
    elif worker.seen_seconds_ago > ALIVE_WITHIN_SECONDS:
        state = "silent"  # neither stopped nor seen: killed, or its host is gone
    else:
        state = "idle"
    return ProcessorLine(
        worker_id=worker.worker_id,
        host=worker.worker_id.rsplit(":", 2)[0],
        role=worker.role,
        state=state,
        job_id=worker.job_id,
        jobs_done=worker.jobs_done,
        seen_seconds_ago=worker.seen_seconds_ago,
        started_at=worker.started_at.isoformat() + "Z",
    )
