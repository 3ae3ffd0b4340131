"""The cron entry: `python -m scheduler` processes pending jobs until none is left."""

from __future__ import annotations

import sys

from batchscore.cli import main

sys.exit(main(["process-all", *sys.argv[1:]]))
