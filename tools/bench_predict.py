"""Side-by-side: loading a model and predicting one face, Mien vs Keras, on this machine.

    swift build -c release
    python3 tools/bench_predict.py [--mien .build/release/mien] [--repeat 50]

The model is a FER classifier on the bundled backbone: a 48x48 gray face, resized to
96x96 and repeated to RGB, EfficientNet-Lite0 (Weights/efficientnet_lite0_notop.h5),
global average pooling and a 2-class softmax head (random weights: speed only). Keras
saves it as .h5; `mien export` converts it to .mien (BatchNormalization folded).

Single-face latency includes decoding the JPEG and preprocessing, for both. Keras is
timed through `model.predict` (what most code calls) and by calling the model directly.
Versions: tools/requirements.txt.
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import keras  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FACE = os.path.join(ROOT, "Tests", "Fixtures", "images", "face_10019449.jpg")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(np.ceil(len(values) * q)) - 1))]


def build_keras_model(path):
    backbone = keras.models.load_model(os.path.join(ROOT, "Weights", "efficientnet_lite0_notop.h5"), compile=False)
    backbone.trainable = False
    face = keras.Input((48, 48, 1), name="face")
    x = keras.layers.Resizing(96, 96, name="resize")(face)
    x = keras.layers.Concatenate(name="gray_to_rgb")([x, x, x])
    x = backbone(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(2, activation="softmax", name="probabilities")(x)
    keras.Model(face, out, name="fer_lite0").save(path)


def keras_face(path):
    return keras.utils.img_to_array(keras.utils.load_img(path, color_mode="grayscale"))[None] 


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mien", default=os.path.join(ROOT, ".build", "release", "mien"))
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        h5 = os.path.join(tmp, "fer_lite0.h5")
        mien_file = os.path.join(tmp, "fer_lite0.mien")
        build_keras_model(h5)
        subprocess.run([args.mien, "export", h5, "--output", mien_file, "--scale", "1"], check=True,
                       stdout=subprocess.DEVNULL)

        # Mien: load time and single-face latency, measured inside the process.
        def mien_timing(model):
            out = subprocess.run([args.mien, "predict", model, FACE, "--timing", "--repeat", str(args.repeat),
                                  "--scale", "1"], check=True, capture_output=True, text=True).stderr
            m = re.search(r"load ([\d.]+) ms; single image ([\d.]+) ms median, ([\d.]+) ms p99", out)
            return tuple(float(g) for g in m.groups())
        # Five processes of --repeat faces each: the medians of their medians and p99s.
        mien_loads, mien_medians, mien_p99s = [], [], []
        for _ in range(5):
            load, median, p99 = mien_timing(mien_file)
            mien_loads.append(load)
            mien_medians.append(median)
            mien_p99s.append(p99)
        mien_lat = (statistics.median(mien_medians), statistics.median(mien_p99s))
        mien_h5_load = statistics.median(mien_timing(h5)[0] for _ in range(3))

        # Keras.
        keras_loads = []
        for _ in range(3):
            start = time.perf_counter()
            model = keras.models.load_model(h5, compile=False)
            keras_loads.append((time.perf_counter() - start) * 1000)
        model.predict(keras_face(FACE), verbose=0)
        model(keras_face(FACE), training=False)
        predict_times, call_times = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            model.predict(keras_face(FACE), verbose=0)
            predict_times.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            np.asarray(model(keras_face(FACE), training=False))
            call_times.append((time.perf_counter() - start) * 1000)

    mien_load = statistics.median(mien_loads)
    keras_load = statistics.median(keras_loads)
    rows = [
        ("load model (.mien vs Keras .h5)", mien_load, keras_load),
        ("load model (.h5 in both)", mien_h5_load, keras_load),
        ("one face, median (vs model.predict)", mien_lat[0], statistics.median(predict_times)),
        ("one face, p99 (vs model.predict)", mien_lat[1], percentile(predict_times, 0.99)),
        ("one face, median (vs model(x))", mien_lat[0], statistics.median(call_times)),
        ("one face, p99 (vs model(x))", mien_lat[1], percentile(call_times, 0.99)),
    ]
    print(f"{'measure':40} {'Mien ms':>10} {'Keras ms':>10} {'Keras/Mien':>11}")
    for name, mien, ker in rows:
        print(f"{name:40} {mien:10.2f} {ker:10.2f} {ker / mien:10.1f}x")
    print(f"Keras {keras.__version__}, {os.cpu_count()} CPUs; Mien {args.mien}")


if __name__ == "__main__":
    main()
