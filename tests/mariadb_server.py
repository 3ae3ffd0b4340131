"""A private MariaDB server for one test, to restart or crash while processes use it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from processes import process_state

SCRIPT = Path(__file__).parents[1] / "scripts" / "mariadb-test-server"


class MariaDB:
    """scripts/mariadb-test-server on its own port and data folder (short: a socket lives there)."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "BATCHSCORE_TEST_MARIADB_DIR": str(root),
            "BATCHSCORE_TEST_MARIADB_PORT": str(port),
        }

    def start(self) -> str:
        """Start the server (creating it the first time) and return its SQLAlchemy URL."""
        result = subprocess.run(
            [SCRIPT], env=self.env, capture_output=True, text=True, check=True, timeout=120
        )
        return result.stdout.strip()

    def stop(self) -> None:
        """A clean shutdown, as `systemctl stop mariadb` does it."""
        subprocess.run([SCRIPT, "stop"], env=self.env, check=True, timeout=90)

    def crash(self) -> None:
        """kill -9: no shutdown, InnoDB recovers from its log at the next start."""
        pid = int((self.root / "mysqld.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while process_state(pid) not in ("", "Z"):  # a zombie waits for its adopter
            assert time.monotonic() < deadline, "mariadbd survived SIGKILL"
            time.sleep(0.05)
        (self.root / "mysqld.pid").unlink(missing_ok=True)
