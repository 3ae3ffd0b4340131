"""How long work tells whoever watches how far it got: the CLI draws a bar, everyone else
hears nothing. One step at a time (reading a file, fitting a model); rows when they are known."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def step(self, label: str, total: int | None = None) -> None:
        """A new step begins (ending the last); `total` rows when they are known."""

    def advance(self, done: int) -> None:
        """Rows done so far in this step."""

    def close(self) -> None:
        """The work ended, however it ended."""


class Quiet:
    """Progress nobody watches: the web server, cron's log, the tests."""

    def step(self, label: str, total: int | None = None) -> None:
        pass

    def advance(self, done: int) -> None:
        pass

    def close(self) -> None:
        pass
