"""Commands that make a place ready and serve it: init, db upgrade, serve."""

from __future__ import annotations

import argparse
import os
import tempfile
from contextlib import ExitStack

from batchscore.cli.common import EXIT_OK, context_of, metrics_text


def init(args: argparse.Namespace) -> int:
    from batchscore.service.setup import database_location, initialise

    ctx = context_of(args, check_schema=False)
    info = initialise(ctx)
    print(f"Database ready: {database_location(ctx)}")
    print(f"Folders ready: input {ctx.settings.input_dir}, output {ctx.settings.output_dir}")
    print(f"Demo model ready: {info.name} v{info.version} ({metrics_text(info.metrics)})")
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
    if args.config:  # the factory reads the config itself, in each worker process
        os.environ["BATCHSCORE_CONFIG"] = str(args.config)
    with ExitStack() as stack:
        if workers > 1 and not os.environ.get(METRICS_DIR_ENV):  # /metrics sums the processes
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="batchscore-metrics-"))
            os.environ[METRICS_DIR_ENV] = folder
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
