"""Commands on jobs: submit, process, process-all, worker, jobs, status, prune."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from batchscore.cli.common import EXIT_FAILED, EXIT_NOTHING, EXIT_OK, ago, context_of
from batchscore.errors import BatchscoreError

if TYPE_CHECKING:
    from batchscore.db.stats import SystemStats
    from batchscore.scheduler.context import Context
    from batchscore.scheduler.loop import RunSummary


def submit(args: argparse.Namespace) -> int:
    from batchscore.config import PROBABILITIES
    from batchscore.scheduler.reading import describe_read_as
    from batchscore.scheduler.score_options import ScoreOptions
    from batchscore.service import accounts
    from batchscore.service.intake import submit_file

    ctx = context_of(args)
    path: Path = args.file
    try:
        source = path.open("rb")
    except OSError as exc:
        raise BatchscoreError(f"Cannot open {path}: {exc.strerror}.") from exc
    owner_id = accounts.user_named(ctx, args.user).id if args.user else None
    with source:
        job = submit_file(
            ctx,
            source,
            path.name,
            model_name=args.model,
            output_format=args.format,
            options=ScoreOptions(
                probabilities=args.probabilities or PROBABILITIES[0],
                keep_formulas=args.keep_formulas,
                encoding=args.encoding,
                decimal=args.decimal,
                sheet=args.sheet,
            ),
            owner_id=owner_id,
        )
    print(f"Job {job.id} queued: {job.original_filename} (model {job.model_name})")
    if job.read_as:
        print(f"Read as {describe_read_as(job.read_as)}")
    if owner_id is None:
        print("No owner (--user NAME gives it one): in the panel and API only admins see it")
    return EXIT_OK


def process(args: argparse.Namespace) -> int:
    from batchscore.db.jobs import JobStatus
    from batchscore.scheduler.processor import process_one

    ctx = context_of(args)
    job = process_one(ctx, job_id=args.job)
    if job is None:
        print("No pending job." if args.job is None else f"Job {args.job} is not pending.")
        return EXIT_NOTHING
    if job.status is JobStatus.PROCESSED:
        result = ctx.storage.output_url(job.output_name or "")
        total = job.rows_total or 0
        rows = f"{total:,} row{'' if total == 1 else 's'}, {job.rows_failed:,} with errors"
        print(f"Job {job.id} PROCESSED: {rows} → {result}")
        return EXIT_OK
    reason = job.error_message or "taken over by another processor"
    print(f"Job {job.id} {job.status.value}: {reason}")
    return EXIT_FAILED


def process_all(args: argparse.Namespace) -> int:
    from batchscore.scheduler.loop import run_until_empty

    return _run_loop(
        args, lambda ctx, stop: run_until_empty(ctx, max_jobs=args.max_jobs, stop=stop)
    )


def worker(args: argparse.Namespace) -> int:
    from batchscore.scheduler.loop import run_forever

    return _run_loop(
        args,
        lambda ctx, stop: run_forever(
            ctx, poll_seconds=args.poll or ctx.settings.poll_seconds, stop=stop
        ),
    )


def _run_loop(
    args: argparse.Namespace, loop: Callable[[Context, threading.Event], RunSummary]
) -> int:
    """Run a processing loop until it ends or SIGTERM / Ctrl-C stops it; say what it did."""
    from batchscore.scheduler.loop import stop_on_signals

    ctx = context_of(args)
    stop = threading.Event()
    stop_on_signals(stop)
    summary = loop(ctx, stop)
    print(f"{summary.processed} processed, {summary.failed} failed, {summary.other} handed over.")
    return EXIT_OK


def list_jobs(args: argparse.Namespace) -> int:
    from batchscore.db.jobs import JobStatus
    from batchscore.service import jobs

    ctx = context_of(args)
    status = JobStatus(args.status) if args.status else None
    page = jobs.list_jobs(ctx, None, status=status, archived=args.archived, limit=args.limit)
    header = f"{'ID':>6}  {'STATUS':<11}  {'ROWS':>9}  {'FAILED':>6}  {'MODEL':<12}"
    print(f"{header}  FILE  RESULT/ERROR")
    for job in page.jobs:
        model = f"{job.model_name} v{job.model_version}" if job.model_version else job.model_name
        rows = f"{job.rows_done:,}" if job.rows_total is None else f"{job.rows_total:,}"
        detail = job.output_name or job.error_message or ""
        print(
            f"{job.id:>6}  {job.status.value:<11}  {rows:>9}  {job.rows_failed:>6}  {model:<12}  "
            f"{job.original_filename}  {detail}"
        )
    return EXIT_OK


def status(args: argparse.Namespace) -> int:
    from batchscore.db.jobs import JobStatus
    from batchscore.db.workers import ALIVE_WITHIN_SECONDS
    from batchscore.service.status import stats

    found = stats(context_of(args))
    counts, wait = found.jobs_by_status, found.pending_wait_seconds
    if args.json:
        print(json.dumps(_status_json(found)))
        return EXIT_OK
    pending = counts[JobStatus.PENDING]
    oldest = f", the oldest waiting {ago(wait)}" if pending and wait is not None else ""
    print(f"Queue: {pending} pending{oldest}; {counts[JobStatus.IN_PROGRESS]} in progress")
    print("Jobs: " + " · ".join(f"{n} {s.value}" for s, n in counts.items()))
    minutes = int(ALIVE_WITHIN_SECONDS // 60)
    print(f"Workers seen in the last {minutes} minutes or holding a job: {len(found.workers)}")
    for w in found.workers:
        state = f"{'stopped' if w.stopped_at else 'seen'} {ago(w.seen_seconds_ago)} ago"
        holding = f", on job {w.job_id}" if w.job_id is not None else ""
        print(f"  {w.worker_id:<40} {w.role:<12} {state}, {w.jobs_done} jobs done{holding}")
    done = found.durations
    if done.count:
        print(f"Finished jobs: {done.count}, {done.total / done.count:.1f} s each on average")
    return EXIT_OK


def _status_json(stats: SystemStats) -> dict[str, object]:
    return {
        "jobs": {status.value: count for status, count in stats.jobs_by_status.items()},
        "pending_wait_seconds": stats.pending_wait_seconds,
        "workers": [
            {
                "worker_id": w.worker_id,
                "role": w.role,
                "seen_seconds_ago": round(w.seen_seconds_ago, 3),
                "stopped": w.stopped_at is not None,
                "jobs_done": w.jobs_done,
                "job_id": w.job_id,
            }
            for w in stats.workers
        ],
        "finished_jobs": stats.durations.count,
        "finished_seconds_total": stats.durations.total,
    }


def prune(args: argparse.Namespace) -> int:
    from batchscore.service import jobs

    ctx = context_of(args)
    age = ago(args.older_than)
    if args.dry_run:
        found = jobs.prunable(ctx, args.older_than)
        for job in found:
            print(f"{job.id:>6}  {job.status.value:<11}  {job.original_filename}")
        print(f"{len(found)} archived jobs ended over {age} ago would be deleted (dry run).")
        return EXIT_OK
    deleted = jobs.prune(ctx, args.older_than)
    print(f"Deleted {len(deleted)} archived jobs ended over {age} ago, with their files.")
    return EXIT_OK
