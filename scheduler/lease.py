"""Keep a claimed job's lease alive from a background thread while the main thread works.

A heartbeat tied to chunk boundaries would let one slow chunk (a big model, a slow disk) look
like a dead worker; a thread renews on time whatever the work is doing, and carries progress.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from batchscore.db.engine import Connection, Engine, in_transaction
from batchscore.db.jobs import renew_lease
from batchscore.errors import DatabaseUnavailable, LeaseLost

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews the lease every `interval_seconds` with the latest progress; a context manager."""

    def __init__(
        self,
        engine: Engine,
        job_id: int,
        claim_token: str,
        *,
        lease_seconds: float,
        interval_seconds: float,
    ) -> None:
        self.engine, self.job_id, self.claim_token = engine, job_id, claim_token
        self.lease_seconds, self.interval_seconds = lease_seconds, interval_seconds
        self.rows_expected: int | None = None  #: shown as rows_total while the job runs
        self.rows_done = 0
        self.rows_failed = 0
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def progress(self, rows_done: int, rows_failed: int) -> None:
        """Record progress (sent with the next renewal) and raise LeaseLost if we lost the job."""
        self.rows_done, self.rows_failed = rows_done, rows_failed
        self.check()

    def check(self) -> None:
        if self._lost.is_set():
            raise LeaseLost(f"Job {self.job_id}: the lease expired and another processor took it.")

    def stop(self) -> None:
        """Stop renewing (idempotent); the lease then runs out unless the job is finished."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                in_transaction(self.engine, self._renew)
            except LeaseLost:
                self._lost.set()
                return
            except DatabaseUnavailable as exc:  # the work goes on; renewals resume with the server
                logger.warning("Could not renew the lease of job %s: %s", self.job_id, exc.reason)
            except Exception:  # a DB hiccup: keep trying; if it lasts, the lease runs out
                logger.warning("Could not renew the lease of job %s", self.job_id, exc_info=True)

    def _renew(self, conn: Connection) -> None:
        renew_lease(
            conn,
            self.job_id,
            self.claim_token,
            lease_seconds=self.lease_seconds,
            rows_done=self.rows_done,
            rows_failed=self.rows_failed,
            rows_total=self.rows_expected,
        )
