"""A score job's choices beyond model and format, kept in the job row's options (JSON).

Only what differs from the defaults is stored, so a job queued before a choice existed reads
back with that choice's default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from batchscore.config import PROBABILITIES
from batchscore.errors import InputError
from batchscore.scheduler.reading import (
    TableLayout,
    checked_decimal,
    checked_encoding,
    inspect_table,
)


@dataclass(frozen=True)
class ScoreOptions:
    probabilities: str = PROBABILITIES[0]  # "predicted": one column; "all": one per class
    keep_formulas: bool = False  # a CSV result keeps formula-like cells as they are
    warnings: bool = True  # a 'warning' column flags rows outside the model's training data
    # How to read the file, where detection would get it wrong (None: detect).
    encoding: str | None = None  # a CSV file's text encoding
    decimal: str | None = None  # "." or ","
    sheet: str | None = None  # a workbook's sheet (default the first)

    def __post_init__(self) -> None:
        if self.probabilities not in PROBABILITIES:
            raise InputError(
                f"Unknown probabilities {self.probabilities!r}; choose "
                f"{' or '.join(PROBABILITIES)}."
            )
        if self.encoding is not None:
            object.__setattr__(self, "encoding", checked_encoding(self.encoding))
        if self.decimal is not None:
            checked_decimal(self.decimal)

    def layout_of(self, path: Path) -> TableLayout:
        """The file's layout, read as these options say."""
        return inspect_table(path, encoding=self.encoding, decimal=self.decimal, sheet=self.sheet)

    def to_json(self) -> dict[str, Any] | None:
        default = ScoreOptions()
        changed = {k: v for k, v in asdict(self).items() if getattr(default, k) != v}
        return changed or None

    @classmethod
    def from_json(cls, options: dict[str, Any] | None) -> ScoreOptions:
        known = {field.name for field in fields(cls)}
        return cls(**{k: v for k, v in (options or {}).items() if k in known})
