"""The judge file `treelight train judge` writes: data, never code.

One file, a NumPy `.npz` archive (a zip of `.npy` arrays) read with
`allow_pickle=False`: the weights as plain number arrays, the memory of settled
states as a string array and a bool array, and the metadata (provenance,
held-out figures, which model and features) as JSON bytes. Loading one never
runs code: an archive that holds a pickled object is refused, whatever it is.

The models are read and applied here with NumPy alone (no scikit-learn at
judging time): a logistic regression, a small multi-layer perceptron (ReLU) or
gradient-boosted trees, each after the same standard scaling.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from treelight.engine.errors import BadArguments

FORMAT = "treelight-judge"
VERSION = 1
MODELS = ("logistic", "mlp", "gbm")
Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class JudgeFile:
    path: Path
    meta: dict[str, Any]
    arrays: Arrays

    @property
    def name(self) -> str:
        return self.path.name

    def memory(self) -> dict[str, bool]:
        keys, live = self.arrays["memory_keys"], self.arrays["memory_live"]
        return {str(k): bool(v) for k, v in zip(keys, live, strict=True)}

    def predict(self, features: np.ndarray) -> np.ndarray:
        """P(live) for each row of `features` (as the file's model says)."""
        return predict(self.meta["model"], self.arrays, features)


def save(path: Path, meta: dict[str, Any], arrays: Arrays) -> None:
    """Write a judge file (the name as given: NumPy adds no `.npz`)."""
    blob = np.frombuffer(json.dumps({"format": FORMAT, "version": VERSION, **meta}).encode(), "u1")
    for name, array in arrays.items():
        if array.dtype.hasobject:
            raise ValueError(f"{name}: a judge file holds plain arrays only")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        np.savez_compressed(out, **{"meta": blob, **arrays})  # type: ignore[arg-type]


def load(path: Path) -> JudgeFile:
    """A judge file's metadata and arrays, or BadArguments saying why not; never
    unpickles anything."""
    if not path.is_file():
        raise BadArguments(f"No judge file at {path}: make one with `treelight train judge`.")
    if not zipfile.is_zipfile(path):  # what np.load would otherwise try to unpickle
        raise BadArguments(f"{path} is not a judge file (not a NumPy .npz archive).")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as error:
        if "pickle" in str(error):
            raise BadArguments(
                f"{path} holds pickled Python objects: Treelight reads judge files as plain "
                "data only and never unpickles one (loading it could run any code). Train "
                "the judge again with `treelight train judge`."
            ) from None
        raise BadArguments(f"{path} is not a judge file ({error}).") from None
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise BadArguments(f"{path} is not a judge file ({error}).") from None
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (KeyError, ValueError):
        raise BadArguments(f"{path} is not a judge file: it has no metadata.") from None
    if meta.get("format") != FORMAT or meta.get("model") not in MODELS:
        raise BadArguments(f"{path} is not a Treelight judge file.")
    if int(meta.get("version", 0)) > VERSION:
        raise BadArguments(
            f"{path} was written by a newer Treelight (judge file version "
            f"{meta['version']}); upgrade Treelight to use it."
        )
    return JudgeFile(path, meta, arrays)


def predict(model: str, arrays: Arrays, features: np.ndarray) -> np.ndarray:
    x = (np.asarray(features, dtype=np.float64) - arrays["scale_mean"]) / arrays["scale_std"]
    if model == "logistic":
        z = x @ arrays["coef"] + arrays["intercept"][0]
    elif model == "mlp":
        layers = int(arrays["layers"][0])
        for i in range(layers):
            x = x @ arrays[f"w{i}"] + arrays[f"b{i}"]
            if i < layers - 1:
                x = np.maximum(x, 0.0)
        z = x[:, 0]
    else:
        z = arrays["gbm_init"][0] + arrays["gbm_rate"][0] * _trees(arrays, x)
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))))


def _trees(arrays: Arrays, x: np.ndarray) -> np.ndarray:
    """The sum of the regression trees' outputs for each row (sklearn's layout: node
    0 the root, -1 a leaf's children)."""
    left, right = arrays["gbm_left"], arrays["gbm_right"]
    feature, threshold, value = arrays["gbm_feature"], arrays["gbm_threshold"], arrays["gbm_value"]
    rows = np.arange(len(x))
    total = np.zeros(len(x))
    for t in range(len(left)):
        node = np.zeros(len(x), dtype=np.int64)
        while True:
            inner = left[t, node] >= 0
            if not inner.any():
                break
            go_left = x[rows, np.maximum(feature[t, node], 0)] <= threshold[t, node]
            node = np.where(inner, np.where(go_left, left[t, node], right[t, node]), node)
        total += value[t, node]
    return total
