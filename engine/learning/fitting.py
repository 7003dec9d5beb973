"""Small models fitted to labelled states with scikit-learn, and exported as plain
arrays (engine/judges/learned_file.py applies them with NumPy alone).

Three candidates, each after standard scaling, each weighing live and dead
states equally (live states are the rare ones: 7-17% in Game of 24; a soft
label counts in both, by its probability): a logistic regression, a small
multi-layer perceptron, gradient-boosted trees. The one with the best AUC on the
held-out problems is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from treelight.engine.errors import BadArguments
from treelight.engine.judges.learned_file import Arrays, predict

CANDIDATES = ("logistic", "mlp", "gbm")


@dataclass(frozen=True)
class Fitted:
    model: str
    arrays: Arrays
    estimator: Any = None  # scikit-learn's own object (not saved: the arrays are)


def _sklearn() -> Any:
    try:
        import sklearn  # noqa: F401
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        raise BadArguments(
            "Training a judge needs scikit-learn: run the README's set-up command "
            "(or `pip install scikit-learn`)."
        ) from None
    return sklearn


def balanced_weights(y: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Sample weights under which live and dead states weigh the same in all."""
    w = np.ones(len(y)) if weights is None else weights
    live = max(1e-9, float(w[y == 1].sum()))
    dead = max(1e-9, float(w[y == 0].sum()))
    total = float(w.sum())
    return w * np.where(y == 1, total / (2 * live), total / (2 * dead))


def soft_rows(
    x: np.ndarray, y: np.ndarray, target: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A soft label P(live) = t (engine/learning/labels.py) as two rows: the state
    live with weight t and dead with weight 1 - t; a settled state stays one row."""
    if target is None:
        return x, y, np.ones(len(y))
    soft = (target > 0) & (target < 1)
    hard = ~soft
    rows = np.vstack([x[hard], x[soft], x[soft]])
    labels = np.concatenate(
        [y[hard], np.ones(soft.sum(), np.int64), np.zeros(soft.sum(), np.int64)]
    )
    weights = np.concatenate([np.ones(hard.sum()), target[soft], 1 - target[soft]])
    return rows, labels, weights


def fit(
    model: str, x: np.ndarray, y: np.ndarray, seed: int, target: np.ndarray | None = None
) -> Fitted:
    """One candidate fitted to `x`, `y` (1: live), exported as arrays; `target`, when
    given, is each state's P(live) (soft labels between 0 and 1)."""
    _sklearn()
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    scaled, y, soft_weights = soft_rows((x - mean) / std, y, target)
    arrays: Arrays = {"scale_mean": mean, "scale_std": std}
    weights = balanced_weights(y, soft_weights)
    if model == "logistic":
        lr = LogisticRegression(max_iter=2000)
        lr.fit(scaled, y, sample_weight=weights)
        arrays |= {"coef": lr.coef_[0].astype(np.float64), "intercept": lr.intercept_[:1]}
        estimator: Any = lr
    elif model == "mlp":
        mlp = MLPClassifier(
            hidden_layer_sizes=(64, 32), max_iter=300, early_stopping=True, random_state=seed
        )
        mlp.fit(scaled, y, sample_weight=weights)
        arrays["layers"] = np.array([len(mlp.coefs_)])
        for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_, strict=True)):
            arrays[f"w{i}"], arrays[f"b{i}"] = w, b
        estimator = mlp
    elif model == "gbm":
        gbm = GradientBoostingClassifier(
            n_estimators=150, max_depth=3, learning_rate=0.1, random_state=seed
        )
        gbm.fit(scaled, y, sample_weight=weights)
        arrays |= _export_trees(gbm, scaled[:1])
        estimator = gbm
    else:
        raise ValueError(model)
    return Fitted(model, arrays, estimator)


def _export_trees(gbm: Any, sample: np.ndarray) -> Arrays:
    trees = [estimator.tree_ for estimator in gbm.estimators_[:, 0]]
    width = max(t.node_count for t in trees)

    def padded(field: str, fill: float, dtype: Any) -> np.ndarray:
        table = np.full((len(trees), width), fill, dtype=dtype)
        for i, tree in enumerate(trees):
            values = getattr(tree, field)
            table[i, : tree.node_count] = values[:, 0, 0] if field == "value" else values
        return table

    rate = float(gbm.learning_rate)
    tree_sum = sum(float(e.predict(sample)[0]) for e in gbm.estimators_[:, 0])
    init = float(gbm.decision_function(sample)[0]) - rate * tree_sum
    return {
        "gbm_left": padded("children_left", -1, np.int64),
        "gbm_right": padded("children_right", -1, np.int64),
        "gbm_feature": padded("feature", -2, np.int64),
        "gbm_threshold": padded("threshold", 0.0, np.float64),
        "gbm_value": padded("value", 0.0, np.float64),
        "gbm_init": np.array([init]),
        "gbm_rate": np.array([rate]),
    }


@dataclass(frozen=True)
class Scores:
    auc: float | None  # None: the held-out states are all live or all dead
    balanced_accuracy: float


def score(y: np.ndarray, p: np.ndarray) -> Scores:
    _sklearn()
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None
    said = p >= 0.5
    # The mean of the recall of live and of dead states (of those present).
    recalls = [float((said[y == c] == c).mean()) for c in (0, 1) if (y == c).any()]
    return Scores(auc, float(np.mean(recalls)) if recalls else 0.0)


def probabilities(fitted: Fitted, x: np.ndarray) -> np.ndarray:
    return predict(fitted.model, fitted.arrays, x)
