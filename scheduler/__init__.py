"""The processor: claim a job, score it, publish the result, finish it."""

from __future__ import annotations
