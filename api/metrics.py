"""Prometheus metrics: read from the database at each scrape (so every web server reports the
whole system): the job table's state as gauges, and the monotonic totals of db/counters.py
(jobs finished, rows, job durations, webhooks) that no prune lowers; and this server's own
request, prediction and latency counters.

With several HTTP worker processes, `batchscore serve` points PROMETHEUS_MULTIPROC_DIR at a
fresh folder and each process's latency is summed from there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import Scope

from batchscore.config import METRICS_DIR_ENV
from batchscore.db.counters import Histogram as Counted
from batchscore.db.jobs import JobStatus
from batchscore.scheduler.context import Context
from batchscore.service.status import stats as system_stats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

PREDICT_LATENCY = Histogram(
    "batchscore_predict_latency_seconds",
    "Real-time predict calls that answered 200, from the first byte of the body to the answer.",
    ["model"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=None,  # registered per app by metrics_registry()
)


PREDICTIONS = Counter(
    "batchscore_predictions",
    "Records scored by real-time predict calls that answered 200.",
    ["model"],
    registry=None,
)
HTTP_REQUESTS = Counter(
    "batchscore_http_requests",
    "HTTP requests answered, by route (its path template), method and status.",
    ["route", "method", "status"],
    registry=None,
)
HTTP_LATENCY = Histogram(
    "batchscore_http_request_duration_seconds",
    "Seconds from a request's arrival to the end of its answer, by route.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=None,
)
_PROCESS_METRICS = (PREDICT_LATENCY, PREDICTIONS, HTTP_REQUESTS, HTTP_LATENCY)


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Count an answered request under its route's template (a path nothing matched is
    'unmatched', so a scanner cannot make a label per URL)."""
    route = scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    HTTP_REQUESTS.labels(template, scope["method"], str(status)).inc()
    HTTP_LATENCY.labels(template).observe(seconds)


class _JobTable(Collector):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        stats = system_stats(self.ctx)
        jobs = GaugeMetricFamily("batchscore_jobs", "Jobs by status.", labels=["status"])
        for status, count in stats.jobs_by_status.items():
            jobs.add_metric([status.value], count)
        yield jobs
        yield GaugeMetricFamily(
            "batchscore_queue_depth",
            "Pending jobs waiting for a processor.",
            value=stats.jobs_by_status[JobStatus.PENDING],
        )
        yield GaugeMetricFamily(
            "batchscore_oldest_pending_seconds",
            "How long the oldest pending job has waited (0 with none pending).",
            value=stats.pending_wait_seconds or 0.0,
        )
        running = [w for w in stats.workers if w.stopped_at is None or w.job_id is not None]
        yield GaugeMetricFamily(
            "batchscore_workers",
            "Processors running: seen in the last 2 minutes and not stopped, or holding a job.",
            value=len(running),
        )
        totals = stats.counters
        finished = CounterMetricFamily(
            "batchscore_jobs_finished", "Jobs that have ended, by how.", labels=["status"]
        )
        for ended in ENDED:
            finished.add_metric([ended], totals.get(("jobs_finished", ended), 0.0))
        yield finished
        for name, text in _ROW_COUNTERS.items():
            yield CounterMetricFamily(f"batchscore_{name}", text, value=totals.get((name, ""), 0.0))
        deliveries = CounterMetricFamily(
            "batchscore_webhook_deliveries",
            "Webhook attempts by outcome: delivered, retried (to be tried again), failed "
            "(given up).",
            labels=["outcome"],
        )
        for outcome in ("delivered", "retried", "failed"):
            deliveries.add_metric([outcome], totals.get(("webhook_deliveries", outcome), 0.0))
        yield deliveries
        yield _histogram(
            "batchscore_job_duration_seconds",
            "Ended jobs that ran, by seconds from claim to end.",
            stats.durations,
        )
        yield _histogram(
            "batchscore_job_rows_per_second",
            "Processed scoring jobs by rows scored per second.",
            stats.rows_per_second,
        )


_ROW_COUNTERS = {
    "rows_scored": "Rows of processed scoring jobs that got a prediction.",
    "rows_failed": "Rows of processed scoring jobs that could not be scored.",
}
ENDED = ("PROCESSED", "FAILED", "CANCELLED")


def _histogram(name: str, documentation: str, counted: Counted) -> HistogramMetricFamily:
    buckets = [
        ("+Inf" if bound == float("inf") else repr(float(bound)), count)
        for bound, count in zip(counted.bounds, counted.counts, strict=True)
    ]
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=counted.total)


def metrics_registry(ctx: Context) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_JobTable(ctx))
    if os.environ.get(METRICS_DIR_ENV):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for metric in _PROCESS_METRICS:
            registry.register(metric)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
