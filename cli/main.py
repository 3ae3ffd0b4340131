"""`batchscore …`: the whole command table in one parser. Each command is a function in
cli/jobs.py, accounts.py, catalog.py or setup.py that makes one call and prints the outcome.

Exit codes: 0 done, 1 the work failed (file refused, job FAILED), 2 bad usage or
configuration, 3 nothing to do (`process` found no pending job).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from batchscore.cli import accounts, catalog, jobs, setup, webhooks
from batchscore.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from batchscore.config import DECIMALS, OUTPUT_FORMATS, PROBABILITIES
from batchscore.errors import BatchscoreError, ConfigError, DatabaseUnavailable
from batchscore.logs import configure_logging
from batchscore.model.metadata import ESTIMATOR_NAMES, HOLDOUT, TASKS
from batchscore.scopes import SCOPES


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
    except BrokenPipeError:  # `batchscore jobs | head`: the reader has what it wanted
        # Python would complain again flushing stdout at exit: point it at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchscore",
        description="Score data files (CSV, workbooks, parquet) with a model; results as Excel.",
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

    init_p = command("init", setup.init, "create folders and database schema, train the demo model")
    init_p.add_argument(
        "folder",
        nargs="?",
        type=Path,
        help="a working folder to make (with a ConfigFile.properties of its own, if it has none)",
    )
    db_p = command("db", setup.db_upgrade, "database schema commands")
    db_p.add_argument(
        "action", choices=["upgrade"], help="upgrade the schema to the latest revision"
    )
    submit_p = command(
        "submit", jobs.submit, "queue a data file (CSV, workbook, parquet) for scoring"
    )
    submit_p.add_argument("file", type=Path)
    submit_p.add_argument("--model", help="model name (default: DEFAULT_MODEL)")
    submit_p.add_argument("--user", help="owner of the job (default: none, seen by admins only)")
    submit_p.add_argument(
        "--format", choices=OUTPUT_FORMATS, help="result format (default: OUTPUT_FORMAT)"
    )
    submit_p.add_argument(
        "--probabilities",
        choices=PROBABILITIES,
        help="a classifier's probability of the predicted class (default), or all classes'",
    )
    submit_p.add_argument(
        "--keep-formulas",
        action="store_true",
        help="CSV result: leave cells starting with = + - @ as they are (for programs; a "
        "spreadsheet would run them)",
    )
    submit_p.add_argument(
        "--no-warnings",
        action="store_true",
        help="no 'warning' column flagging rows outside the model's training data",
    )
    submit_p.add_argument(
        "--encoding", help="a CSV file's text encoding, e.g. cp1252 (default: detected)"
    )
    submit_p.add_argument(
        "--decimal",
        choices=DECIMALS,
        help="the numbers' decimal mark: ',' for 5,1 (default: detected)",
    )
    submit_p.add_argument("--sheet", help="the workbook sheet to read (default: the first)")
    submit_p.add_argument(
        "--callback-url",
        help="POST the job's JSON here when it ends, signed with the --user's secret "
        "(default: that user's default callback URL)",
    )
    submit_p.add_argument(
        "--wait",
        action="store_true",
        help="then wait for the job to end, processing it here unless a processor (the one "
        "`batchscore serve` runs, say) has it; exit 1 if it FAILED",
    )
    process_p = command("process", jobs.process, "process one pending job (exit 3 if none)")
    process_p.add_argument("--job", type=int, help="process this job id, if it is pending")
    process_all_p = command(
        "process-all", jobs.process_all, "process pending jobs until none is left"
    )
    process_all_p.add_argument("--max-jobs", type=int, help="stop after this many jobs")
    worker_p = command("worker", jobs.worker, "process jobs as they arrive until SIGTERM")
    worker_p.add_argument("--poll", type=float, help="seconds between looks at an empty queue")
    jobs_p = command("jobs", jobs.list_jobs, "list jobs, newest first")
    jobs_p.add_argument(
        "--status", choices=["PENDING", "IN_PROGRESS", "PROCESSED", "FAILED", "CANCELLED"]
    )
    jobs_p.add_argument("--archived", action="store_true", help="include archived jobs")
    jobs_p.add_argument("--limit", type=int, default=50)
    status_p = command("status", jobs.status, "queue depth, jobs by status, workers seen recently")
    status_p.add_argument("--json", action="store_true", help="one JSON object, for programs")
    cancel_p = command(
        "cancel", jobs.cancel, "stop a pending or running job (it can be retried later)"
    )
    cancel_p.add_argument("job", type=int, help="the job id")
    retry_p = command("retry", jobs.retry, "queue a FAILED or CANCELLED job again")
    which = retry_p.add_mutually_exclusive_group(required=True)
    which.add_argument("job", type=int, nargs="?", help="the job id")
    which.add_argument("--failed", action="store_true", help="every FAILED job")
    deliveries_p = command("deliveries", webhooks.deliveries, "a job's webhooks and their fate")
    deliveries_p.add_argument("job", type=int, help="the job id")
    prune_p = command("prune", jobs.prune, "delete archived jobs and their files after a while")
    prune_p.add_argument(
        "--older-than",
        type=_age,
        required=True,
        metavar="AGE",
        help="ended this long ago, e.g. 30d, 12h, 90m, 2w",
    )
    prune_p.add_argument("--dry-run", action="store_true", help="list them, delete nothing")
    serve_p = command("serve", setup.serve, "serve the HTTP API and pages (uvicorn)")
    serve_p.add_argument("--host", help="address to listen on (default: HTTP_HOST)")
    serve_p.add_argument("--port", type=int, help="port (default: HTTP_PORT)")
    serve_p.add_argument("--workers", type=int, help="web processes (default: HTTP_WORKERS)")
    serve_p.add_argument(
        "--processors",
        type=int,
        help="job processors started beside the web server (default: SERVE_PROCESSORS, 1); "
        "0 when cron or `batchscore worker` processes the jobs",
    )
    user_p = sub.add_parser("user", help="user commands", description="user commands")
    user_sub_p = user_p.add_subparsers(required=True, metavar="ACTION", dest="action")

    def user_command(
        name: str, handler: Callable[[argparse.Namespace], int], summary: str
    ) -> argparse.ArgumentParser:
        p = user_sub_p.add_parser(name, help=summary, description=summary)
        p.set_defaults(handler=handler)
        if name != "list":
            p.add_argument("username")
        if name in ("add", "passwd"):
            p.add_argument(
                "--password-stdin", action="store_true", help="read the password from stdin"
            )
        return p

    user_command("list", accounts.list_users, "the users, and which are admins")
    add_p = user_command("add", accounts.add_user, "add a user (password read from a prompt)")
    add_p.add_argument("--admin", action="store_true", help="may see and act on every job")
    user_command("passwd", accounts.change_password, "set a user's password")
    admin_p = user_command("admin", accounts.set_admin, "make a user an admin, or not")
    admin_p.add_argument("state", choices=["on", "off"])
    user_command("remove", accounts.remove_user, "delete a user and their API tokens")
    hook_p = user_command(
        "webhook", webhooks.user_webhook, "show or set a user's default callback URL and secret"
    )
    change = hook_p.add_mutually_exclusive_group()
    change.add_argument("--url", help="the callback URL for their jobs that name none")
    change.add_argument("--clear", action="store_true", help="no default callback URL")
    hook_p.add_argument("--new-secret", action="store_true", help="replace the signing secret")
    token_p = command("token", accounts.token, "API token commands")
    token_p.add_argument("action", choices=["create", "revoke", "list"])
    token_p.add_argument("subject", help="create/list: a username; revoke: a token id")
    token_p.add_argument("--name", default="cli", help="a label for the new token")
    token_p.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        help="create: what the token may do (repeat for several); default everything its user may",
    )
    token_p.add_argument(
        "--model", action="append", help="create: the only model(s) it may predict with"
    )
    model_p = sub.add_parser("model", help="model commands", description="model commands")
    model_sub_p = model_p.add_subparsers(required=True, metavar="ACTION")
    listing_p = model_sub_p.add_parser("list", help="models, their versions and metrics")
    listing_p.set_defaults(handler=catalog.list_models)
    train_p = model_sub_p.add_parser(
        "train",
        help="train a new version from a labelled CSV",
        description="Train a new version of a model (or a new model) from a labelled CSV, here "
        "and now. A quarter of the rows is held out to measure it (see --holdout, --refit).",
    )
    train_p.set_defaults(handler=catalog.train)
    train_p.add_argument("file", type=Path)
    train_p.add_argument("--name", required=True, help="the model's name")
    train_p.add_argument("--target", help="the column with the answers (default: the model's)")
    train_p.add_argument("--features", help="comma-separated columns (default: all the others)")
    train_p.add_argument("--task", choices=TASKS, help="default: from the target's values")
    train_p.add_argument("--estimator", choices=ESTIMATOR_NAMES, default=ESTIMATOR_NAMES[0])
    train_p.add_argument(
        "--activate", action="store_true", help="make it the version that predicts"
    )
    train_p.add_argument(
        "--incremental", action="store_true", help="update the active version (partial_fit)"
    )
    train_p.add_argument(
        "--holdout",
        type=float,
        default=HOLDOUT,
        help=f"share of rows held out to measure the fit (default {HOLDOUT}; 0 = fit on all)",
    )
    train_p.add_argument(
        "--refit",
        action="store_true",
        help="measure on the holdout, then save a fit on every row",
    )
    import_p = model_sub_p.add_parser(
        "import",
        help="add a model trained elsewhere (skops, MLflow) as a version",
        description="Add a fitted scikit-learn model or pipeline as the next version of a "
        "model (or a new model). PATH is a skops file, an MLflow model folder or a zip of one. "
        "Its features, their order and kinds come from the model itself.",
    )
    import_p.set_defaults(handler=catalog.import_version)
    import_p.add_argument("path", type=Path)
    import_p.add_argument("--name", required=True, help="the model's name")
    import_p.add_argument("--features", help="comma-separated, in the order it was fitted on")
    import_p.add_argument("--target", help="what it predicts, as the results name it")
    import_p.add_argument("--task", choices=TASKS, help="default: from the estimator")
    import_p.add_argument("--classes", help="comma-separated names for its classes, in order")
    import_p.add_argument("--version-note", default="", help="a note kept with the version")
    import_p.add_argument(
        "--activate", action="store_true", help="make it the version that predicts"
    )
    import_p.add_argument(
        "--trust-pickle",
        action="store_true",
        help="load a joblib/pickle file, which runs any code it holds: only for files you trust",
    )
    choose_p = model_sub_p.add_parser("activate", help="choose the version that predicts")
    choose_p.set_defaults(handler=catalog.activate)
    choose_p.add_argument("name")
    choose_p.add_argument("version", type=int)
    return parser


_AGE = re.compile(r"([0-9]+)\s*(s|m|h|d|w)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _age(raw: str) -> float:
    match = _AGE.fullmatch(raw.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an age such as 30d, 12h, 90m or 2w")
    return int(match[1]) * _UNIT_SECONDS[match[2]]
