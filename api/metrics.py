"""Prometheus metrics: the job table's state, read from the database at each scrape (so every
web server reports the whole system), and this server's predict latency.

With several HTTP worker processes, `batchscore serve` points PROMETHEUS_MULTIPROC_DIR at a
fresh folder and each process's latency is summed from there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from batchscore.config import METRICS_DIR_ENV
from batchscore.db.jobs import JobStatus
from batchscore.db.stats import Histogram as Counted
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
        yield _histogram(
            "batchscore_job_duration_seconds",
            "Finished jobs (processed or failed) by seconds from claim to end.",
            stats.durations,
        )
        yield _histogram(
            "batchscore_job_rows_per_second",
            "Processed scoring jobs by rows scored per second.",
            stats.rows_per_second,
        )


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
        registry.register(PREDICT_LATENCY)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
