"""`batchscore …`: parse arguments → call one function → print the outcome.

Exit codes: 0 done, 1 the work failed (file refused, job FAILED), 2 bad usage or
configuration, 3 nothing to do (`process` found no pending job).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from batchscore.config import OUTPUT_FORMATS, load_settings
from batchscore.errors import BatchscoreError, ConfigError

if TYPE_CHECKING:  # the packages are imported per command, so `--help` and `jobs` stay quick
    from scheduler.context import Context

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # we print our own summary
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"configuration error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except BatchscoreError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchscore", description="Score CSV files with a trained model; results as Excel."
    )
    parser.add_argument("--config", type=Path, help="config file (default ./ConfigFile.properties)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], summary: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=summary, description=summary)
        p.set_defaults(handler=handler)
        return p

    command("init", _init, "create folders and database schema, train the demo model")
    db = command("db", _db_upgrade, "database schema commands")
    db.add_argument("action", choices=["upgrade"], help="upgrade the schema to the latest revision")
    submit = command("submit", _submit, "queue a CSV file for scoring")
    submit.add_argument("file", type=Path)
    submit.add_argument("--model", help="model name (default: DEFAULT_MODEL)")
    submit.add_argument(
        "--format", choices=OUTPUT_FORMATS, help="result format (default: OUTPUT_FORMAT)"
    )
    process = command("process", _process, "process one pending job (exit 3 if none)")
    process.add_argument("--job", type=int, help="process this job id, if it is pending")
    process_all = command("process-all", _process_all, "process pending jobs until none is left")
    process_all.add_argument("--max-jobs", type=int, help="stop after this many jobs")
    worker = command("worker", _worker, "process jobs as they arrive until SIGTERM")
    worker.add_argument("--poll", type=float, help="seconds between looks at an empty queue")
    jobs = command("jobs", _jobs, "list jobs, newest first")
    jobs.add_argument("--status", choices=["PENDING", "IN_PROGRESS", "PROCESSED", "FAILED"])
    jobs.add_argument("--archived", action="store_true", help="include archived jobs")
    jobs.add_argument("--limit", type=int, default=50)
    serve = command("serve", _serve, "serve the web pages and API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000)
    model = command("model", _model_list, "model commands")
    model.add_argument("action", choices=["list"], help="list models and their features")
    return parser


def _context(args: argparse.Namespace, *, check_schema: bool = True) -> Context:
    from db.migrate import check_current
    from scheduler.context import Context

    ctx = Context.from_settings(load_settings(args.config))
    if check_schema:
        check_current(ctx.engine)
    return ctx


def _init(args: argparse.Namespace) -> int:
    from db.migrate import upgrade
    from model.train import train_demo_model

    ctx = _context(args, check_schema=False)
    upgrade(ctx.engine)
    info = train_demo_model(ctx.settings.model_dir)
    print(f"Database ready: {ctx.engine.url.render_as_string(hide_password=True)}")
    print(f"Folders ready: input {ctx.settings.input_dir}, output {ctx.settings.output_dir}")
    metrics = ", ".join(f"{key} {value:.3f}" for key, value in info.metrics.items())
    print(f"Demo model ready: {info.name} v{info.version} ({metrics})")
    return EXIT_OK


def _db_upgrade(args: argparse.Namespace) -> int:
    from db.migrate import upgrade

    ctx = _context(args, check_schema=False)
    upgrade(ctx.engine)
    print("Database schema is up to date.")
    return EXIT_OK


def _submit(args: argparse.Namespace) -> int:
    from scheduler.intake import submit_file

    ctx = _context(args)
    path: Path = args.file
    try:
        source = path.open("rb")
    except OSError as exc:
        raise BatchscoreError(f"Cannot open {path}: {exc.strerror}.") from exc
    with source:
        job = submit_file(ctx, source, path.name, model_name=args.model, output_format=args.format)
    print(f"Job {job.id} queued: {job.original_filename} (model {job.model_name})")
    return EXIT_OK


def _process(args: argparse.Namespace) -> int:
    from db.jobs import JobStatus
    from scheduler.processor import process_one

    ctx = _context(args)
    job = process_one(ctx, job_id=args.job)
    if job is None:
        print("No pending job." if args.job is None else f"Job {args.job} is not pending.")
        return EXIT_NOTHING
    if job.status is JobStatus.PROCESSED:
        result = ctx.storage.output_path(job.output_name or "")
        rows = f"{job.rows_total or 0:,} rows, {job.rows_failed:,} with errors"
        print(f"Job {job.id} PROCESSED: {rows} → {result}")
        return EXIT_OK
    reason = job.error_message or "taken over by another processor"
    print(f"Job {job.id} {job.status.value}: {reason}")
    return EXIT_FAILED


def _process_all(args: argparse.Namespace) -> int:
    from scheduler.loop import run_until_empty

    summary = run_until_empty(_context(args), max_jobs=args.max_jobs)
    print(f"{summary.processed} processed, {summary.failed} failed, {summary.other} handed over.")
    return EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    from scheduler.loop import run_forever, stop_on_signals

    ctx = _context(args)
    stop = threading.Event()
    stop_on_signals(stop)
    summary = run_forever(ctx, poll_seconds=args.poll or ctx.settings.poll_seconds, stop=stop)
    print(f"{summary.processed} processed, {summary.failed} failed, {summary.other} handed over.")
    return EXIT_OK


def _jobs(args: argparse.Namespace) -> int:
    from db.engine import in_transaction
    from db.jobs import JobStatus, list_jobs

    ctx = _context(args)
    status = JobStatus(args.status) if args.status else None
    jobs = in_transaction(
        ctx.engine,
        lambda c: list_jobs(c, status=status, include_archived=args.archived, limit=args.limit),
    )
    header = f"{'ID':>6}  {'STATUS':<11}  {'ROWS':>9}  {'FAILED':>6}  {'MODEL':<12}"
    print(f"{header}  FILE  RESULT/ERROR")
    for job in jobs:
        model = f"{job.model_name} v{job.model_version}" if job.model_version else job.model_name
        rows = f"{job.rows_done:,}" if job.rows_total is None else f"{job.rows_total:,}"
        detail = job.output_name or job.error_message or ""
        print(
            f"{job.id:>6}  {job.status.value:<11}  {rows:>9}  {job.rows_failed:>6}  {model:<12}  "
            f"{job.original_filename}  {detail}"
        )
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(load_settings(args.config)), host=args.host, port=args.port)
    return EXIT_OK


def _model_list(args: argparse.Namespace) -> int:
    from model.registry import list_models

    settings = load_settings(args.config)
    for info in list_models(settings.model_dir):
        print(f"{info.name} v{info.version} ({info.task}): features {', '.join(info.features)}")
    return EXIT_OK
