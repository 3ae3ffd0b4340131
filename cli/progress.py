"""Progress bars on a terminal (tqdm, on stderr): rows done / total, rows/s and the time left.

Not on a terminal (cron, a pipe, a log file) nothing is drawn: the commands print one line
per job as it ends instead, so a log holds no carriage-return debris.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import BinaryIO, Never, cast

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from batchscore.progress import Progress, Quiet


def on_terminal() -> bool:
    return sys.stderr.isatty()


class Bar:
    """One tqdm bar per step; log lines are printed above it rather than through it."""

    def __init__(self) -> None:
        self._bar: tqdm[Never] | None = None

    def step(self, label: str, total: int | None = None) -> None:
        self.close()
        self._bar = tqdm(
            total=total,
            desc=label,
            unit=" rows",
            unit_scale=True,
            file=sys.stderr,
            leave=False,
            bar_format=None if total is not None else "{desc}… {elapsed}",
        )

    def advance(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress() -> Progress:
    """A bar on a terminal, else silence."""
    return Bar() if on_terminal() else Quiet()


@contextlib.contextmanager
def logs_above_bars() -> Iterator[None]:
    """Route log lines through tqdm while bars may be drawn, so a bar is never torn."""
    if not on_terminal():
        yield
        return
    with logging_redirect_tqdm():
        yield


@contextlib.contextmanager
def reading(source: BinaryIO, label: str, size: int) -> Iterator[BinaryIO]:
    """`source`, drawing a bar of the bytes read from it on a terminal."""
    if not on_terminal():
        yield source
        return
    with tqdm.wrapattr(
        source, "read", total=size, desc=label, file=sys.stderr, leave=False, unit_divisor=1024
    ) as wrapped:
        yield cast(BinaryIO, wrapped)  # read() counted, the rest passed through
