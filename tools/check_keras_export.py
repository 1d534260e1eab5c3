#!/usr/bin/env python3
"""Load Mien's `.keras` exports with real Keras 3 and compare their outputs with Keras's.

Run from the repository root after building Mien (`swift build`):

    python3 tools/check_keras_export.py [--mien .build/debug/mien] [--keep DIR]

For each Keras fixture (Tests/Fixtures/keras/NAME.V.h5, both Keras versions) and the
bundled EfficientNet-Lite0 backbone, `mien export MODEL --scale 1 --keras OUT.keras`
writes a Keras 3 `.keras` zip (no input adapter layers: `--scale 1` and the model's own
input size), `keras.models.load_model(OUT.keras)` loads it, and its output on the golden
inputs (NAME.V.io.h5, efficientnet/notop.io.h5) is compared with the output real Keras
gave for the original model. Mien flattens nested models that other layers call, so the
loaded model may be laid out differently; it must compute the same function.

Prints max |exported - original| per model and exits non-zero if any exceeds the Swift
tests' tolerance (1e-4 of the output's largest magnitude + 1e-6). A model Mien refuses to
export (tf.keras 2's hard_sigmoid has no Keras 3 name; tf.keras 2's RandomContrast and
RandomCrop mean something else in Keras 3) must be refused with that reason.

Versions: tools/requirements.txt (keras 3.15.1, tensorflow-cpu 2.21.0, h5py 3.14.0).
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # as when the fixtures were made
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
warnings.filterwarnings("ignore")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
# Exports Mien must refuse, and a fragment of the reason.
# What a Keras 3 config cannot say: tf.keras 2's hard_sigmoid, and the augmentation layers
# whose tf.keras 2 definition differs from Keras 3's.
REFUSED = {"activations.k2": "hard_sigmoid", "augmented_backbone.k2": "Keras 2's definition",
           "crops.k2": "Keras 2's definition"}


def golden(path):
    with h5py.File(path, "r") as f:
        xs = [f[f"inputs/{i}"][...] for i in range(len(f["inputs"]))]
        return xs, f["output"][...]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mien", default=os.path.join(ROOT, ".build", "debug", "mien"))
    ap.add_argument("--keep", help="write the .keras files here (default: a temporary folder)")
    args = ap.parse_args()
    if keras.__version__ != "3.15.1":
        print(f"WARNING: keras {keras.__version__} != pinned 3.15.1", file=sys.stderr)
    out = args.keep or tempfile.mkdtemp(prefix="mien-keras-export-")
    os.makedirs(out, exist_ok=True)

    cases = []
    for io in sorted(glob.glob(os.path.join(FIXTURES, "keras", "*.io.h5"))):
        name = os.path.basename(io)[: -len(".io.h5")]
        cases.append((name, os.path.join(FIXTURES, "keras", name + ".h5"), io))
    cases.append(("efficientnet_lite0_notop", os.path.join(ROOT, "Weights", "efficientnet_lite0_notop.h5"),
                  os.path.join(FIXTURES, "efficientnet", "notop.io.h5")))

    failures, worst = [], 0.0
    for name, model, io in cases:
        target = os.path.join(out, name + ".keras")
        run = subprocess.run([args.mien, "export", model, "--scale", "1", "--keras", target],
                             capture_output=True, text=True)
        if name in REFUSED:
            ok = run.returncode != 0 and REFUSED[name] in run.stderr
            print(f"  {'ok  ' if ok else 'FAIL'} {name}: refused: {run.stderr.strip()}")
            if not ok:
                failures.append(name)
            continue
        if run.returncode != 0:
            print(f"  FAIL {name}: mien export failed: {run.stderr.strip()}")
            failures.append(name)
            continue
        xs, y = golden(io)
        keras.backend.clear_session()
        try:
            loaded = keras.models.load_model(target, compile=False)
            got = np.asarray(loaded(xs if len(xs) > 1 else xs[0], training=False)).astype(np.float32)
        except Exception as e:  # noqa: BLE001 - reported and counted
            print(f"  FAIL {name}: Keras 3 cannot load it: {e!r:.300}")
            failures.append(name)
            continue
        if got.shape != y.shape:
            print(f"  FAIL {name}: shape {got.shape} != {y.shape}")
            failures.append(name)
            continue
        diff = float(np.max(np.abs(got - y))) if y.size else 0.0
        allowed = 1e-6 + 1e-4 * float(np.max(np.abs(y)))
        worst = max(worst, diff / allowed)
        ok = diff <= allowed
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: max |exported - original| {diff:.3g} "
              f"(outputs up to {float(np.max(np.abs(y))):.3g}, allowed {allowed:.3g})")
        if not ok:
            failures.append(name)
    print(f"{len(cases)} models, {len(failures)} failures; worst difference {worst:.3g} of the allowed; files in {out}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
