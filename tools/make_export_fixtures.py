"""Fixtures for `mien predict` and `mien export --keras`, with real Keras as the oracle.

Run from the repository root after building Mien (`swift build`):

    python3 tools/make_export_fixtures.py [--mien .build/debug/mien]

1. predict/: small FER-shaped Keras models (48x48x1 input, Keras 3, random seeded weights)
   saved with model.save(); Keras's predictions on the face JPEGs in Tests/Fixtures/images,
   each loaded as Keras users do (keras.utils.load_img(color_mode="grayscale") / 255).
   `mien predict MODEL.h5 IMAGES` must give the same scores.
2. export/: models exported by `mien export --keras` (run here with the given mien binary),
   loaded back with keras.models.load_model in Keras 3 AND tf.keras 2, and their outputs on
   fixed inputs. Mien must reproduce both.

Versions: tools/requirements.txt (tensorflow-cpu 2.21.0, keras 3.15.1, tf-keras 2.21.0, h5py 3.14.0).
"""
import argparse
import glob
import json
import os
import subprocess

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402
import tf_keras  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
FACES = sorted(glob.glob(os.path.join(FIXTURES, "images", "face_*.jpg")))


def randomize(model, rng):
    for layer in model.layers:
        values = []
        for w in layer.get_weights():
            if "variance" in layer.name or w.ndim == 1 and layer.__class__.__name__ == "BatchNormalization":
                values.append(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
            else:
                # Large head weights, so that the faces get clearly different scores.
                spread = 2.0 if layer.__class__.__name__ == "Dense" else 0.5
                values.append(rng.normal(0, spread, w.shape).astype("float32"))
        layer.set_weights(values)


def predict_fixtures():
    out = os.path.join(FIXTURES, "predict")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    keras.utils.set_random_seed(7)
    L = keras.layers
    models = {
        "fer_softmax": keras.Sequential([
            keras.Input((48, 48, 1)), L.Conv2D(4, 3, strides=2, activation="relu", name="conv"),
            L.BatchNormalization(name="bn"), L.GlobalAveragePooling2D(name="gap"),
            L.Dense(3, activation="softmax", name="probabilities")], name="fer_softmax"),
        "fer_sigmoid": keras.Sequential([
            keras.Input((48, 48, 1)), L.Conv2D(4, 5, strides=3, activation="relu", name="conv"),
            L.GlobalAveragePooling2D(name="gap"), L.Dropout(0.3, name="drop"),
            L.Dense(1, activation="sigmoid", name="probability")], name="fer_sigmoid"),
    }
    expected = {}
    faces = np.stack([keras.utils.img_to_array(keras.utils.load_img(p, color_mode="grayscale")) / 255.0
                      for p in FACES]).astype("float32")
    for name, model in models.items():
        randomize(model, rng)
        model.save(os.path.join(out, f"{name}.k3.h5"))
        scores = model.predict(faces, verbose=0)
        expected[name] = {os.path.basename(p): [float(s) for s in row] for p, row in zip(FACES, scores)}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


# name -> (source fixture, extra `mien export` options, input shape for random inputs or None)
EXPORTS = {
    "nested_mixed_images": ("keras/nested_mixed.k2.h5",
                            ["--image-size", "8", "--image-channels", "1", "--scale", "0.01", "--offset=-0.5"],
                            (2, 8, 8, 1)),
    "functional_branches": ("keras/functional_branches.k3.h5", ["--scale", "1"], None),
    "mbconv": ("keras/mbconv.k3.h5", ["--scale", "1"], None),
}


def export_fixtures(mien):
    out = os.path.join(FIXTURES, "export")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(11)
    for name, (source, options, shape) in EXPORTS.items():
        target = os.path.join(out, f"{name}.h5")
        subprocess.run([mien, "export", os.path.join(FIXTURES, source), "--keras", target] + options, check=True)
        if shape is None:
            io = h5py.File(os.path.join(FIXTURES, source.replace(".h5", ".io.h5")))
            inputs = [io["inputs"][k][()] for k in sorted(io["inputs"].keys(), key=int)]
        else:
            inputs = [rng.uniform(0, 255, shape).astype("float32")]
        outputs = {}
        for lib, key in [(keras, "output_keras3"), (tf_keras, "output_tf_keras")]:
            model = lib.models.load_model(target, compile=False)
            outputs[key] = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
        diff = float(np.abs(outputs["output_keras3"] - outputs["output_tf_keras"]).max())
        print(f"{name}: Keras 3 vs tf.keras max diff {diff:.3g}")
        with h5py.File(os.path.join(out, f"{name}.io.h5"), "w") as f:
            for i, x in enumerate(inputs):
                f[f"inputs/{i}"] = x
            for key, value in outputs.items():
                f[key] = value
            f.attrs["mien_export_options"] = json.dumps(options)
            f.attrs["source"] = source


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mien", default=os.path.join(ROOT, ".build", "debug", "mien"))
    args = parser.parse_args()
    predict_fixtures()
    export_fixtures(args.mien)


if __name__ == "__main__":
    main()
