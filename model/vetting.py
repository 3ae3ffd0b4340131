"""Checks the decision trees inside a loaded model before it ever predicts.

skops refuses to trust sklearn.tree._tree.Tree and HistGradientBoosting's TreePredictor by
default: their node arrays hold child and feature indices that scikit-learn follows without
bounds checks, so a crafted file could crash the server or read memory at the first predict.
batchscore trusts them only after this check: every child index lies ahead of its node and
inside the tree (so a walk always ends at a leaf), and every feature index lies inside the
input the estimator checks at predict time. Trees anywhere this walk cannot vouch for are refused.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.tree import BaseDecisionTree
from sklearn.tree._tree import Tree

from batchscore.errors import ModelError


def check_trees(estimator: object) -> None:
    """ModelError if a tree in `estimator` points outside itself or its input."""
    for owner, path in _estimators(estimator, "model"):
        width = getattr(owner, "n_features_in_", None)
        if isinstance(owner, BaseDecisionTree) and hasattr(owner, "tree_"):  # fitted
            _check_tree(owner.tree_, width, path)
        for row in getattr(owner, "_predictors", None) or []:  # HistGradientBoosting
            for predictor in row:
                _check_predictor(predictor, width, path)
        members = getattr(owner, "estimators_", None)
        if members is not None and _holds_trees(members):
            for member in np.asarray(members, dtype=object).ravel():
                # An ensemble checks the input's width once, then hands it to each tree.
                if getattr(member, "n_features_in_", width) != width:
                    raise _refused(path, "a tree of the ensemble was fitted on other columns")


def _estimators(obj: object, path: str) -> Iterator[tuple[BaseEstimator, str]]:
    """Every estimator inside `obj` (itself too), through attributes, lists, tuples and dicts."""
    seen: set[int] = set()
    stack: list[tuple[object, str]] = [(obj, path)]
    while stack:
        item, where = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Tree | TreePredictor):
            continue  # reached through their owners, which know the input's width
        if isinstance(item, BaseEstimator):
            yield item, where
            children = vars(item).items()
        elif isinstance(item, dict):
            children = item.items()
        elif isinstance(item, list | tuple) or (
            isinstance(item, np.ndarray) and item.dtype == object
        ):
            children = ((str(i), value) for i, value in enumerate(np.asarray(item, object).ravel()))
        else:
            continue
        stack.extend((value, f"{where}.{key}") for key, value in children)


def _holds_trees(members: object) -> bool:
    return any(isinstance(m, BaseDecisionTree) for m in np.asarray(members, dtype=object).ravel())


def _check_tree(tree: Tree, width: object, path: str) -> None:
    count = int(tree.node_count)
    left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
    feature = np.asarray(tree.feature)
    if not isinstance(width, int) or tree.n_features != width:
        raise _refused(path, "its tree was built for another number of columns")
    if not len(left) == len(right) == len(feature) == count:
        raise _refused(path, "its tree's arrays disagree on the number of nodes")
    leaf = (left == -1) & (right == -1)
    _check_nodes(path, count, left[~leaf], right[~leaf], feature[~leaf], width, ~leaf)


def _check_predictor(predictor: object, width: object, path: str) -> None:
    if not isinstance(predictor, TreePredictor) or not isinstance(width, int):
        raise _refused(path, "it holds a gradient-boosting tree it cannot vouch for")
    nodes = predictor.nodes
    split = ~nodes["is_leaf"].astype(bool)
    _check_nodes(
        path,
        len(nodes),
        nodes["left"][split].astype(np.int64),
        nodes["right"][split].astype(np.int64),
        nodes["feature_idx"][split].astype(np.int64),
        width,
        split,
    )
    categorical = split & nodes["is_categorical"].astype(bool)
    bitsets = len(predictor.raw_left_cat_bitsets)
    if np.any(nodes["bitset_idx"][categorical] >= bitsets):
        raise _refused(path, "a category split points outside its table")


def _check_nodes(
    path: str,
    count: int,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    feature: npt.NDArray[np.int64],
    width: int,
    split: npt.NDArray[np.bool_],
) -> None:
    node = np.flatnonzero(split)
    if np.any((left <= node) | (right <= node) | (left >= count) | (right >= count)):
        raise _refused(path, "a tree node points outside its tree, or back up it")
    if np.any((feature < 0) | (feature >= width)):
        raise _refused(path, "a tree splits on a column the model is not given")


def _refused(path: str, why: str) -> ModelError:
    return ModelError(
        f"It was not loaded: in {path}, {why}. A file saved by scikit-learn never has this; "
        "it is damaged or was made to attack the server."
    )
