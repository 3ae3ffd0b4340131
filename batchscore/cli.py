"""`batchscore …`: parse arguments → call one function → print the outcome.

Exit codes: 0 done, 1 the work failed (file refused, job FAILED), 2 bad usage or
configuration, 3 nothing to do (`process` found no pending job).
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from batchscore.config import OUTPUT_FORMATS, Settings, load_settings
from batchscore.errors import BatchscoreError, ConfigError, DatabaseUnavailable
from batchscore.logs import configure_logging
from batchscore.model.metadata import ESTIMATOR_NAMES, TASKS

if TYPE_CHECKING:  # the packages are imported per command, so `--help` and `jobs` stay quick
    from batchscore.db.stats import SystemStats
    from batchscore.scheduler.context import Context

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(verbose=args.verbose)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"configuration error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseUnavailable as exc:
        print(f"error: {exc.message} The driver said: {exc.reason}", file=sys.stderr)
        return EXIT_FAILED
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
    submit.add_argument("--user", help="owner of the job (default: none, seen by admins only)")
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
    status = command("status", _status, "queue depth, jobs by status, workers seen recently")
    status.add_argument("--json", action="store_true", help="one JSON object, for programs")
    prune = command("prune", _prune, "delete archived jobs and their files after a while")
    prune.add_argument(
        "--older-than",
        type=_age,
        required=True,
        metavar="AGE",
        help="ended this long ago, e.g. 30d, 12h, 90m, 2w",
    )
    prune.add_argument("--dry-run", action="store_true", help="list them, delete nothing")
    serve = command("serve", _serve, "serve the HTTP API and pages (uvicorn)")
    serve.add_argument("--host", help="address to listen on (default: HTTP_HOST)")
    serve.add_argument("--port", type=int, help="port (default: HTTP_PORT)")
    serve.add_argument("--workers", type=int, help="worker processes (default: HTTP_WORKERS)")
    user = command("user", _user_add, "user commands")
    user.add_argument("action", choices=["add"], help="add a user (password read from a prompt)")
    user.add_argument("username")
    user.add_argument("--admin", action="store_true", help="may see and act on every job")
    user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    token = command("token", _token, "API token commands")
    token.add_argument("action", choices=["create", "revoke", "list"])
    token.add_argument("subject", help="create/list: a username; revoke: a token id")
    token.add_argument("--name", default="cli", help="a label for the new token")
    model = sub.add_parser("model", help="model commands", description="model commands")
    model_sub = model.add_subparsers(required=True, metavar="ACTION")
    listing = model_sub.add_parser("list", help="models, their versions and metrics")
    listing.set_defaults(handler=_model_list)
    train = model_sub.add_parser(
        "train",
        help="train a new version from a labelled CSV",
        description="Train a new version of a model (or a new model) from a labelled CSV, here "
        "and now. A quarter of the rows is held out to measure it.",
    )
    train.set_defaults(handler=_model_train)
    train.add_argument("file", type=Path)
    train.add_argument("--name", required=True, help="the model's name")
    train.add_argument("--target", help="the column with the answers (default: the model's)")
    train.add_argument("--features", help="comma-separated columns (default: all the others)")
    train.add_argument("--task", choices=TASKS, help="default: from the target's values")
    train.add_argument("--estimator", choices=ESTIMATOR_NAMES, default=ESTIMATOR_NAMES[0])
    train.add_argument("--activate", action="store_true", help="make it the version that predicts")
    train.add_argument(
        "--incremental", action="store_true", help="update the active version (partial_fit)"
    )
    choose = model_sub.add_parser("activate", help="choose the version that predicts")
    choose.set_defaults(handler=_model_activate)
    choose.add_argument("name")
    choose.add_argument("version", type=int)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """The config's settings; from here on the log lines take its LOG_FORMAT."""
    settings = load_settings(args.config)
    configure_logging(log_format=settings.log_format)
    return settings


def _context(args: argparse.Namespace, *, check_schema: bool = True) -> Context:
    from batchscore.db.migrate import check_current
    from batchscore.scheduler.context import Context

    ctx = Context.from_settings(_settings(args))
    if check_schema:
        check_current(ctx.engine)
    return ctx


def _init(args: argparse.Namespace) -> int:
    from batchscore.db.migrate import upgrade
    from batchscore.model.train import train_demo_model

    ctx = _context(args, check_schema=False)
    upgrade(ctx.engine)
    info = train_demo_model(ctx.settings.model_dir)
    print(f"Database ready: {ctx.engine.url.render_as_string(hide_password=True)}")
    print(f"Folders ready: input {ctx.settings.input_dir}, output {ctx.settings.output_dir}")
    print(f"Demo model ready: {info.name} v{info.version} ({_metrics(info.metrics)})")
    return EXIT_OK


def _db_upgrade(args: argparse.Namespace) -> int:
    from batchscore.db.migrate import upgrade

    ctx = _context(args, check_schema=False)
    upgrade(ctx.engine)
    print("Database schema is up to date.")
    return EXIT_OK


def _submit(args: argparse.Namespace) -> int:
    from batchscore.scheduler.intake import submit_file

    ctx = _context(args)
    path: Path = args.file
    try:
        source = path.open("rb")
    except OSError as exc:
        raise BatchscoreError(f"Cannot open {path}: {exc.strerror}.") from exc
    owner_id = _user_id(ctx, args.user) if args.user else None
    with source:
        job = submit_file(
            ctx,
            source,
            path.name,
            model_name=args.model,
            output_format=args.format,
            owner_id=owner_id,
        )
    print(f"Job {job.id} queued: {job.original_filename} (model {job.model_name})")
    return EXIT_OK


def _process(args: argparse.Namespace) -> int:
    from batchscore.db.jobs import JobStatus
    from batchscore.scheduler.processor import process_one

    ctx = _context(args)
    job = process_one(ctx, job_id=args.job)
    if job is None:
        print("No pending job." if args.job is None else f"Job {args.job} is not pending.")
        return EXIT_NOTHING
    if job.status is JobStatus.PROCESSED:
        result = ctx.storage.output_url(job.output_name or "")
        rows = f"{job.rows_total or 0:,} rows, {job.rows_failed:,} with errors"
        print(f"Job {job.id} PROCESSED: {rows} → {result}")
        return EXIT_OK
    reason = job.error_message or "taken over by another processor"
    print(f"Job {job.id} {job.status.value}: {reason}")
    return EXIT_FAILED


def _process_all(args: argparse.Namespace) -> int:
    from batchscore.scheduler.loop import run_until_empty, stop_on_signals

    ctx = _context(args)
    stop = threading.Event()
    stop_on_signals(stop)
    summary = run_until_empty(ctx, max_jobs=args.max_jobs, stop=stop)
    print(f"{summary.processed} processed, {summary.failed} failed, {summary.other} handed over.")
    return EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    from batchscore.scheduler.loop import run_forever, stop_on_signals

    ctx = _context(args)
    stop = threading.Event()
    stop_on_signals(stop)
    summary = run_forever(ctx, poll_seconds=args.poll or ctx.settings.poll_seconds, stop=stop)
    print(f"{summary.processed} processed, {summary.failed} failed, {summary.other} handed over.")
    return EXIT_OK


def _jobs(args: argparse.Namespace) -> int:
    from batchscore.db.engine import in_transaction
    from batchscore.db.jobs import JobStatus, list_jobs

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


_AGE = re.compile(r"([0-9]+)\s*(s|m|h|d|w)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _age(raw: str) -> float:
    match = _AGE.fullmatch(raw.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an age such as 30d, 12h, 90m or 2w")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def _ago(seconds: float) -> str:
    """A short human duration: 4 s, 3 min, 2 h 5 min, 30 d."""
    s = int(seconds)
    for unit, size, part, part_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60)):
        if s >= size:
            rest = s % size // part_size
            return f"{s // size} {unit}" + (f" {rest} {part}" if rest else "")
    return f"{s // 60} min" if s >= 60 else f"{s} s"


def _status(args: argparse.Namespace) -> int:
    import json

    from batchscore.db.engine import in_transaction
    from batchscore.db.jobs import JobStatus
    from batchscore.db.stats import system_stats
    from batchscore.db.workers import ALIVE_WITHIN_SECONDS

    ctx = _context(args)
    stats = in_transaction(ctx.engine, system_stats, read_only=True)
    counts, wait = stats.jobs_by_status, stats.pending_wait_seconds
    if args.json:
        print(json.dumps(_status_json(stats)))
        return EXIT_OK
    pending = counts[JobStatus.PENDING]
    oldest = f", the oldest waiting {_ago(wait)}" if pending and wait is not None else ""
    print(f"Queue: {pending} pending{oldest}; {counts[JobStatus.IN_PROGRESS]} in progress")
    print("Jobs: " + " · ".join(f"{n} {s.value}" for s, n in counts.items()))
    minutes = int(ALIVE_WITHIN_SECONDS // 60)
    print(f"Workers seen in the last {minutes} minutes or holding a job: {len(stats.workers)}")
    for w in stats.workers:
        state = f"{'stopped' if w.stopped_at else 'seen'} {_ago(w.seen_seconds_ago)} ago"
        holding = f", on job {w.job_id}" if w.job_id is not None else ""
        print(f"  {w.worker_id:<40} {w.role:<12} {state}, {w.jobs_done} jobs done{holding}")
    done = stats.durations
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


def _prune(args: argparse.Namespace) -> int:
    from batchscore.scheduler.retention import prunable, prune

    ctx = _context(args)
    age = _ago(args.older_than)
    if args.dry_run:
        jobs = prunable(ctx, args.older_than)
        for job in jobs:
            print(f"{job.id:>6}  {job.status.value:<11}  {job.original_filename}")
        print(f"{len(jobs)} archived jobs ended over {age} ago would be deleted (dry run).")
        return EXIT_OK
    deleted = prune(ctx, args.older_than)
    print(f"Deleted {len(deleted)} archived jobs ended over {age} ago, with their files.")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    import os
    import tempfile
    from contextlib import ExitStack

    import uvicorn

    from batchscore.api.metrics import MULTIPROCESS_ENV

    ctx = _context(args)  # refuse here, in plain words, a database that is not ready
    ctx.engine.dispose()
    settings = ctx.settings
    workers = args.workers or settings.http_workers
    if args.config:  # the factory reads the config itself, in each worker process
        os.environ["BATCHSCORE_CONFIG"] = str(args.config)
    with ExitStack() as stack:
        if workers > 1 and not os.environ.get(MULTIPROCESS_ENV):  # /metrics sums the processes
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="batchscore-metrics-"))
            os.environ[MULTIPROCESS_ENV] = folder
        uvicorn.run(
            "batchscore.api.app:app_from_config",
            factory=True,
            host=args.host or settings.http_host,
            port=args.port or settings.http_port,
            workers=workers,
            log_config=None,  # keep our format, with request ids
            access_log=False,  # api.requestid logs one line per request instead
        )
    return EXIT_OK


def _user_add(args: argparse.Namespace) -> int:
    import getpass

    from batchscore.credentials import MIN_PASSWORD_LENGTH, hash_password
    from batchscore.db.engine import in_transaction
    from batchscore.db.users import create_user

    ctx = _context(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.username}: ")
        if getpass.getpass("Again: ") != password:
            raise BatchscoreError("The passwords differ; nothing was changed.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BatchscoreError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    digest = hash_password(password)
    user = in_transaction(
        ctx.engine,
        lambda c: create_user(c, username=args.username, password_hash=digest, is_admin=args.admin),
    )
    print(f"User {user.username} created (id {user.id}{', admin' if user.is_admin else ''}).")
    return EXIT_OK


def _token(args: argparse.Namespace) -> int:
    from batchscore.db.engine import in_transaction
    from batchscore.db.users import issue_token, list_tokens, revoke_token

    ctx = _context(args)
    if args.action == "revoke":
        if not args.subject.isdigit():
            raise BatchscoreError(
                f"Give the token's id (see `batchscore token list USER`), not {args.subject!r}."
            )
        record = in_transaction(ctx.engine, lambda c: revoke_token(c, int(args.subject)))
        print(f"Token {record.id} ({record.name}) revoked.")
        return EXIT_OK
    user_id = _user_id(ctx, args.subject)
    if args.action == "list":
        for t in in_transaction(ctx.engine, lambda c: list_tokens(c, user_id)):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            print(f"{t.id:>5}  {t.name:<20}  created {t.created_at:%Y-%m-%d}  {state}")
        return EXIT_OK
    record, token = in_transaction(
        ctx.engine, lambda c: issue_token(c, user_id=user_id, name=args.name)
    )
    print(f"Token {record.id} for {args.subject} (shown once, keep it secret):")
    print(token)
    return EXIT_OK


def _user_id(ctx: Context, username: str) -> int:
    from batchscore.db.engine import in_transaction
    from batchscore.db.users import find_user
    from batchscore.errors import NotFound

    found = in_transaction(ctx.engine, lambda c: find_user(c, username))
    if found is None:
        raise NotFound(f"User '{username}' not found. Add one with `batchscore user add NAME`.")
    return found[0].id


def _model_list(args: argparse.Namespace) -> int:
    from batchscore.model.registry import list_models, list_versions, read_info

    model_dir = _settings(args).model_dir
    for active in list_models(model_dir):
        print(f"{active.name} ({active.task} of {active.target}): {', '.join(active.features)}")
        for version in list_versions(model_dir, active.name):
            info = read_info(model_dir, active.name, version)
            marker = "*" if version == active.version else " "
            rows = f"{info.training_rows:>7,} rows"
            print(f"  {marker} v{version}  {info.created_at}  {rows}  {_metrics(info.metrics)}")
    return EXIT_OK


def _model_train(args: argparse.Namespace) -> int:
    import hashlib

    from batchscore.model.registry import active_version
    from batchscore.model.train import TrainPlan
    from batchscore.scheduler.training import train_file

    settings = _settings(args)
    path: Path = args.file
    try:
        digest = hashlib.file_digest(path.open("rb"), "sha256").hexdigest()
    except OSError as exc:
        raise BatchscoreError(f"Cannot open {path}: {exc.strerror}.") from exc
    features = tuple(f.strip() for f in args.features.split(",")) if args.features else None
    plan = TrainPlan(
        target=args.target,
        features=features,
        task=args.task,
        estimator=args.estimator,
        activate=args.activate,
        incremental=args.incremental,
    )
    trained = train_file(settings, path, args.name, plan, data_sha256=digest)
    info = trained.info
    skipped = f", {trained.rows_skipped:,} skipped" if trained.rows_skipped else ""
    rows = f"{trained.rows_used:,} rows{skipped}"
    print(f"Trained {info.name} v{info.version} on {rows}: {_metrics(info.metrics)}")
    if info.version == active_version(settings.model_dir, info.name):
        print(f"{info.name} v{info.version} is active: jobs and predict use it now.")
    else:
        print(f"Not active yet: batchscore model activate {info.name} {info.version}")
    return EXIT_OK


def _model_activate(args: argparse.Namespace) -> int:
    from batchscore.model.registry import activate

    info = activate(_settings(args).model_dir, args.name, args.version)
    print(f"{info.name} v{info.version} is active: {_metrics(info.metrics)}")
    return EXIT_OK


def _metrics(metrics: dict[str, float]) -> str:
    return ", ".join(f"{key} {value:.3f}" for key, value in metrics.items())
