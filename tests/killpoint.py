"""Run the real `batchscore` command and SIGKILL it at a named point: a crash exactly there.

    python tests/killpoint.py [--freeze] POINT FOLDER [batchscore arguments…]

The points are seen through Python's audit events (PEP 578), so the code under test runs
unchanged and dies as it would under `kill -9`, with no chance to clean up (or, with
--freeze, stops as under SIGSTOP, to be resumed by SIGCONT when another has taken its job):

- reading        an input file in FOLDER is opened
- before-rename  a finished temp result is about to be renamed into FOLDER
- after-rename   FOLDER is opened to fsync that rename: the result is in place under its final
                 name, but the job is not yet marked done
- finished       a finished temp result in FOLDER (the cache, with a bucket) is opened for
                 reading: to fsync it, then to upload it
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from batchscore.cli.main import main

POINTS = ("reading", "before-rename", "after-rename", "finished")


def _path(value: object) -> Path | None:
    return Path(os.fsdecode(value)).resolve() if isinstance(value, str | bytes | Path) else None


def kill_at(point: str, folder: Path, how: signal.Signals = signal.SIGKILL) -> None:
    renamed = False

    def _die() -> None:
        os.kill(os.getpid(), how)

    def hook(event: str, args: tuple[object, ...]) -> None:
        nonlocal renamed, point
        if event == "open":
            path = _path(args[0])
            if point == "reading" and path is not None and path.parent == folder:
                _die()
            if point == "after-rename" and renamed and path == folder:
                _die()
            if point == "finished" and path is not None and path.parent == folder:
                if args[1] == "r" and path.name.endswith((".xlsx.part", ".csv.part")):
                    _die()
        elif event == "os.rename":
            src, dst = _path(args[0]), _path(args[1])
            if src and dst and src.name.endswith(".part") and dst.parent == folder:
                if point == "before-rename":
                    point = "done"  # once: a frozen process resumes past this point
                    _die()
                renamed = True

    sys.addaudithook(hook)


if __name__ == "__main__":
    freeze = sys.argv[1] == "--freeze"
    point, folder, *argv = sys.argv[1 + freeze :]
    if point not in POINTS:
        sys.exit(f"unknown point {point!r}; one of {', '.join(POINTS)}")
    kill_at(point, Path(folder).resolve(), signal.SIGSTOP if freeze else signal.SIGKILL)
    sys.exit(main(argv))
