#!/usr/bin/env python3
"""The keras.applications test bed: real architectures, saved by real Keras.

For every model in APPLICATIONS (and the extra entries below), in Keras 3.15
(`keras`, files tagged `k3`) and in tf.keras 2.21 (`tf_keras`, tagged `k2`),
where that Keras has it:

* build it with `weights=None, include_top=False, input_shape=(96, 96, 3)` and a
  fixed seed;
* give it weights that make the output depend on the input (see `calibrate`):
  random biases, BatchNormalization moving statistics measured on a calibration
  batch and then perturbed, random gamma/beta, LayerScale gammas of a visible size;
* save it as `.h5` and `.keras` (`model.save`), reload each file with the same
  Keras (`load_model(..., compile=False)`) and compare the reloaded output with the
  in-memory one;
* write `NAME.V.io.h5` (the input batch, the in-memory output and what the reload
  gave) to Tests/Fixtures/applications/ and the model files to
  Tests/Fixtures/applications/models/ (git-ignored), or next to the `.io.h5` for the few
  small files in COMMITTED.

Each Keras version runs in its own subprocess (`--worker k2|k3`), so the two never
share a process; the parent prints the summary table.

Usage:
    python3 tools/make_applications_fixtures.py [--only NAME ...] [--versions k2 k3]

See Tests/Fixtures/README.md ("applications/") for the files.
"""

import argparse
import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Plain Eigen kernels instead of oneDNN: fewer platform-specific roundings.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "Fixtures", "applications")
SIZE = 96
BATCH = 2
# Model files written next to the .io.h5 files and committed, so that a fresh clone tests
# Keras 3's operation layers through a .keras file (MobileNetV3's hard sigmoid), tf.keras's
# TFOpLambda and augmentation layers (the tutorial's transfer model) and both forms of
# `x / 127.5 - 1`; every other model file goes to models/ (git-ignored), ~10 MB kept in all.
COMMITTED = {"MobileNetV3SmallTiny.k3.keras", "TransferMobileNetV2.k2.h5",
             "TransferMobileNetV2Explicit.k2.h5", "TransferMobileNetV2Explicit.k2.keras",
             "TransferMobileNetV2Explicit.k3.h5", "TransferMobileNetV2Explicit.k3.keras"}
FORMATS = ("h5", "keras")

# Input ranges: "raw" = pixels 0..255 (the model has its own preprocessing inside),
# "tf" = pixels / 127.5 - 1, i.e. -1..1.
#   (table name, keras.applications constructor, extra keyword arguments, input range)
APPLICATIONS = [
    ("MobileNet", "MobileNet", {}, "tf"),
    ("MobileNetV2", "MobileNetV2", {}, "tf"),
    ("MobileNetV3Small", "MobileNetV3Small", {}, "raw"),
    ("MobileNetV3Large", "MobileNetV3Large", {}, "raw"),
    ("ResNet50", "ResNet50", {}, "tf"),
    ("ResNet50V2", "ResNet50V2", {}, "tf"),
    ("DenseNet121", "DenseNet121", {}, "tf"),
    ("InceptionV3", "InceptionV3", {}, "tf"),
    ("Xception", "Xception", {}, "tf"),
    ("VGG16", "VGG16", {}, "tf"),
    ("EfficientNetB0", "EfficientNetB0", {}, "raw"),
    ("EfficientNetV2B0", "EfficientNetV2B0", {}, "raw"),
    ("NASNetMobile", "NASNetMobile", {}, "tf"),
    ("ConvNeXtTiny", "ConvNeXtTiny", {}, "raw"),
    ("RegNetX002", "RegNetX002", {}, "raw"),
    # Small enough to commit, so that a fresh clone exercises MobileNetV3's
    # operation layers (hard_sigmoid / hard_swish as Add, Multiply, ...).
    ("MobileNetV3SmallTiny", "MobileNetV3Small", {"alpha": 0.75}, "raw"),
]
# Keras's transfer-learning tutorial: a frozen base under data augmentation and the
# ImageNet preprocessing, with a new head. Both are committed.
TRANSFER = [
    # MobileNetV2 (alpha 0.35) base, mobilenet_v2.preprocess_input(x)
    ("TransferMobileNetV2", "preprocess_input"),
    # the user wrote x / 127.5 - 1; a small base keeps the committed files small
    ("TransferMobileNetV2Explicit", "explicit"),
]
ALL_NAMES = [a[0] for a in APPLICATIONS] + [t[0] for t in TRANSFER]


def seed_of(text):
    return zlib.crc32(text.encode("utf-8")) & 0x7FFFFFFF


# --------------------------------------------------------------------------
# Inputs (numpy only; the same for both Keras versions)
# --------------------------------------------------------------------------

def images(seed, n):
    """n smooth random RGB pictures with noise: integer pixel values 0..255, float32."""
    import numpy as np
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) / SIZE
    out = np.zeros((n, SIZE, SIZE, 3))
    for i in range(n):
        for c in range(3):
            plane = np.full((SIZE, SIZE), rng.uniform(80, 170))
            for _ in range(6):
                fx, fy = rng.uniform(-4, 4, 2)
                plane += rng.uniform(15, 45) * np.cos(2 * np.pi * (fx * xx + fy * yy) + rng.uniform(0, 2 * np.pi))
            out[i, :, :, c] = plane + rng.normal(0, 12, (SIZE, SIZE))
    return np.clip(np.round(out), 0, 255).astype(np.float32)


def in_range(pixels, kind):
    import numpy as np
    if kind == "raw":
        return pixels.astype(np.float32)
    # pixel / 128 - 1 rather than / 127.5: the values are exact in float32 with 8
    # significant bits, so the stored input compresses like the pixels do.
    return (pixels.astype(np.float32) / np.float32(128) - np.float32(1)).astype(np.float32)


# --------------------------------------------------------------------------
# Worker: everything below runs inside one Keras version's subprocess
# --------------------------------------------------------------------------

def import_keras(version):
    warnings.filterwarnings("ignore")
    logging.getLogger("absl").setLevel(logging.ERROR)
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    if version == "k2":
        import tf_keras as K  # tf.keras 2.x
    else:
        import keras as K  # Keras 3
    return tf, K


def short_name(variable):
    return variable.name.split("/")[-1].split(":")[0]


def weights_by_name(layer):
    return {short_name(v): v for v in layer.weights}


def calibrate(tf, K, model, calibration, seed, log):
    """Weights that keep every activation O(1) and the output input-dependent.

    With `weights=None`, every BatchNormalization is the identity (mean 0, variance 1),
    biases are 0 and ConvNeXt's LayerScale is 1e-6, so a test would miss a wrong BN
    formula, an unread bias or an unread LayerScale, and deep nets drift in scale.
    So, in order:
      * every bias: N(0, 0.05) (LayerScale gamma: U(0.3, 0.7); EfficientNet's
        unadapted Normalization: the ImageNet mean/variance of 0..1 pixels);
      * every BatchNormalization, in topological order: its input's per-channel
        mean m and variance s² are measured on the calibration batch (with the earlier
        BNs already set); s² is bounded below (see the loop) so that no channel
        amplifies float32 rounding much; then moving_mean = m + N(0, 0.1)·s,
        moving_variance = s²·U(0.5, 1.5), gamma = U(0.8, 1.2), beta = N(0, 0.1);
      * LayerNormalization: gamma U(0.8, 1.2), beta N(0, 0.1);
      * a model without any normalization (VGG16): each Conv2D's kernel and bias are
        divided by the RMS of its output, in order, so the output RMS is 1.
    """
    import numpy as np
    rng = np.random.default_rng(seed)
    layers = list(model.layers)

    for layer in layers:
        kind = type(layer).__name__
        w = weights_by_name(layer)
        if kind == "LayerScale":
            v = layer.gamma  # Keras 3 leaves the weight unnamed ("variable")
            v.assign(rng.uniform(0.3, 0.7, tuple(v.shape)).astype(np.float32))
        elif kind == "Normalization" and "mean" in w and "variance" in w:
            mean = np.array([0.485, 0.456, 0.406], np.float32)
            var = np.array([0.229, 0.224, 0.225], np.float32) ** 2
            w["mean"].assign(mean.reshape(tuple(w["mean"].shape)))
            w["variance"].assign(var.reshape(tuple(w["variance"].shape)))
            if hasattr(layer, "finalize_state"):
                layer.finalize_state()  # Keras 3 caches mean/variance as tensors
        elif "bias" in w:
            v = w["bias"]
            v.assign((rng.standard_normal(tuple(v.shape)) * 0.05).astype(np.float32))

    bns = [l for l in layers if type(l).__name__ == "BatchNormalization"]
    lns = [l for l in layers if type(l).__name__ == "LayerNormalization"]
    for ln in lns:
        w = weights_by_name(ln)
        if "gamma" in w:
            w["gamma"].assign(rng.uniform(0.8, 1.2, tuple(w["gamma"].shape)).astype(np.float32))
        if "beta" in w:
            w["beta"].assign((rng.standard_normal(tuple(w["beta"].shape)) * 0.1).astype(np.float32))

    if bns:
        probe = K.Model(model.inputs, [bn.input for bn in bns])
        run = tf.function(lambda x: probe(x, training=False))
        for i, bn in enumerate(bns):
            axis = bn.axis if isinstance(bn.axis, int) else bn.axis[0]
            x = run(calibration)[i] if len(bns) > 1 else run(calibration)
            x = np.asarray(x, np.float64)
            axis = axis % x.ndim
            reduce = tuple(d for d in range(x.ndim) if d != axis)
            samples = x.size // x.shape[axis]
            m, s2 = x.mean(axis=reduce), x.var(axis=reduce)
            median = max(float(np.median(s2)), 1e-12)
            # Few samples per channel (a 1x1 map late in InceptionV3): lean on the
            # layer's median variance rather than on a handful of values.
            s2 = (samples * s2 + 16 * median) / (samples + 16)
            # Bounded gain: no channel's variance below a tenth of the median (dead
            # channels), nor below 5 % of its mean square (a large mean over a tiny
            # spread would turn float32 rounding into visible error).
            s2 = np.maximum(s2, np.maximum(0.1 * median, 0.05 * (m * m + s2)))
            w = weights_by_name(bn)
            shape = tuple(w["moving_mean"].shape)
            w["moving_mean"].assign((m + rng.standard_normal(shape) * 0.1 * np.sqrt(s2)).astype(np.float32))
            w["moving_variance"].assign((s2 * rng.uniform(0.5, 1.5, shape)).astype(np.float32))
            if "gamma" in w:
                w["gamma"].assign(rng.uniform(0.8, 1.2, shape).astype(np.float32))
            if "beta" in w:
                w["beta"].assign((rng.standard_normal(shape) * 0.1).astype(np.float32))
    elif not lns:
        convs = [l for l in layers if type(l).__name__ == "Conv2D"]
        probe = K.Model(model.inputs, [c.output for c in convs])
        run = tf.function(lambda x: probe(x, training=False))
        for i, conv in enumerate(convs):
            rms = float(np.sqrt(np.mean(np.square(np.asarray(run(calibration)[i], np.float64)))))
            for v in conv.weights:
                v.assign((np.asarray(v) / rms).astype(np.float32))
    log(f"    calibrated {len(bns)} BatchNormalization, {len(lns)} LayerNormalization")


def construct(tf, K, version, entry, calibrate_base=None):
    """Builds one entry's architecture (Keras's initial weights); returns (model, input
    range, description). For a transfer model, `calibrate_base(base)` runs on the base
    before it is frozen and wrapped. Every application accepts 96x96 (InceptionV3 needs
    at least 75, the others 32), so no other size is needed."""
    if len(entry) == 4:
        _, constructor, kwargs, kind = entry
        fn = getattr(K.applications, constructor)
        model = fn(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3), **kwargs)
        args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
        return model, kind, f"{constructor}(weights=None, include_top=False, input_shape=({SIZE}, {SIZE}, 3){args})"
    _, preprocessing = entry
    L = K.layers
    if preprocessing == "preprocess_input":
        base = K.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), include_top=False, weights=None, alpha=0.35)
        about = "MobileNetV2(alpha=0.35, include_top=False)"
    else:
        # A small stand-in base (the MobileNetV2 one is 2 MB per file and already
        # covered): strided conv, BN, ReLU6, depthwise conv, BN, ReLU6, 1x1 conv, BN, ReLU.
        i = K.Input((SIZE, SIZE, 3))
        x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="stem")(i)
        x = L.BatchNormalization(name="stem_bn")(x)
        x = L.ReLU(6.0, name="stem_relu")(x)
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
        x = L.BatchNormalization(name="dw_bn")(x)
        x = L.ReLU(6.0, name="dw_relu")(x)
        x = L.Conv2D(32, 1, name="project")(x)
        x = L.BatchNormalization(name="project_bn")(x)
        x = L.ReLU(name="project_relu")(x)
        base = K.Model(i, x, name="small_base")
        about = "a small frozen CNN base (Conv2D s2, BN, ReLU6, DepthwiseConv2D, BN, ReLU6, Conv2D 1x1, BN, ReLU)"
    if calibrate_base:
        calibrate_base(base)
    base.trainable = False
    data_augmentation = K.Sequential([L.RandomFlip("horizontal"), L.RandomRotation(0.1)], name="data_augmentation")
    inputs = K.Input(shape=(SIZE, SIZE, 3))
    x = data_augmentation(inputs)
    if preprocessing == "preprocess_input":
        x = K.applications.mobilenet_v2.preprocess_input(x)
        about += ", mobilenet_v2.preprocess_input(x)"
    else:
        x = x / 127.5 - 1
        about += ", x / 127.5 - 1"
    x = base(x, training=False)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dropout(0.2)(x)
    outputs = L.Dense(1)(x)
    return K.Model(inputs, outputs), "raw", "transfer-learning tutorial: " + about


def all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def float64_reference(tf, K, version, entry, model, x):
    """The same model in float64: how far Keras's own float32 output is from exact."""
    import numpy as np
    if version == "k3":
        K.config.set_dtype_policy("float64")
    else:
        K.backend.set_floatx("float64")
    try:
        copy, _, _ = construct(tf, K, version, entry)
        copy.set_weights([w.astype(np.float64) if w.dtype.kind == "f" else w for w in model.get_weights()])
        for layer in all_layers(copy):
            if type(layer).__name__ == "Normalization" and hasattr(layer, "finalize_state"):
                layer.finalize_state()
        return np.asarray(copy(x.astype(np.float64), training=False), np.float64)
    finally:
        if version == "k3":
            K.config.set_dtype_policy("float32")
        else:
            K.backend.set_floatx("float32")


def layer_classes(model):
    """Class name -> count over every layer, nested models included. Keras 3's operation
    layers (`x + 3.0` saved as the op `Add` from keras.src.ops.numpy), which
    `model.layers` leaves out, are counted as "ops.Add", apart from the layer `Add`."""
    counts = {}

    def visit(m):
        for layer in getattr(m, "operations", m.layers):
            name = type(layer).__name__
            if type(layer).__module__.startswith("keras.src.ops"):
                name = "ops." + name
            counts[name] = counts.get(name, 0) + 1
            if hasattr(layer, "layers"):
                visit(layer)
    visit(model)
    return dict(sorted(counts.items()))


def param_count(weights):
    import numpy as np
    return int(sum(int(np.prod([int(d) for d in w.shape])) for w in weights))


def remove_outputs(out_dir, name, version):
    """Deletes an earlier run's files of a model that this run could not build."""
    for relative in [f"{name}.{version}.io.h5"] + [f"{where}{name}.{version}.{fmt}" for fmt in FORMATS
                                                   for where in ("", "models/")]:
        path = os.path.join(out_dir, relative)
        if os.path.exists(path):
            os.remove(path)


def worker(version, out_dir, only, result_path):
    tf, K = import_keras(version)
    import h5py
    import numpy as np

    models_dir = os.path.join(out_dir, "models")
    os.makedirs(models_dir, exist_ok=True)

    def log(text):
        print(f"[{version}] {text}", flush=True)

    pixels = images(seed_of("input"), BATCH)
    calibration_pixels = images(seed_of("calibration"), 8)
    rows = []
    entries = [(a[0], a) for a in APPLICATIONS] + [(t[0], t) for t in TRANSFER]
    for name, entry in entries:
        if only and name not in only:
            continue
        row = {"name": name, "version": version, "keras_version": K.__version__, "formats": {}}
        rows.append(row)
        started = time.time()
        log(f"{name}")
        try:
            K.backend.clear_session()
            gc.collect()
            K.utils.set_random_seed(seed_of(f"build/{name}/{version}"))
            if len(entry) == 4 and not hasattr(K.applications, entry[1]):
                row["built"] = False
                row["error"] = f"keras.applications has no {entry[1]} in Keras {K.__version__}"
                remove_outputs(out_dir, name, version)
                log("    " + row["error"])
                continue
            if len(entry) == 4:
                model, kind, row["constructor"] = construct(tf, K, version, entry)
                calibrate(tf, K, model, in_range(calibration_pixels, kind), seed_of(f"calibrate/{name}/{version}"),
                          log)
            else:
                def calibrate_base(base):
                    calibrate(tf, K, base, in_range(calibration_pixels, "tf"), seed_of(f"calibrate/{name}/{version}"),
                              log)
                model, kind, row["constructor"] = construct(tf, K, version, entry, calibrate_base)
                head = weights_by_name(model.layers[-1])["bias"]
                rng = np.random.default_rng(seed_of(f"head/{name}/{version}"))
                head.assign((rng.standard_normal(tuple(head.shape)) * 0.1).astype(np.float32))
        except Exception as error:  # noqa: BLE001 - recorded in the table
            remove_outputs(out_dir, name, version)
            row["built"] = False
            row["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            log("    build failed: " + row["error"])
            traceback.print_exc()
            continue
        row["built"] = True
        row["input_range"] = "0..255" if kind == "raw" else "-1..1"
        row["input_size"] = SIZE
        x = in_range(pixels, kind)
        y = np.asarray(model(x, training=False), np.float32)
        row["output_shape"] = list(y.shape)
        row["output_std"] = float(y.std())
        row["output_max_abs"] = float(np.abs(y).max())
        # How much the output depends on the input: the two images' outputs differ
        # by this fraction of the output's spread.
        row["input_dependence"] = float(np.abs(y[0] - y[1]).mean() / max(float(np.abs(y).mean()), 1e-30))
        row["params"] = int(model.count_params())
        try:
            y64 = float64_reference(tf, K, version, entry, model, x)
            row["float64_relerr"] = float(np.abs(y - y64).max() / np.abs(y64).max())
        except Exception as error:  # noqa: BLE001
            row["float64_relerr"] = float("nan")
            log(f"    no float64 reference: {type(error).__name__}: {error}".splitlines()[0][:300])
        log(f"    output {tuple(y.shape)} std {row['output_std']:.4g} max|y| {row['output_max_abs']:.4g} "
            f"input dependence {row['input_dependence']:.3g}, float32 vs float64 {row['float64_relerr']:.2g}")
        if not (0.02 < row["output_std"] < 50) or row["input_dependence"] < 0.01:
            log("    WARNING: output scale or input dependence out of the expected range")

        for fmt in FORMATS:
            info = {"saved": False, "reloaded": False, "reload_max_abs_diff": float("nan"), "error": "",
                    "file": "", "bytes": 0}
            row["formats"][fmt] = info
            file_name = f"{name}.{version}.{fmt}"
            big_path = os.path.join(models_dir, file_name)
            small_path = os.path.join(out_dir, file_name)
            for stale in (big_path, small_path):
                if os.path.exists(stale):
                    os.remove(stale)
            try:
                model.save(big_path)
            except Exception as error:  # noqa: BLE001
                info["error"] = f"save: {type(error).__name__}: {error}".splitlines()[0][:300]
                log(f"    {fmt}: {info['error']}")
                for stale in (big_path,):
                    if os.path.exists(stale):
                        os.remove(stale)
                continue
            info["saved"] = True
            info["bytes"] = os.path.getsize(big_path)
            path = big_path
            if os.path.basename(small_path) in COMMITTED:
                os.replace(big_path, small_path)
                path = small_path
            info["file"] = os.path.relpath(path, out_dir)
            try:
                reloaded = K.models.load_model(path, compile=False)
                y2 = np.asarray(reloaded(x, training=False), np.float32)
                info["reloaded"] = True
                info["reload_max_abs_diff"] = (float(np.abs(y2 - y).max()) if y2.shape == y.shape
                                               else float("inf"))
                del reloaded
            except Exception as error:  # noqa: BLE001
                info["error"] = f"reload: {type(error).__name__}: {error}".splitlines()[0][:300]
            log(f"    {fmt}: {info['bytes']} bytes, {info['file']}, reloaded {info['reloaded']}, "
                f"diff {info['reload_max_abs_diff']:.3g} {info['error']}")

        io_path = os.path.join(out_dir, f"{name}.{version}.io.h5")
        write_io(io_path, K, model, x, y, row)
        row["io_bytes"] = os.path.getsize(io_path)
        row["seconds"] = round(time.time() - started, 1)
        del model
    with open(result_path, "w") as f:
        json.dump(rows, f, indent=1)


def write_io(path, K, model, x, y, row):
    import h5py
    import numpy as np
    STR = h5py.string_dtype("utf-8")
    with h5py.File(path, "w", track_order=False) as f:
        # The pixels are integers 0..255 (or k/127.5 - 1): shuffle + gzip halves them.
        f.create_dataset("inputs/0", data=x.astype(np.float32), compression="gzip", compression_opts=9,
                         shuffle=True)
        f.create_dataset("output", data=y.astype(np.float32))
        f.attrs["keras_version"] = str(K.__version__)
        f.attrs["model_name"] = str(model.name)
        f.attrs["constructor"] = row["constructor"]
        f.attrs["input_range"] = row["input_range"]
        f.attrs["input_size"] = np.int64(SIZE)
        f.attrs["total_params"] = np.int64(model.count_params())
        f.attrs["trainable_params"] = np.int64(param_count(model.trainable_weights))
        f.attrs["non_trainable_params"] = np.int64(param_count(model.non_trainable_weights))
        f.attrs["layer_classes"] = json.dumps(layer_classes(model))
        f.attrs["output_max_abs"] = np.float64(row["output_max_abs"])
        f.attrs["output_std"] = np.float64(row["output_std"])
        # max |Keras float32 output - the same model in float64| / max |output|: the
        # float32 noise floor of this model, for judging another implementation's error.
        f.attrs["float64_relerr"] = np.float64(row["float64_relerr"])
        for fmt, info in row["formats"].items():
            f.attrs[f"{fmt}_saved"] = np.int64(info["saved"])
            f.attrs[f"{fmt}_file"] = info["file"]
            f.attrs[f"{fmt}_bytes"] = np.int64(info["bytes"])
            f.attrs[f"{fmt}_reloaded"] = np.int64(info["reloaded"])
            f.attrs[f"{fmt}_reload_max_abs_diff"] = np.float64(info["reload_max_abs_diff"])
            f.attrs[f"{fmt}_error"] = info["error"]


# --------------------------------------------------------------------------
# Parent: one subprocess per Keras version, then the table
# --------------------------------------------------------------------------

def row_from_io(out, name, version):
    """A table row read back from NAME.V.io.h5 (for the models this run left alone)."""
    import h5py
    path = os.path.join(out, f"{name}.{version}.io.h5")
    if not os.path.exists(path):
        return {"name": name, "version": version, "keras_version": "?", "built": False,
                "error": "no .io.h5 (not built: not in this Keras, or failed)", "formats": {}}
    with h5py.File(path, "r") as f:
        a = f.attrs
        row = {"name": name, "version": version, "keras_version": str(a["keras_version"]), "built": True,
               "output_std": float(a["output_std"]), "output_max_abs": float(a["output_max_abs"]),
               "float64_relerr": float(a["float64_relerr"]), "formats": {}}
        for fmt in FORMATS:
            row["formats"][fmt] = {
                "saved": bool(a[f"{fmt}_saved"]), "reloaded": bool(a[f"{fmt}_reloaded"]),
                "reload_max_abs_diff": float(a[f"{fmt}_reload_max_abs_diff"]), "error": str(a[f"{fmt}_error"]),
                "file": str(a[f"{fmt}_file"]), "bytes": int(a[f"{fmt}_bytes"])}
    return row


def megabytes(n):
    return f"{n / 1e6:.2f} MB" if n else "-"


def print_table(rows):
    header = ("model", "keras", "format", "saved", "reloads", "reload diff", "output std", "max|y|", "f32 vs f64",
              "size", "where")
    lines = [header]
    for row in rows:
        tag = f"{row['version']} ({row['keras_version']})"
        if not row.get("built"):
            lines.append((row["name"], tag, "-", "no", "-", "-", "-", "-", "-", "-", row.get("error", "")))
            continue
        for fmt, info in row["formats"].items():
            where = "-"
            if info["saved"]:
                where = "models/ (ignored)" if info["file"].startswith("models") else "committed"
            lines.append((
                row["name"], tag, fmt,
                "yes" if info["saved"] else "no",
                ("yes" if info["reloaded"] else "no") if info["saved"] else "-",
                f"{info['reload_max_abs_diff']:.3g}" if info["reloaded"] else "-",
                f"{row['output_std']:.4g}", f"{row['output_max_abs']:.4g}",
                "n/a" if row["float64_relerr"] != row["float64_relerr"] else f"{row['float64_relerr']:.2g}",
                megabytes(info["bytes"]),
                where + (f"  {info['error']}" if info["error"] else ""),
            ))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header) - 1)]
    for n, line in enumerate(lines):
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths)) + " | " + str(line[-1]) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--only", nargs="*", default=[], choices=ALL_NAMES, metavar="NAME")
    parser.add_argument("--versions", nargs="*", default=["k3", "k2"], choices=["k2", "k3"])
    parser.add_argument("--table", action="store_true",
                        help="only print the table of the existing .io.h5 files (no Keras needed)")
    parser.add_argument("--worker", choices=["k2", "k3"], help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = os.path.abspath(args.out)

    if args.worker:
        worker(args.worker, out, set(args.only), args.results)
        return

    os.makedirs(os.path.join(out, "models"), exist_ok=True)
    with open(os.path.join(out, "models", ".gitignore"), "w") as f:
        f.write("# Big model files made by tools/make_applications_fixtures.py; not committed.\n*\n!.gitignore\n")
    rows = []
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for version in ([] if args.table else args.versions):
            result = os.path.join(tmp, f"{version}.json")
            command = [sys.executable, os.path.abspath(__file__), "--worker", version, "--out", out,
                       "--results", result]
            if args.only:
                command += ["--only", *args.only]
            code = subprocess.call(command)
            if code != 0 or not os.path.exists(result):
                failed.append(version)
                continue
            with open(result) as f:
                rows += json.load(f)
    # The whole test bed, not only what ran now: the .io.h5 files hold every row.
    ran = {(r["name"], r["version"]): r for r in rows}
    rows = []
    for name in ALL_NAMES:
        for version in ("k2", "k3"):
            row = ran.get((name, version)) or row_from_io(out, name, version)
            rows.append(row)
    print()
    print_table(rows)
    print()
    committed = sorted(f for f in os.listdir(out) if os.path.isfile(os.path.join(out, f)))
    total = sum(os.path.getsize(os.path.join(out, f)) for f in committed)
    print(f"committed folder: {len(committed)} files, {megabytes(total)}")
    if failed:
        sys.exit(f"worker(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
