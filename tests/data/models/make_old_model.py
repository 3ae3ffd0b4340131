"""Makes churn-sklearn-1.8.0.skops: the churn pipeline of tests/owned_models.py, ending in a
logistic regression, fitted and saved by an older scikit-learn, and the predictions that version
made, for the version-mismatch tests. (Its HistGradientBoosting does not load in 1.9: skops
names 1.8's loss object `_loss.CyHalfBinomialLoss`, a module 1.9 lacks.)

    python3 -m venv /tmp/old && /tmp/old/bin/pip install scikit-learn==1.8.0 skops==0.16.0 \
        pandas==2.2.3  # 1.6 files do not load in 1.9: its classes moved
    /tmp/old/bin/python tests/data/models/make_old_model.py
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import sklearn
import skops.io
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).parent
spec = importlib.util.spec_from_file_location("owned_models", HERE.parents[1] / "owned_models.py")
assert spec is not None and spec.loader is not None
owned = importlib.util.module_from_spec(spec)
spec.loader.exec_module(owned)

frame = owned.churn_frame(rows=300, seed=1)
pipeline = owned.churn_pipeline(frame, LogisticRegression(max_iter=1000))
name = f"churn-sklearn-{sklearn.__version__}"
skops.io.dump(pipeline, HERE / f"{name}.skops")
features = frame[list(owned.CHURN_FEATURES)]
features.assign(
    prediction=pipeline.predict(features),
    probability=pipeline.predict_proba(features).max(axis=1),
).to_csv(HERE / f"{name}-scored.csv", index=False)
print(f"wrote {name}.skops with scikit-learn {sklearn.__version__}", file=sys.stderr)
