#!/usr/bin/env python3
"""Generate Tests/Fixtures/report/curves.json: scikit-learn's binary curves and reports.

For a few binary cases (scores of the positive class, label 1) the script stores the
inputs and what scikit-learn computes from them with its default arguments:

* `roc_curve` (`drop_intermediate=True`): fpr, tpr, thresholds. The first threshold is
  `inf` (scikit-learn >= 1.3) and is written as null; a rate scikit-learn returns as
  all-NaN (no negative / no positive sample) is written as null.
* `roc_auc_score` (null when scikit-learn returns NaN: only one class in y_true).
* `precision_recall_curve` (`drop_intermediate=False`): precision, recall, thresholds.
* `average_precision_score`.
* For the predictions `y_score >= t` at t = 0.5 and t = 0.3 (t rounded to float32 first for
  float32 scores, as numpy compares a float32 array with a float32 scalar):
  `confusion_matrix`, `classification_report` (text, digits 2, and `output_dict=True`),
  `accuracy_score` and `balanced_accuracy_score`, all with `labels=[0, 1]` and
  `zero_division="warn"`.
* The scikit-learn warnings each call raised (e.g. "Only one class is present in y_true").

Binary cases: `imbalanced_ties` (200 float64 scores rounded to 0.01, so many ties, about
22% positives), `tiny` (scikit-learn's documentation example plus a tie across classes),
`all_equal` (every score 0.5), `float32` (160 float32 sigmoid scores with ties, some exactly
float32(0.5) and float32(0.3)), `only_positive` and `only_negative` (one class in y_true).

Multi-class cases (`y_true`, `y_pred` only; the same report, confusion matrix and
accuracies with `labels=range(k)`): `three_class` (class 2 never predicted) and
`fer_seven` (7 FER classes; "disgust" has no sample, "fear" is never predicted).

Usage:
    python3 tools/make_report_fixtures.py [--out Tests/Fixtures/report]

Needs numpy and scikit-learn (the fixture was made with scikit-learn 1.9.1 and numpy
2.4.6). Deterministic (seeded numpy generator): two runs give byte-identical files.
"""

import argparse
import json
import math
import os
import warnings

import numpy as np
import sklearn
from sklearn import metrics as skm

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THRESHOLDS = [0.5, 0.3]
FER = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def floats(values):
    """Python floats (exact for float32 and float64), NaN and infinities as None."""
    return [None if not math.isfinite(v) else float(v) for v in np.asarray(values, dtype=np.float64)]


def calling(warned, function, *args, **kwargs):
    """function(*args, **kwargs), recording the messages of the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(*args, **kwargs)
    for w in caught:
        message = f"{function.__name__}: {w.message}"
        if message not in warned:
            warned.append(message)
    return result


def report(y_true, y_pred, classes, warned):
    labels = list(range(len(classes)))
    as_dict = calling(warned, skm.classification_report, y_true, y_pred, labels=labels,
                      target_names=classes, output_dict=True, zero_division="warn")
    text = calling(warned, skm.classification_report, y_true, y_pred, labels=labels,
                   target_names=classes, zero_division="warn")

    def metrics(d):
        return {"precision": float(d["precision"]), "recall": float(d["recall"]),
                "f1": float(d["f1-score"]), "support": int(d["support"])}

    return {
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "text": text,
        "accuracy": float(calling(warned, skm.accuracy_score, y_true, y_pred)),
        "balanced_accuracy": float(calling(warned, skm.balanced_accuracy_score, y_true, y_pred)),
        "per_class": [metrics(as_dict[c]) for c in classes],
        "macro_avg": metrics(as_dict["macro avg"]),
        "weighted_avg": metrics(as_dict["weighted avg"]),
    }


def binary_case(name, y_true, y_score):
    y_true = np.asarray(y_true, dtype=np.int64)
    assert y_score.dtype in (np.float32, np.float64)
    warned = []
    fpr, tpr, roc_thresholds = calling(warned, skm.roc_curve, y_true, y_score)
    assert np.isinf(roc_thresholds[0]) and np.all(np.isfinite(roc_thresholds[1:]))
    auc = calling(warned, skm.roc_auc_score, y_true, y_score)
    precision, recall, pr_thresholds = calling(warned, skm.precision_recall_curve, y_true, y_score)
    ap = calling(warned, skm.average_precision_score, y_true, y_score)
    at_threshold = []
    for t in THRESHOLDS:
        t = y_score.dtype.type(t)                   # numpy compares in the scores' dtype
        y_pred = (y_score >= t).astype(np.int64)
        entry = {"threshold": float(t)}
        entry.update(report(y_true, y_pred, ["0", "1"], warned))
        at_threshold.append(entry)
    return {
        "name": name,
        "dtype": str(y_score.dtype),
        "y_true": [int(v) for v in y_true],
        "y_score": floats(y_score),
        "roc_curve": {"fpr": None if np.all(np.isnan(fpr)) else floats(fpr),
                      "tpr": None if np.all(np.isnan(tpr)) else floats(tpr),
                      "thresholds": floats(roc_thresholds)},
        "roc_auc_score": None if math.isnan(auc) else float(auc),
        "precision_recall_curve": {"precision": floats(precision), "recall": floats(recall),
                                   "thresholds": floats(pr_thresholds)},
        "average_precision_score": float(ap),
        "at_threshold": at_threshold,
        "warnings": warned,
    }


def multiclass_case(name, y_true, y_pred, classes):
    warned = []
    case = {"name": name, "classes": classes,
            "y_true": [int(v) for v in y_true], "y_pred": [int(v) for v in y_pred]}
    case.update(report(np.asarray(y_true), np.asarray(y_pred), classes, warned))
    case["warnings"] = warned
    return case


def make_cases():
    rng = np.random.default_rng(2024)
    binary = []

    # 200 scores, ~22% positives, rounded to 0.01: many ties, some across the classes.
    y = (rng.random(200) < 0.22).astype(np.int64)
    logits = rng.normal(np.where(y == 1, 0.9, -0.8), 1.1)
    scores = np.round(1 / (1 + np.exp(-logits)), 2)
    binary.append(binary_case("imbalanced_ties", y, scores.astype(np.float64)))

    # scikit-learn's documentation example, plus a tie between a negative and a positive.
    binary.append(binary_case("tiny", [0, 0, 1, 1, 0, 1], np.array([0.1, 0.4, 0.35, 0.8, 0.6, 0.6])))

    # Every score equal: one threshold; the ROC curve is the diagonal.
    binary.append(binary_case("all_equal", [0, 1, 0, 0, 1, 0, 1, 0], np.full(8, 0.5)))

    # float32 scores with ties, some exactly float32(0.5) and float32(0.3).
    y = (rng.random(160) < 0.35).astype(np.int64)
    logits = rng.normal(np.where(y == 1, 0.7, -0.6), 1.3).astype(np.float32)
    scores = (1 / (1 + np.exp(-logits))).astype(np.float32)
    scores[rng.choice(160, size=30, replace=False)] = scores[rng.choice(160, size=30)]   # ties
    scores[[3, 17, 40]] = np.float32(0.5)
    scores[[5, 60, 99]] = np.float32(0.3)
    binary.append(binary_case("float32", y, scores))

    # One class only: ROC undefined (scikit-learn warns; roc_auc_score is NaN).
    binary.append(binary_case("only_positive", [1, 1, 1, 1], np.array([0.2, 0.5, 0.5, 0.9])))
    binary.append(binary_case("only_negative", [0, 0, 0], np.array([0.7, 0.1, 0.1])))

    multiclass = []
    # 3 classes; class 2 is never predicted.
    y_true = rng.choice(3, size=40, p=[0.5, 0.3, 0.2])
    y_pred = np.where(rng.random(40) < 0.7, y_true, rng.choice(3, size=40))
    y_pred = np.where(y_pred == 2, 0, y_pred)
    multiclass.append(multiclass_case("three_class", y_true, y_pred, ["cat", "dog", "bird"]))

    # 7 FER classes: "disgust" (1) has no sample, "fear" (2) is never predicted.
    y_true = rng.choice(7, size=120, p=[0.15, 0.0, 0.15, 0.25, 0.17, 0.17, 0.11])
    y_pred = np.where(rng.random(120) < 0.55, y_true, rng.choice(7, size=120))
    y_pred = np.where(y_pred == 2, 5, y_pred)
    assert 1 not in y_true and 2 not in y_pred and 1 in y_pred
    multiclass.append(multiclass_case("fer_seven", y_true, y_pred, FER))
    return binary, multiclass


def dumps(value, indent=0):
    """JSON with objects indented and arrays of scalars on one line (a small, diffable file)."""
    pad = " " * indent
    if isinstance(value, dict):
        items = [f'{pad} {json.dumps(k)}: {dumps(v, indent + 1)}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [pad + " " + dumps(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value, allow_nan=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "Tests", "Fixtures", "report"))
    args = parser.parse_args()
    binary, multiclass = make_cases()
    fixture = {"sklearn_version": sklearn.__version__, "numpy_version": np.__version__,
               "binary": binary, "multiclass": multiclass}
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "curves.json")
    with open(path, "w") as f:
        f.write(dumps(fixture) + "\n")
    print("wrote", os.path.relpath(path, REPO_ROOT), f"({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
