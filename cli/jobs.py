"""Commands on jobs: submit, process, process-all, worker, jobs, status, cancel, retry, prune."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from batchscore.cli.common import EXIT_FAILED, EXIT_NOTHING, EXIT_OK, ago, context_of
from batchscore.cli.progress import logs_above_bars, reading
from batchscore.errors import BatchscoreError

if TYPE_CHECKING:
    from batchscore.db.jobs import JobRecord
    from batchscore.db.stats import SystemStats
    from batchscore.scheduler.context import Context
    from batchscore.scheduler.loop import RunSummary


def submit(args: argparse.Namespace) -> int:
    from batchscore.config import PROBABILITIES
    from batchscore.scheduler.reading import describe_read_as
    from batchscore.scheduler.score_options import ScoreOptions
    from batchscore.service import accounts
    from batchscore.service.intake import submit_file

    ctx = context_of(args, watched=True)
    path: Path = args.file
    try:
        source = path.open("rb")
    except OSError as exc:
        raise BatchscoreError(f"Cannot open {path}: {exc.strerror}.") from exc
    owner_id = accounts.user_named(ctx, args.user).id if args.user else None
    size = os.fstat(source.fileno()).st_size
    with (
        source,
        reading(source, f"Saving {path.name}", size) as watched,
        contextlib.closing(ctx.progress),
    ):
        job = submit_file(
            ctx,
            watched,
            path.name,
            model_name=args.model,
            output_format=args.format,
            options=ScoreOptions(
                probabilities=args.probabilities or PROBABILITIES[0],
                keep_formulas=args.keep_formulas,
                warnings=not args.no_warnings,
                encoding=args.encoding,
                decimal=args.decimal,
                sheet=args.sheet,
            ),
            owner_id=owner_id,
            callback_url=args.callback_url,
        )
    print(f"Job {job.id} queued: {job.original_filename} (model {job.model_name})")
    if job.callback_url:
        print(f"When it ends, a webhook goes to {job.callback_url}")
    if job.read_as:
        print(f"Read as {describe_read_as(job.read_as)}")
    if owner_id is None:
        print("No owner (--user NAME gives it one): in the panel and API only admins see it")
    if not args.wait:
        return EXIT_OK
    from batchscore.db.jobs import JobStatus
    from batchscore.service.jobs import finish

    with logs_above_bars():
        ended = finish(ctx, job.id)
    print(_ended(ctx, ended))
    return EXIT_OK if ended.status is JobStatus.PROCESSED else EXIT_FAILED


def process(args: argparse.Namespace) -> int:
    from batchscore.db.jobs import JobStatus
    from batchscore.scheduler.processor import process_one

    ctx = context_of(args, watched=True)
    with logs_above_bars():
        job = process_one(ctx, job_id=args.job)
    if job is None:
        print("No pending job." if args.job is None else f"Job {args.job} is not pending.")
        return EXIT_NOTHING
    print(_ended(ctx, job))
    return EXIT_OK if job.status is JobStatus.PROCESSED else EXIT_FAILED


def _ended(ctx: Context, job: JobRecord) -> str:
    """How a job ended, in one line: what it made, or why not."""
    from batchscore.db.jobs import JobKind, JobStatus

    if job.status is JobStatus.CANCELLED:
        return f"Job {job.id} CANCELLED"
    if job.status is not JobStatus.PROCESSED:
        reason = job.error_message or "taken over by another processor"
        return f"Job {job.id} {job.status.value}: {reason}"
    total = job.rows_total or 0
    rows = f"{total:,} row{'' if total == 1 else 's'}"
    took = ""
    if job.started_at and job.finished_at:
        seconds = (job.finished_at - job.started_at).total_seconds()
        shown = "< 0.1" if seconds < 0.05 else f"{seconds:.1f}"  # not "0.0", as if nothing ran
        took = f" in {shown} s" + (f" ({total / seconds:,.0f} rows/s)" if seconds else "")
    if job.kind is JobKind.TRAIN:
        made = f"{job.model_name} v{job.model_version}"
        return f"Job {job.id} PROCESSED: trained {made} on {rows}{took}"
    result = ctx.storage.output_url(job.output_name or "")
    return f"Job {job.id} PROCESSED: {rows}, {job.rows_failed:,} with errors{took} → {result}"


def process_all(args: argparse.Namespace) -> int:
    from batchscore.scheduler.loop import run_until_empty

    return _run_loop(
        args,
        lambda ctx, stop, ended: run_until_empty(
            ctx, max_jobs=args.max_jobs, stop=stop, on_job=ended
        ),
    )


def worker(args: argparse.Namespace) -> int:
    from batchscore.scheduler.loop import run_forever

    return _run_loop(
        args,
        lambda ctx, stop, ended: run_forever(
            ctx, poll_seconds=args.poll or ctx.settings.poll_seconds, stop=stop, on_job=ended
        ),
    )


def _run_loop(
    args: argparse.Namespace,
    loop: Callable[[Context, threading.Event, Callable[[JobRecord], None]], RunSummary],
) -> int:
    """Run a processing loop until it ends or SIGTERM / Ctrl-C stops it; say what it did, a
    line per job."""
    from batchscore.scheduler.loop import stop_on_signals

    ctx = context_of(args, watched=True)
    stop = threading.Event()
    stop_on_signals(stop)
    with logs_above_bars():
        summary = loop(ctx, stop, lambda job: print(_ended(ctx, job), flush=True))
    print(f"{summary.processed} processed, {summary.failed} failed, {summary.other} handed over.")
    return EXIT_OK


def list_jobs(args: argparse.Namespace) -> int:
    from batchscore.db.jobs import JobFilter, JobStatus
    from batchscore.service import jobs

    ctx = context_of(args)
    status = JobStatus(args.status) if args.status else None
    shown = JobFilter(status=status, include_archived=args.archived)
    page = jobs.list_jobs(ctx, None, shown, limit=args.limit)
    header = f"{'ID':>6}  {'STATUS':<11}  {'ROWS':>15}  {'FAILED':>6}  {'MODEL':<12}"
    print(f"{header}  FILE  RESULT/ERROR")
    for job in page.jobs:
        model = f"{job.model_name} v{job.model_version}" if job.model_version else job.model_name
        rows = _rows(job)
        detail = job.output_name or job.error_message or ""
        print(
            f"{job.id:>6}  {job.status.value:<11}  {rows:>15}  {job.rows_failed:>6}  {model:<12}  "
            f"{job.original_filename}  {detail}"
        )
    return EXIT_OK


def _rows(job: JobRecord) -> str:
    """Rows done / total while a job runs; its total once ended."""
    from batchscore.db.jobs import JobStatus

    if job.rows_total is None:
        return f"{job.rows_done:,}"
    if job.status is JobStatus.IN_PROGRESS:
        return f"{job.rows_done:,}/{job.rows_total:,}"
    return f"{job.rows_total:,}"


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


def cancel(args: argparse.Namespace) -> int:
    from batchscore.service import jobs

    job = jobs.cancel_job(context_of(args), None, args.job)
    print(f"Job {job.id} CANCELLED: {job.original_filename} (retry it to run it again)")
    return EXIT_OK


def retry(args: argparse.Namespace) -> int:
    from batchscore.service import jobs

    ctx = context_of(args)
    if args.failed:
        ids = jobs.retry_failed(ctx, None)
        print(f"{len(ids)} failed jobs queued again" + (f": {_ids(ids)}" if ids else ""))
        return EXIT_OK if ids else EXIT_NOTHING
    job = jobs.retry_job(ctx, None, args.job)
    print(f"Job {job.id} queued again: {job.original_filename}")
    return EXIT_OK


def _ids(ids: list[int], shown: int = 20) -> str:
    listed = ", ".join(map(str, ids[:shown]))
    return listed + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


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
