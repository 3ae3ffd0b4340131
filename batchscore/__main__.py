"""`python -m batchscore` is the `batchscore` command."""

from __future__ import annotations

import sys

from batchscore.cli.main import main

sys.exit(main())
