"""GET /metrics over real HTTP: scraped and parsed as Prometheus would, its figures checked
against what was done to the server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx2
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from batchscore.db.engine import in_transaction
from batchscore.db.workers import worker_seen, worker_stopped
from batchscore.scheduler.context import Context
from batchscore.service.jobs import prune

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
CSV = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.3,3.3,6.0,2.5\n"


def scrape(client: httpx2.Client) -> dict[str, list[Sample]]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    [found] = [s.value for s in samples if s.name == name and s.labels == labels]
    return found


def predictions_counted(client: httpx2.Client) -> float:
    """This server process's count so far: other tests' servers ran in the same process."""
    samples = scrape(client).get("batchscore_predict_latency_seconds", [])
    counts = [s.value for s in samples if s.name.endswith("_count") and s.labels["model"] == "iris"]
    return counts[0] if counts else 0.0


def test_metrics_follow_the_jobs_the_workers_and_the_predictions(
    ctx: Context, alice: Caller, anonymous: httpx2.Client
) -> None:
    predicted_before = predictions_counted(anonymous)
    ids = [
        alice.client.post("/api/jobs", files={"file": (f"{n}.csv", CSV, "text/csv")}).json()["id"]
        for n in range(3)
    ]
    for job_id in ids[:2]:
        alice.client.post(f"/process_file?id={job_id}").raise_for_status()
    for _ in range(4):
        alice.client.post("/api/models/iris/predict", json=SETOSA).raise_for_status()
    refused = alice.client.post("/api/models/iris/predict", json={"sepal_length": 1})
    assert refused.status_code == 422  # not counted: latency is of answered predictions
    in_transaction(ctx.engine, lambda c: worker_seen(c, "host-a:1:x", "worker", 0))

    metrics = scrape(anonymous)  # open, like /health

    jobs = metrics["batchscore_jobs"]
    assert value(jobs, "batchscore_jobs", status="PROCESSED") == 2
    assert value(jobs, "batchscore_jobs", status="PENDING") == 1
    assert value(metrics["batchscore_queue_depth"], "batchscore_queue_depth") == 1
    assert value(metrics["batchscore_workers"], "batchscore_workers") >= 1
    waited = metrics["batchscore_oldest_pending_seconds"]
    assert 0 <= value(waited, "batchscore_oldest_pending_seconds") < 600
    durations = metrics["batchscore_job_duration_seconds"]
    assert value(durations, "batchscore_job_duration_seconds_count") == 2
    assert value(durations, "batchscore_job_duration_seconds_bucket", le="+Inf") == 2
    rates = metrics["batchscore_job_rows_per_second"]
    assert value(rates, "batchscore_job_rows_per_second_bucket", le="+Inf") <= 2
    latency = metrics["batchscore_predict_latency_seconds"]
    count = value(latency, "batchscore_predict_latency_seconds_count", model="iris")
    assert count - predicted_before == 4
    assert 0 < value(latency, "batchscore_predict_latency_seconds_sum", model="iris") < 60


def test_histogram_buckets_are_cumulative_and_end_at_the_count(
    alice: Caller, anonymous: httpx2.Client
) -> None:
    for _ in range(3):
        alice.client.post("/api/models/iris/predict", json=[SETOSA] * 50).raise_for_status()
    job = alice.client.post("/api/jobs", files={"file": ("a.csv", CSV, "text/csv")}).json()
    alice.client.post(f"/process_file?id={job['id']}").raise_for_status()

    metrics = scrape(anonymous)

    for name, labels in (
        ("batchscore_job_duration_seconds", {}),
        # Per process: other tests in this one may have predicted with other models.
        ("batchscore_predict_latency_seconds", {"model": "iris"}),
    ):
        ours = [s for s in metrics[name] if labels.items() <= s.labels.items()]
        buckets = [s for s in ours if s.name == f"{name}_bucket"]
        counts = [s.value for s in buckets]
        assert counts == sorted(counts) and buckets[-1].labels["le"] == "+Inf"
        assert counts[-1] == next(s.value for s in ours if s.name == f"{name}_count")


def test_a_stopped_worker_is_no_longer_counted(ctx: Context, anonymous: httpx2.Client) -> None:
    in_transaction(ctx.engine, lambda c: worker_seen(c, "host-b:2:y", "worker", 0))
    running = value(scrape(anonymous)["batchscore_workers"], "batchscore_workers")

    in_transaction(ctx.engine, lambda c: worker_stopped(c, "host-b:2:y", 0))

    assert value(scrape(anonymous)["batchscore_workers"], "batchscore_workers") == running - 1


def test_totals_count_every_end_and_never_fall_when_jobs_are_deleted_or_pruned(
    alice: Caller, jobs: Jobs, ctx: Context, anonymous: httpx2.Client
) -> None:
    processed = [jobs.make(alice, "PROCESSED", rows=3) for _ in range(2)]
    failed = jobs.make(alice, "FAILED")
    cancelled = jobs.make(alice, "CANCELLED")
    before = scrape(anonymous)
    for job in (processed[0], failed):
        assert alice.client.delete(f"/api/jobs/{job.id}").status_code == 204
    for job in (processed[1], cancelled):
        assert alice.client.post(f"/api/jobs/{job.id}/archive").status_code == 200
    assert len(prune(ctx, older_than_seconds=0)) == 2  # what `batchscore prune` does

    after = scrape(anonymous)

    assert value(after["batchscore_jobs"], "batchscore_jobs", status="PROCESSED") == 0
    for metrics in (before, after):  # the same before and after the deletes
        finished = metrics["batchscore_jobs_finished"]
        assert value(finished, "batchscore_jobs_finished_total", status="PROCESSED") == 2
        assert value(finished, "batchscore_jobs_finished_total", status="FAILED") == 1
        assert value(finished, "batchscore_jobs_finished_total", status="CANCELLED") == 1
        scored = metrics["batchscore_rows_scored"]
        assert value(scored, "batchscore_rows_scored_total") == 6
        assert value(metrics["batchscore_rows_failed"], "batchscore_rows_failed_total") == 0
        durations = metrics["batchscore_job_duration_seconds"]
        assert value(durations, "batchscore_job_duration_seconds_count") == 3  # those that ran


def test_requests_and_predictions_are_counted_by_route_not_by_url(
    alice: Caller, anonymous: httpx2.Client
) -> None:
    def requests(route: str, status: str) -> float:
        samples = scrape(anonymous).get("batchscore_http_requests", [])
        found = [
            s.value
            for s in samples
            if s.name == "batchscore_http_requests_total"
            and (s.labels["route"], s.labels["method"], s.labels["status"])
            == (route, "GET", status)
        ]
        return found[0] if found else 0.0

    def predicted() -> float:
        samples = scrape(anonymous).get("batchscore_predictions", [])
        found = [
            s.value for s in samples if s.name.endswith("_total") and s.labels["model"] == "iris"
        ]
        return found[0] if found else 0.0

    shown, missing, records = (
        requests("/api/jobs/{job_id:int}", "404"),
        requests("unmatched", "404"),
        predicted(),
    )
    for job_id in (123456, 123457):
        assert alice.client.get(f"/api/jobs/{job_id}").status_code == 404
    assert alice.client.get("/no/such/page").status_code == 404
    alice.client.post("/api/models/iris/predict", json=[SETOSA] * 7).raise_for_status()
    assert requests("/api/jobs/{job_id:int}", "404") - shown == 2
    assert requests("unmatched", "404") - missing == 1
    assert predicted() - records == 7
