#!/usr/bin/env python3
"""Generate the golden fixtures of Mien's training code (Tests/Fixtures/training/).

Keras 3 (TensorFlow backend) is the oracle. For two small classification heads on
random "pooled features" the script stores the initial weights, the loss and the
gradient of every weight from `tf.GradientTape` (with and without sample weights),
the weights after three steps of Keras's own Adam and SGD (`apply_gradients`), and a
short `model.fit` run (class weights, validation data, no shuffling). It also stores
Keras's crossentropy on plain probabilities (the clipped path), the gradients through
every activation of a Dense layer, and scikit-learn's classification metrics.

While writing, it checks the Keras details that Mien reproduces and exits non-zero
if one does not hold:

* With `sample_weight`, the "sum_over_batch_size" reduction is sum(w_i * l_i) / N
  (the batch size, not the sum of the weights).
* When the model's output comes straight from a sigmoid / softmax activation, Keras 3
  computes the crossentropy from the cached logits (`_keras_logits`), both in
  `GradientTape` and in `fit` / `evaluate`, without clipping to [1e-7, 1 - 1e-7].
* `fit(class_weight=...)` equals `sample_weight = class_weight[label]`.
* Adam and SGD follow the update rules written in the README section.

Usage:
    python3 tools/make_training_fixtures.py [--out Tests/Fixtures/training]

Deterministic: seeded numpy generators, `keras.utils.set_random_seed`,
TF_ENABLE_ONEDNN_OPTS=0; two runs give byte-identical files.
"""

import argparse
import json
import logging
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
warnings.filterwarnings("ignore")
logging.getLogger("absl").setLevel(logging.ERROR)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")

import keras  # noqa: E402
import sklearn  # noqa: E402
from sklearn import metrics as skm  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402

EXPECTED_VERSIONS = {"tensorflow": "2.21.0", "keras": "3.15.1", "h5py": "3.14.0", "numpy": "2.4.6"}
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STR = h5py.string_dtype("utf-8")
FEATURES = 12
BATCH = 16
EPS = 1e-7
FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("CHECK FAILED:", message, file=sys.stderr)


def check_versions():
    found = {"tensorflow": tf.__version__, "keras": keras.__version__, "h5py": h5py.__version__,
             "numpy": np.__version__}
    for name, want in EXPECTED_VERSIONS.items():
        if found[name] != want:
            print(f"warning: {name} {found[name]} (fixtures were made with {want})", file=sys.stderr)


def f32(a):
    return np.asarray(a, dtype=np.float32)


def put(group, name, value):
    group.create_dataset(name, data=f32(value))


# --------------------------------------------------------------------------- heads


def build_head(kind, seed):
    """The two heads of the fixtures, with Keras-initialised kernels and random biases."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    if kind == "sigmoid":
        model = keras.Sequential([
            keras.Input((FEATURES,)),
            keras.layers.Dense(8, activation="relu", name="head_hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="head_output"),
        ])
    else:
        model = keras.Sequential([
            keras.Input((FEATURES,)),
            keras.layers.Dense(3, activation="softmax", name="head_output"),
        ])
    rng = np.random.default_rng(seed + 100)
    for layer in model.layers:
        kernel, bias = layer.get_weights()
        layer.set_weights([kernel, f32(rng.normal(0, 0.1, bias.shape))])
    return model


def weight_names(model):
    return [f"{layer.name}/{w.name}" for layer in model.layers for w in layer.weights]


def targets(kind, labels, classes):
    if kind == "sigmoid":
        return f32(labels).reshape(-1, 1)
    return f32(np.eye(classes)[labels])


def loss_object(kind):
    return keras.losses.BinaryCrossentropy() if kind == "sigmoid" else keras.losses.CategoricalCrossentropy()


def tape_loss_and_grads(model, kind, x, y, w):
    with tf.GradientTape() as tape:
        p = model(x, training=True)
        loss = loss_object(kind)(y, p, sample_weight=w)
    grads = tape.gradient(loss, model.trainable_weights)
    return float(loss), [g.numpy() for g in grads], p.numpy()


def logits_of(model, x):
    """The pre-activation of the last Dense layer (the logits Keras caches)."""
    h = x
    for layer in model.layers[:-1]:
        h = np.asarray(layer(h))
    last = model.layers[-1]
    return (h @ last.kernel.numpy() + last.bias.numpy()).astype(np.float64)


def reference_loss(kind, z, labels, w):
    """sum(w * l) / N from the logits, in float64."""
    n = len(labels)
    if kind == "sigmoid":
        z = z[:, 0]
        y = np.asarray(labels, np.float64)
        per = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    else:
        m = z.max(axis=1, keepdims=True)
        lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
        per = lse - z[np.arange(n), labels]
    w = np.ones(n) if w is None else np.asarray(w, np.float64)
    return float((per * w).sum() / n)


def clipped_loss(kind, p, labels, w):
    """The same loss computed from probabilities with Keras's clipping (what Keras does NOT do
    for a sigmoid/softmax output)."""
    p = np.clip(np.asarray(p, np.float64), EPS, 1 - EPS)
    n = len(labels)
    if kind == "sigmoid":
        y = np.asarray(labels, np.float64)
        per = -(y * np.log(p[:, 0]) + (1 - y) * np.log(1 - p[:, 0]))
    else:
        per = -np.log(p[np.arange(n), labels])
    w = np.ones(n) if w is None else np.asarray(w, np.float64)
    return float((per * w).sum() / n)


def write_head(out, kind, classes, seed):
    rng = np.random.default_rng(seed)
    x = f32(rng.normal(0, 1, (BATCH, FEATURES)))
    labels = np.array([i % classes for i in range(BATCH)])
    rng.shuffle(labels)
    class_weights = np.array([0.75, 1.5] if classes == 2 else [0.5, 1.25, 2.0])
    sample_weights = f32(class_weights[labels])
    x_val = f32(rng.normal(0, 1, (8, FEATURES)))
    labels_val = np.array([i % classes for i in range(8)])
    rng.shuffle(labels_val)
    y = targets(kind, labels, classes)

    model = build_head(kind, seed)
    initial = [w.numpy().copy() for w in model.weights]
    names = weight_names(model)

    def reset():
        for var, value in zip(model.weights, initial):
            var.assign(value)

    path = os.path.join(out, f"{kind}_head.io.h5")
    with h5py.File(path, "w") as f:
        f.attrs["description"] = (
            f"{kind} head: " + " -> ".join(
                f"Dense({l.units}, {l.activation.__name__})" for l in model.layers)
            + f" on random features [{BATCH}, {FEATURES}]")
        f.attrs["keras_version"] = keras.__version__
        f.attrs["weight_names"] = np.array(names, dtype=object).astype(STR)
        put(f, "inputs/0", x)
        put(f, "labels", labels)
        put(f, "class_weights", class_weights)
        put(f, "sample_weights", sample_weights)
        put(f, "validation/features", x_val)
        put(f, "validation/labels", labels_val)
        for name, value in zip(names, initial):
            put(f, f"initial/{name}", value)
        put(f, "output", model(x, training=False).numpy())

        z = logits_of(model, x)
        put(f, "logits", z)
        for tag, w in (("unweighted", None), ("weighted", sample_weights)):
            loss, grads, p = tape_loss_and_grads(model, kind, x, y, w)
            put(f, f"{tag}/loss", np.array([loss]))
            for name, g in zip(names, grads):
                put(f, f"{tag}/gradients/{name}", g)
            ref = reference_loss(kind, z, labels, w)
            check(abs(loss - ref) <= 1e-6 * max(1, abs(ref)),
                  f"{kind} {tag}: tape loss {loss} != sum(w*l)/N from logits {ref}")
            # Divided by N, not by the sum of the weights.
            if w is not None:
                by_weight_sum = ref * BATCH / float(np.sum(w, dtype=np.float64))
                check(abs(loss - by_weight_sum) > 1e-4, f"{kind}: weighted loss also equals sum(w*l)/sum(w)")
            # The clipped probability path gives a (slightly) different number here.
            put(f, f"{tag}/clipped_probability_loss", np.array([clipped_loss(kind, p, labels, w)]))

        # The logits path: saturate the output and compare with the clipped value.
        big = x * 40
        loss_big, _, p_big = tape_loss_and_grads(model, kind, big, y, None)
        ref_big = reference_loss(kind, logits_of(model, big), labels, None)
        check(abs(loss_big - ref_big) <= 1e-5 * max(1, abs(ref_big)),
              f"{kind}: saturated tape loss {loss_big} is not the logits loss {ref_big}")
        check(abs(loss_big - clipped_loss(kind, p_big, labels, None)) > 1e-3,
              f"{kind}: saturated tape loss equals the clipped loss (logits path not taken?)")
        put(f, "saturated/inputs", big)
        put(f, "saturated/loss", np.array([loss_big]))
        model.compile(loss=loss_object(kind), optimizer="sgd")
        evaluated = model.evaluate(big, y, batch_size=BATCH, verbose=0)
        check(abs(evaluated - loss_big) <= 1e-5 * max(1, abs(loss_big)),
              f"{kind}: model.evaluate {evaluated} != tape loss {loss_big} on saturated outputs")

        # Three optimizer steps on the weighted loss, applied by Keras's own optimizers.
        optimizers = {
            "adam": lambda: keras.optimizers.Adam(),
            "sgd_momentum": lambda: keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
            "sgd_nesterov": lambda: keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
            "sgd": lambda: keras.optimizers.SGD(learning_rate=0.1),
            "rmsprop": lambda: keras.optimizers.RMSprop(),
            "rmsprop_centered_momentum": lambda: keras.optimizers.RMSprop(
                learning_rate=0.01, rho=0.8, momentum=0.5, centered=True),
            "adamw": lambda: keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.1),
        }
        for opt_name, make in optimizers.items():
            reset()
            opt = make()
            g = f.create_group(opt_name)
            cfg = opt.get_config()
            for key in ("learning_rate", "beta_1", "beta_2", "epsilon", "momentum", "rho", "weight_decay"):
                if key in cfg and cfg[key] is not None:
                    g.attrs[key] = float(cfg[key])
            for key in ("nesterov", "centered"):
                if key in cfg:
                    g.attrs[key] = int(cfg[key])
            for step in range(1, 4):
                before = [w.numpy().copy() for w in model.trainable_weights]
                loss, grads, _ = tape_loss_and_grads(model, kind, x, y, sample_weights)
                opt.apply_gradients(zip([tf.constant(v) for v in grads], model.trainable_weights))
                after = [w.numpy().copy() for w in model.trainable_weights]
                put(g, f"step{step}/loss", np.array([loss]))
                for name, b, grad, a in zip(names, before, grads, after):
                    put(g, f"step{step}/before/{name}", b)
                    put(g, f"step{step}/gradients/{name}", grad)
                    put(g, f"step{step}/after/{name}", a)
                check_update_rule(opt_name, cfg, step, before, grads, after)

        # fit(class_weight=...) is the tape with sample_weight = class_weight[label]:
        # one full-batch SGD step each way.
        reset()
        model.compile(loss=loss_object(kind), optimizer=keras.optimizers.SGD(learning_rate=0.1))
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0,
                  class_weight={i: float(c) for i, c in enumerate(class_weights)})
        fitted = [w.numpy().copy() for w in model.trainable_weights]
        reset()
        _, grads, _ = tape_loss_and_grads(model, kind, x, y, sample_weights)
        manual = [w - np.float32(0.1) * gr for w, gr in zip(initial, grads)]
        check(all(np.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in zip(fitted, manual)),
              f"{kind}: fit(class_weight) differs from the tape with sample weights")

        # A short fit: Adam(0.01), batch 8 (two batches per epoch), no shuffling, class
        # weights, validation data.
        reset()
        model.compile(loss=loss_object(kind), optimizer=keras.optimizers.Adam(learning_rate=0.01),
                      metrics=["accuracy"])
        history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                            class_weight={i: float(c) for i, c in enumerate(class_weights)},
                            validation_data=(x_val, targets(kind, labels_val, classes)))
        g = f.create_group("fit")
        g.attrs["learning_rate"] = 0.01
        g.attrs["batch_size"] = 8
        g.attrs["epochs"] = 3
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            put(g, key, np.array(history.history[key]))
        for name, value in zip(names, model.trainable_weights):
            put(g, f"weights/{name}", value.numpy())
        put(g, "validation_output", model(x_val, training=False).numpy())
    print("wrote", os.path.relpath(path, REPO_ROOT))


def check_update_rule(opt_name, cfg, step, before, grads, after):
    """Re-derives Keras's update in float32 numpy from the rule Mien implements."""
    lr = np.float32(cfg["learning_rate"])
    slots = check_update_rule.slots
    if step == 1:
        slots.clear()
    for i, (w, g, a) in enumerate(zip(before, grads, after)):
        w, g = f32(w), f32(g)
        if opt_name.startswith("rmsprop"):
            rho, eps, mom = np.float32(cfg["rho"]), np.float32(cfg["epsilon"]), np.float32(cfg["momentum"])
            vel, avg, m = slots.get(i, (np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)))
            vel = rho * vel + (np.float32(1) - rho) * g * g
            if cfg["centered"]:
                avg = rho * avg + (np.float32(1) - rho) * g
                denominator = vel - avg * avg + eps
            else:
                denominator = vel + eps
            increment = lr * g / np.sqrt(denominator)
            if mom > 0:
                m = mom * m + increment
                expected = w - m
            else:
                expected = w - increment
            slots[i] = (vel, avg, m)
        elif opt_name.startswith("adam"):
            b1, b2, eps = cfg["beta_1"], cfg["beta_2"], cfg["epsilon"]
            if cfg.get("weight_decay"):
                # AdamW: decay first (w -= w * wd * lr), then the Adam step on the decayed w.
                w = w - w * np.float32(cfg["weight_decay"]) * lr
            m, v = slots.get(i, (np.zeros_like(w), np.zeros_like(w)))
            t = np.float32(step)
            b1p = np.power(np.float32(b1), t)
            b2p = np.power(np.float32(b2), t)
            alpha = lr * np.sqrt(np.float32(1) - b2p) / (np.float32(1) - b1p)
            m = m + (g - m) * np.float32(1 - b1)
            v = v + (g * g - v) * np.float32(1 - b2)
            expected = w - (m * alpha) / (np.sqrt(v) + np.float32(eps))
            slots[i] = (m, v)
        elif cfg.get("momentum", 0) != 0:
            mom = np.float32(cfg["momentum"])
            m = slots.get(i, np.zeros_like(w))
            m = m * mom - g * lr
            slots[i] = m
            expected = w + (m * mom - g * lr) if cfg["nesterov"] else w + m
        else:
            expected = w - g * lr
        err = float(np.max(np.abs(expected - a)))
        check(err <= 1e-6 * max(1.0, float(np.max(np.abs(a)))),
              f"{opt_name} step {step} weight {i}: numpy rule differs from Keras by {err}")


check_update_rule.slots = {}


# --------------------------------------------------------------------- probabilities


def write_probabilities(out):
    """Keras's crossentropy on plain probability tensors (no cached logits): clipped to
    [1e-7, 1 - 1e-7]; categorical also renormalises each row by its sum."""
    path = os.path.join(out, "probabilities.io.h5")
    with h5py.File(path, "w") as f:
        f.attrs["description"] = "crossentropy on probability tensors (the clipped path)"
        f.attrs["keras_version"] = keras.__version__
        cases = {
            "binary": (
                f32([[0.0], [1.0], [1e-9], [0.3], [1 - 1e-9], [0.5], [0.9], [2e-7]]),
                np.array([0, 1, 1, 1, 0, 0, 1, 0]),
                f32([1, 2, 0.5, 1, 1, 3, 1, 1]),
            ),
            "categorical": (
                f32([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0], [0.2, 0.3, 0.4], [1e-9, 0.5, 0.5],
                     [0.7, 0.2, 0.1], [0.6, 0.6, 0.3], [0.1, 0.1, 0.8], [0.33, 0.33, 0.34]]),
                np.array([2, 0, 1, 0, 0, 1, 2, 1]),
                f32([1, 2, 0.5, 1, 1, 3, 1, 1]),
            ),
        }
        for name, (p, labels, w) in cases.items():
            if name == "binary":
                y, fn = f32(labels).reshape(-1, 1), keras.losses.BinaryCrossentropy()
            else:
                y, fn = f32(np.eye(3)[labels]), keras.losses.CategoricalCrossentropy()
            g = f.create_group(name)
            put(g, "outputs", p)
            put(g, "labels", labels)
            put(g, "sample_weights", w)
            for tag, weights in (("unweighted", None), ("weighted", w)):
                pt = tf.constant(p)
                with tf.GradientTape() as tape:
                    tape.watch(pt)
                    loss = fn(y, pt, sample_weight=weights)
                put(g, f"{tag}/loss", np.array([float(loss)]))
                put(g, f"{tag}/gradient", tape.gradient(loss, pt).numpy())
    print("wrote", os.path.relpath(path, REPO_ROOT))


# ----------------------------------------------------------------------- activations

ACTIVATIONS = ["linear", "relu", "relu6", "sigmoid", "tanh", "softmax", "log_softmax", "elu",
               "selu", "softplus", "softsign", "exponential", "swish", "gelu", "hard_sigmoid",
               "hard_silu", "mish", "leaky_relu"]


def write_activations(out):
    """Dense(5, activation) on [6, 4] inputs; loss = sum(output * upstream), so the gradient
    with respect to the output is `upstream`. Gradients of the input, kernel and bias."""
    path = os.path.join(out, "dense_backward.io.h5")
    rng = np.random.default_rng(7)
    with h5py.File(path, "w") as f:
        f.attrs["description"] = "Dense(5, activation) backward for every activation"
        f.attrs["keras_version"] = keras.__version__
        f.attrs["activations"] = np.array(ACTIVATIONS, dtype=object).astype(STR)
        for name in ACTIVATIONS:
            x = f32(rng.normal(0, 1.5, (6, 4)))
            kernel = f32(rng.normal(0, 0.6, (4, 5)))
            bias = f32(rng.normal(0, 0.2, (5,)))
            upstream = f32(rng.normal(0, 1, (6, 5)))
            keras.backend.clear_session()
            layer = keras.layers.Dense(5, activation=name)
            layer.build((None, 4))
            layer.set_weights([kernel, bias])
            xt = tf.constant(x)
            with tf.GradientTape() as tape:
                tape.watch(xt)
                y = layer(xt)
                loss = tf.reduce_sum(y * upstream)
            gx, gk, gb = tape.gradient(loss, [xt, layer.kernel, layer.bias])
            g = f.create_group(name)
            for key, value in (("input", x), ("kernel", kernel), ("bias", bias), ("upstream", upstream),
                               ("output", y.numpy()), ("grad_input", gx.numpy()),
                               ("grad_kernel", gk.numpy()), ("grad_bias", gb.numpy())):
                put(g, key, value)
    print("wrote", os.path.relpath(path, REPO_ROOT))


# ---------------------------------------------------------------------------- sklearn


def report_case(name, y_true, y_pred, classes):
    labels = list(range(len(classes)))
    report = skm.classification_report(y_true, y_pred, labels=labels, target_names=classes,
                                       zero_division="warn")
    as_dict = skm.classification_report(y_true, y_pred, labels=labels, target_names=classes,
                                        output_dict=True, zero_division="warn")
    counts = np.bincount(y_true, minlength=len(classes))
    case = {
        "name": name,
        "classes": classes,
        "y_true": [int(v) for v in y_true],
        "y_pred": [int(v) for v in y_pred],
        "text": report,
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "per_class": {c: {k: float(v) for k, v in as_dict[c].items()} for c in classes},
        "macro_avg": {k: float(v) for k, v in as_dict["macro avg"].items()},
        "weighted_avg": {k: float(v) for k, v in as_dict["weighted avg"].items()},
        "counts": [int(c) for c in counts],
    }
    if all(counts > 0):
        case["balanced_class_weights"] = [
            float(v) for v in compute_class_weight("balanced", classes=np.array(labels), y=y_true)]
    return case


def write_reports(out):
    rng = np.random.default_rng(11)
    fer = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    cases = []
    # FER-like: 7 classes, imbalanced, a noisy classifier that never predicts "disgust".
    y_true = rng.choice(7, size=200, p=[0.14, 0.02, 0.14, 0.25, 0.17, 0.17, 0.11])
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.choice(7, size=200))
    y_pred = np.where(y_pred == 1, 4, y_pred)
    cases.append(report_case("fer_noisy", y_true, y_pred, fer))
    # Binary with uneven counts.
    y_true = rng.choice(2, size=57, p=[0.7, 0.3])
    y_pred = np.where(rng.random(57) < 0.8, y_true, 1 - y_true)
    cases.append(report_case("binary", y_true, y_pred, ["not_smiling", "smiling"]))
    # A class absent from y_true and y_pred (support 0, never predicted) and one only predicted.
    y_true = np.array([0, 0, 1, 1, 1, 0, 1, 0, 0, 1])
    y_pred = np.array([0, 3, 1, 1, 0, 0, 3, 0, 1, 1])
    cases.append(report_case("absent_classes", y_true, y_pred, ["a", "b", "c", "d"]))
    # Perfect predictions.
    y_true = np.array([2, 0, 1, 2, 1, 0, 2])
    cases.append(report_case("perfect", y_true, y_true.copy(), ["x", "y", "z"]))
    # A long class name widens the first column.
    y_true = rng.choice(3, size=31)
    y_pred = rng.choice(3, size=31)
    cases.append(report_case("long_names", y_true, y_pred, ["a", "a_very_long_class_name", "c"]))
    path = os.path.join(out, "classification_report.json")
    with open(path, "w") as f:
        json.dump({"sklearn_version": sklearn.__version__, "cases": cases}, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", os.path.relpath(path, REPO_ROOT))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "Tests", "Fixtures", "training"))
    args = parser.parse_args()
    check_versions()
    os.makedirs(args.out, exist_ok=True)
    write_head(args.out, "sigmoid", 2, seed=1)
    write_head(args.out, "softmax", 3, seed=2)
    write_probabilities(args.out)
    write_activations(args.out)
    write_reports(args.out)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all Keras checks passed")


if __name__ == "__main__":
    main()
