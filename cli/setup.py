"""Commands that make a place ready and serve it: init, db upgrade, serve."""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from batchscore.cli.common import EXIT_OK, context_of, metrics_text
from batchscore.errors import BatchscoreError

logger = logging.getLogger(__name__)
_PROCESSOR_STOP_SECONDS = 30  # for the job in hand to finish, before it is given back
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@contextmanager
def _processor() -> Iterator[None]:
    """A `batchscore worker` process for as long as the web server runs: a process of its own,
    so scoring never holds the web server's interpreter. It claims jobs like any other
    processor, so cron and separate workers may run beside it. Stopped with SIGTERM (it
    finishes the job in hand, or gives it back on a second signal) when the server stops."""
    process = subprocess.Popen(
        [sys.executable, "-m", "batchscore", "worker"],
        preexec_fn=_stop_with_parent,
        env={**os.environ, "TQDM_DISABLE": "1"},  # no bar torn by the server's log lines
    )
    logger.info("Job processor started (process %s)", process.pid)
    try:
        yield
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_PROCESSOR_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGTERM)  # the second: give the job back, now
                process.wait()


def _stop_with_parent() -> None:
    """In the processor, before it runs: SIGTERM it (stop after the job in hand) if the web
    server dies without stopping it, killed with SIGKILL say (Linux's PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _exit_on_sigterm() -> None:
    """Make SIGTERM an exception, so the processors are stopped on the way out: uvicorn
    re-raises the signal once it has shut down, which would end the process on the spot."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def init(args: argparse.Namespace) -> int:
    from batchscore.service.setup import database_location, initialise, make_working_folder

    if args.folder is not None:
        if args.config is not None:
            raise BatchscoreError("Give a FOLDER or --config, not both.")
        args.config = make_working_folder(args.folder)
        print(f"Config ready: {args.config}")
    ctx = context_of(args, check_schema=False)
    info = initialise(ctx)
    print(f"Database ready: {database_location(ctx)}")
    print(f"Folders ready: input {ctx.settings.input_dir}, output {ctx.settings.output_dir}")
    print(f"Demo model ready: {info.name} v{info.version} ({metrics_text(info.metrics)})")
    if args.folder is not None:
        print(
            f"Next: cd {shlex.quote(str(args.folder))} && batchscore user add NAME --admin"
            " && batchscore serve"
        )
    return EXIT_OK


def db_upgrade(args: argparse.Namespace) -> int:
    from batchscore.service.setup import upgrade_schema

    upgrade_schema(context_of(args, check_schema=False))
    print("Database schema is up to date.")
    return EXIT_OK


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from batchscore.config import METRICS_DIR_ENV

    ctx = context_of(args)  # refuse here, in plain words, a database that is not ready
    ctx.close()
    settings = ctx.settings
    workers = args.workers or settings.http_workers
    processors = settings.serve_processors if args.processors is None else args.processors
    if args.config:  # the factory reads the config itself, in each worker process
        os.environ["BATCHSCORE_CONFIG"] = str(args.config)
    with ExitStack() as stack:
        if workers > 1 and not os.environ.get(METRICS_DIR_ENV):  # /metrics sums the processes
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="batchscore-metrics-"))
            os.environ[METRICS_DIR_ENV] = folder
        _exit_on_sigterm()
        for _ in range(max(0, processors)):
            stack.enter_context(_processor())
        if processors <= 0:
            logger.info("No job processor started (SERVE_PROCESSORS=0): cron or workers run jobs")
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
