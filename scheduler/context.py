"""What a processor needs to run jobs, built once per process from Settings."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from batchscore.config import Settings
from batchscore.db.engine import Engine, make_engine
from batchscore.progress import Progress, Quiet
from batchscore.storage import Storage


def new_worker_id() -> str:
    """host:pid plus a random part: a restarted process never adopts an old process's claims."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Context:
    settings: Settings
    engine: Engine
    storage: Storage
    worker_id: str = field(default_factory=new_worker_id)
    progress: Progress = field(default_factory=Quiet)  #: a bar, when a person watches

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        """Connect lazily (no query yet) and make sure the data folders exist."""
        storage = Storage.from_settings(settings)
        storage.create_folders()
        return cls(
            settings=settings, engine=make_engine(str(settings.database_url)), storage=storage
        )

    def close(self) -> None:
        """Close the database connections this process holds (they reopen if used again)."""
        self.engine.dispose()
