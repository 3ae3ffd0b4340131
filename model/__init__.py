"""The scikit-learn side of batchscore: model folders, input schema, chunked predict, training.

No SQL, no HTTP, and no knowledge of jobs: callers import the submodules they need.
"""

from __future__ import annotations
