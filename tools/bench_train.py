"""The fine-tuning job in Keras and in Mien, side by side on the same machine.

    swift build -c release
    python3 tools/bench_train.py --data ../shared/fer2013 [--epochs 10] [--augment] [--repetitions 3]
                                 [--only keras|mien]

Both: EfficientNet-Lite0 from Weights/efficientnet_lite0_notop.h5, frozen (BatchNormalization
in inference mode); 48x48 gray faces resized to 96x96 (bilinear) and repeated to RGB; global
average pooling, Dropout(0.2), Dense(1, sigmoid); Adam(1e-3), binary cross-entropy, batch 32;
a stratified 20% validation split of train/ (seed 42) picks the best epoch (the weights of
the epoch with the lowest validation loss are kept: Keras's ModelCheckpoint(save_best_only);
early stopping only with --patience); classes angry (0) and happy (1). No augmentation, or
with --augment the original project's (rotation 10°, shifts and zoom 10%, horizontal flip):
Keras draws new views every epoch through ImageDataGenerator, Mien computes --cached-views
views once (`mien train --augment --cached-views K`).
Both use the same validation faces: Mien's split, which `mien train` writes beside its output
(`<output>.split.json`); with --only keras give one with --split. Keras runs the backbone
every epoch, as `model.fit` does; Mien computes the frozen features once. What still differs
is the random stream: the head's initial weights, the batch order and the dropout masks.

Wall time is end to end: reading the JPEGs, training, and for the accuracy numbers the
evaluation on test/. The two alternate (Mien, Keras, Mien, ...) --repetitions times with the
same seed; the table shows medians (peak memory: Keras's largest, Mien's first run's). Results are also written to
--json.
Versions: tools/requirements.txt.

--cnn trains the original project's CNN (Conv2D 32/64/128 with max pooling, Dropout, Dense(64),
Dense(1, sigmoid)) from scratch in both, on the same split, and compares test accuracy.

--fine-tune times the second stage instead (`mien train --fine-tune-from`): the same job in
both, on the first --faces training faces of each class (no validation, so every epoch runs):
EfficientNet-Lite0 cut after block6d_add at --input-size 224, the head
AveragePooling2D(3, strides=2), Flatten, Dense(256, relu), Dropout(0.2), Dense(1, sigmoid),
the backbone unfrozen from --fine-tune-from (default block5a_expand_conv) with its BatchNormalization layers frozen,
Adam(1e-4), batch 32, --epochs epochs. Keras runs `model.fit` on the faces, the way its
transfer-learning guide does (the frozen layers run every epoch); Mien's time is its
cached pass through the frozen layers plus its stage-2 epochs, read from its log. Mien's
images per second of the unfrozen part are printed with the GFLOP/s they make (3x the
forward operations per face) and `cblas_sgemm`'s (`mien bench`) for scale.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ["angry", "happy"]


def metrics(pred, true):
    pred, true = np.asarray(pred), np.asarray(true)
    recalls = [float(np.mean(pred[true == c] == c)) for c in range(len(CLASSES))]
    return {"accuracy": float(np.mean(pred == true)), "balanced_accuracy": float(np.mean(recalls)),
            "angry_recall": recalls[0]}


def load_folder(folder):
    import keras
    xs, ys, paths = [], [], []
    for label, name in enumerate(CLASSES):
        directory = os.path.join(folder, name)
        for f in sorted(os.listdir(directory)):
            path = os.path.join(directory, f)
            xs.append(keras.utils.img_to_array(keras.utils.load_img(path, color_mode="grayscale")))
            ys.append(label)
            paths.append(os.path.realpath(path))
    return np.stack(xs).astype("float32"), np.asarray(ys, dtype="float32"), paths


def run_keras(args, split):
    import keras
    keras.backend.clear_session()   # a fresh start for each repetition
    keras.utils.set_random_seed(args.seed)
    with open(split) as f:
        validation = {os.path.realpath(p) for p in json.load(f)["validation"]}
    start = time.perf_counter()
    x, y, paths = load_folder(os.path.join(args.data, "train"))
    is_val = np.array([p in validation for p in paths])
    assert is_val.sum() == len(validation), "the split names faces that are not in --data"
    x_train, y_train, x_val, y_val = x[~is_val], y[~is_val], x[is_val], y[is_val]
    backbone = keras.models.load_model(os.path.join(ROOT, "Weights", "efficientnet_lite0_notop.h5"), compile=False)
    backbone.trainable = False
    face = keras.Input((48, 48, 1))
    h = keras.layers.Resizing(args.input_size, args.input_size)(face)
    h = keras.layers.Concatenate()([h, h, h])
    h = backbone(h, training=False)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.Dropout(0.2)(h)
    out = keras.layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(face, out)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    with tempfile.TemporaryDirectory() as tmp:
        best = os.path.join(tmp, "best.weights.h5")
        callbacks = [keras.callbacks.ModelCheckpoint(best, monitor="val_loss", save_best_only=True,
                                                     save_weights_only=True)]
        if args.patience:
            callbacks.append(keras.callbacks.EarlyStopping(patience=args.patience))
        if args.augment:
            # The original project's augmentation, on the 48x48 faces before the resize.
            # ImageDataGenerator left Keras 3; tf_keras keeps it (tools/requirements.txt).
            from tf_keras.preprocessing.image import ImageDataGenerator
            flow = ImageDataGenerator(rotation_range=10, width_shift_range=0.1, height_shift_range=0.1,
                                      zoom_range=0.1, horizontal_flip=True).flow(
                x_train, y_train, batch_size=32, seed=args.seed)

            def batches():
                while True:   # the iterator reshuffles after each pass, as Keras 2's fit did
                    yield next(flow)

            model.fit(batches(), steps_per_epoch=len(flow), validation_data=(x_val, y_val), epochs=args.epochs,
                      callbacks=callbacks, verbose=2)
        else:
            model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs, batch_size=32,
                      callbacks=callbacks, verbose=2)
        model.load_weights(best)
    train_seconds = time.perf_counter() - start
    x_test, y_test, _ = load_folder(os.path.join(args.data, "test"))
    pred = (model.predict(x_test, batch_size=256, verbose=0)[:, 0] >= 0.5).astype(int)
    result = metrics(pred, y_test.astype(int))
    result.update(train_seconds=train_seconds, images_per_second=len(x_train) * args.epochs / train_seconds,
                  peak_memory_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def run_mien(args, keep):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "fer.mien")
        start = time.perf_counter()
        subprocess.run([args.mien, "train", "--data", os.path.join(args.data, "train"), "--classes", ",".join(CLASSES),
                        "--output", out, "--epochs", str(args.epochs), "--input-size", str(args.input_size),
                        "--patience", str(args.patience), "--seed", str(args.seed),
                        # The Keras job's model and settings, whatever Mien's defaults are.
                        "--features-from", "top_activation", "--head", "GlobalAveragePooling2D, Dropout(0.2)",
                        "--class-weight", "none", "--batch-size", "32",
                        "--optimizer", "adam", "--learning-rate", "0.001"]
                       + (["--augment", "--cached-views", str(args.cached_views)] if args.augment else []),
                       check=True, cwd=ROOT)
        train_seconds = time.perf_counter() - start
        report = json.loads(subprocess.run([args.mien, "evaluate", out, "--data", os.path.join(args.data, "test"),
                                            "--format", "json"], check=True, capture_output=True, text=True,
                                           cwd=ROOT).stdout)
        shutil.copy(out + ".split.json", keep)
    angry = next(c for c in report["classes"] if c["name"] == "angry")
    n_train = sum(len(os.listdir(os.path.join(args.data, "train", c))) for c in CLASSES) * 0.8
    return {"accuracy": report["accuracy"], "balanced_accuracy": report["balanced_accuracy"],
            "angry_recall": angry["recall"], "train_seconds": train_seconds,
            "images_per_second": n_train * args.epochs / train_seconds,
            # The largest child so far: mien train (it runs before Keras is loaded).
            "peak_memory_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


FEATURES_FROM = "block6d_add"


def original_cnn():
    """The original project's CNN on 48x48 gray faces scaled to 0...1, untrained (Keras's
    default initializers, which `mien train --from-scratch` reads from the saved config)."""
    import keras
    L = keras.layers
    return keras.Sequential([
        keras.Input((48, 48, 1)),
        L.Conv2D(32, 3, activation="relu", name="conv1"), L.MaxPooling2D(2, name="pool1"),
        L.Conv2D(64, 3, activation="relu", name="conv2"), L.MaxPooling2D(2, name="pool2"),
        L.Conv2D(128, 2, activation="relu", name="conv3"), L.MaxPooling2D(2, name="pool3"),
        L.Dropout(0.25, name="dropout1"), L.Flatten(name="flatten"),
        L.Dense(64, activation="relu", name="dense1"), L.Dropout(0.5, name="dropout2"),
        L.Dense(1, activation="sigmoid", name="output")], name="original_cnn")


def cnn(args):
    """--cnn: the original CNN trained from scratch in both, same split, epochs, batch, Adam."""
    import keras
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        keras.utils.set_random_seed(args.seed)
        h5 = os.path.join(tmp, "original_cnn.h5")
        original_cnn().save(h5)
        split = os.path.join(tmp, "split.json")
        for repetition in range(max(1, args.repetitions)):
            out = os.path.join(tmp, "cnn.mien")
            start = time.perf_counter()
            subprocess.run([args.mien, "train", "--model", h5, "--from-scratch", "--rescale", str(1 / 255),
                            "--data", os.path.join(args.data, "train"), "--classes", ",".join(CLASSES),
                            "--output", out, "--epochs", str(args.epochs), "--patience", str(args.patience),
                            "--batch-size", "32", "--learning-rate", "0.001", "--class-weight", "none",
                            "--seed", str(args.seed + repetition)], check=True, cwd=ROOT)
            seconds = time.perf_counter() - start
            report = json.loads(subprocess.run([args.mien, "evaluate", out, "--data", os.path.join(args.data, "test"),
                                                "--format", "json"], check=True, capture_output=True, text=True).stdout)
            shutil.copy(out + ".split.json", split)
            runs.setdefault("mien", []).append({"accuracy": report["accuracy"], "balanced_accuracy": report["balanced_accuracy"],
                                                "train_seconds": seconds})

            keras.backend.clear_session()
            keras.utils.set_random_seed(args.seed + repetition)
            with open(split) as f:
                validation = {os.path.realpath(p) for p in json.load(f)["validation"]}
            start = time.perf_counter()
            x, y, paths = load_folder(os.path.join(args.data, "train"))
            x /= 255
            is_val = np.array([p in validation for p in paths])
            model = original_cnn()
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
            best = os.path.join(tmp, "best.weights.h5")
            callbacks = [keras.callbacks.ModelCheckpoint(best, monitor="val_loss", save_best_only=True, save_weights_only=True)]
            if args.patience:
                callbacks.append(keras.callbacks.EarlyStopping(patience=args.patience))
            model.fit(x[~is_val], y[~is_val], validation_data=(x[is_val], y[is_val]), epochs=args.epochs, batch_size=32,
                      callbacks=callbacks, verbose=2)
            model.load_weights(best)
            seconds = time.perf_counter() - start
            x_test, y_test, _ = load_folder(os.path.join(args.data, "test"))
            pred = (model.predict(x_test / 255, batch_size=256, verbose=0)[:, 0] >= 0.5).astype(int)
            result = metrics(pred, y_test.astype(int))
            runs.setdefault("keras", []).append({"accuracy": result["accuracy"],
                                                 "balanced_accuracy": result["balanced_accuracy"], "train_seconds": seconds})
            print(f"repetition {repetition + 1}: " + ", ".join(
                f"{k} acc {v[-1]['accuracy']:.4f} in {v[-1]['train_seconds']:.1f} s" for k, v in runs.items()), flush=True)
    results = {k: {key: statistics.median(r[key] for r in v) for key in v[0]} for k, v in runs.items()}
    results["runs"] = runs
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(f"original CNN from scratch, {args.epochs} epochs: {'':4}{'mien':>12}{'keras':>12}")
    for key in ["accuracy", "balanced_accuracy", "train_seconds"]:
        print(f"{key:44}{results['mien'][key]:12.4f}{results['keras'][key]:12.4f}")


def subset(args, tmp):
    """The first --faces faces of each class, in a Kaggle-layout folder of links."""
    folder = os.path.join(tmp, "faces")
    for name in CLASSES:
        os.makedirs(os.path.join(folder, name))
        directory = os.path.join(args.data, "train", name)
        for f in sorted(os.listdir(directory))[:args.faces]:
            os.symlink(os.path.join(directory, f), os.path.join(folder, name, f))
    return folder


def run_keras_fine_tune(args, folder):
    import keras
    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    x, y, _ = load_folder(folder)
    backbone = keras.models.load_model(os.path.join(ROOT, "Weights", "efficientnet_lite0_notop.h5"), compile=False)
    backbone = keras.Model(backbone.input, backbone.get_layer(FEATURES_FROM).output)
    unfrozen = False
    for layer in backbone.layers:
        unfrozen = unfrozen or layer.name == args.fine_tune_from
        layer.trainable = unfrozen and not isinstance(layer, keras.layers.BatchNormalization)
    face = keras.Input((48, 48, 1))
    h = keras.layers.Resizing(args.input_size, args.input_size)(face)
    h = keras.layers.Concatenate()([h, h, h])
    h = backbone(h)
    h = keras.layers.AveragePooling2D(3, strides=2)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(256, activation="relu")(h)
    h = keras.layers.Dropout(0.2)(h)
    out = keras.layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(face, out)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=2)
    seconds = time.perf_counter() - start
    return {"stage2_seconds": seconds, "images_per_second": len(x) * args.epochs / seconds,
            "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_mien_fine_tune(args, folder):
    import re
    with tempfile.TemporaryDirectory() as tmp:
        log = subprocess.run([args.mien, "train", "--data", folder, "--classes", ",".join(CLASSES),
                              "--output", os.path.join(tmp, "fer.mien"), "--input-size", str(args.input_size),
                              "--features-from", FEATURES_FROM, "--fine-tune-from", args.fine_tune_from,
                              "--epochs", "1", "--fine-tune-epochs", str(args.epochs), "--patience", "0",
                              "--validation-split", "0", "--batch-size", "32", "--class-weight", "none",
                              "--fine-tune-learning-rate", "1e-4", "--seed", str(args.seed)],
                             check=True, cwd=ROOT, capture_output=True, text=True).stderr
    cache = float(re.search(r"features: \d+ faces through the frozen part in ([0-9.]+) s", log).group(1))
    epochs = [float(m) for m in re.findall(r"stage 2 epoch .* ([0-9.]+)s", log)]
    mflop = float(re.search(r"([0-9.]+) MFLOP per face forward", log).group(1))
    faces = 2 * args.faces
    unfrozen_speed = faces * len(epochs) / sum(epochs)
    return {"stage2_seconds": cache + sum(epochs), "images_per_second": faces * len(epochs) / (cache + sum(epochs)),
            "cache_seconds": cache, "unfrozen_images_per_second": unfrozen_speed,
            "unfrozen_gflops": unfrozen_speed * 3 * mflop / 1e3,
            "peak_memory_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def sgemm_gflops(args):
    import re
    out = subprocess.run([args.mien, "bench", os.path.join(ROOT, "Weights", "efficientnet_lite0_notop.h5"),
                          "--seconds", "1"], cwd=ROOT, capture_output=True, text=True)
    match = re.search(r"cblas_sgemm .* threads?: ([0-9.]+) GFLOP/s", out.stdout + out.stderr)
    return float(match.group(1)) if match else None


def fine_tune(args):
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = subset(args, tmp)
        for repetition in range(max(1, args.repetitions)):
            runs.setdefault("mien", []).append(run_mien_fine_tune(args, folder))
            runs.setdefault("keras", []).append(run_keras_fine_tune(args, folder))
            print(f"repetition {repetition + 1}: stage 2 wall time "
                  + ", ".join(f"{k} {v[-1]['stage2_seconds']:.1f} s" for k, v in runs.items()), flush=True)
    results = {k: {key: statistics.median(r[key] for r in v) for key in v[0]} for k, v in runs.items()}
    results["mien"]["peak_memory_mb"] = runs["mien"][0]["peak_memory_mb"]
    results["sgemm_gflops"] = sgemm_gflops(args)
    results["runs"] = runs
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(f"stage 2: {2 * args.faces} faces, {args.epochs} epochs, input {args.input_size}, unfrozen from {args.fine_tune_from}")
    print(f"{'':28}{'mien':>12}{'keras':>12}")
    for key in ["stage2_seconds", "images_per_second", "peak_memory_mb"]:
        print(f"{key:28}{results['mien'][key]:12.2f}{results['keras'][key]:12.2f}")
    m = results["mien"]
    print(f"Mien: cache pass {m['cache_seconds']:.1f} s; the unfrozen part trains at {m['unfrozen_images_per_second']:.1f} "
          f"faces/s = {m['unfrozen_gflops']:.1f} GFLOP/s (cblas_sgemm: {results['sgemm_gflops']} GFLOP/s)")
    print(f"stage 2 wall time Keras / Mien: {results['keras']['stage2_seconds'] / m['stage2_seconds']:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "fer2013"))
    parser.add_argument("--mien", default=os.path.join(ROOT, ".build", "release", "mien"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--patience", type=int, default=0)
    parser.add_argument("--input-size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--augment", action="store_true",
                        help="augment (Keras: ImageDataGenerator every epoch; Mien: --augment --cached-views)")
    parser.add_argument("--cached-views", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--only", choices=["keras", "mien"])
    parser.add_argument("--json", default=None)
    parser.add_argument("--split", help="with --only keras: the validation split a mien train run wrote")
    parser.add_argument("--fine-tune", action="store_true", help="time the second stage (see above)")
    parser.add_argument("--faces", type=int, default=512, help="with --fine-tune: faces per class")
    parser.add_argument("--fine-tune-from", default="block5a_expand_conv",
                        help="with --fine-tune: the first unfrozen layer (mien train's default)")
    parser.add_argument("--cnn", action="store_true",
                        help="the original project's CNN from scratch in both (mien train --model --from-scratch)")
    args = parser.parse_args()
    if args.cnn:
        args.data = os.path.abspath(args.data)
        return cnn(args)
    if args.fine_tune:
        if args.input_size == 96:
            args.input_size = 224
        args.data = os.path.abspath(args.data)
        return fine_tune(args)
    args.data = os.path.abspath(args.data)   # mien runs in ROOT
    if args.only == "keras" and not args.split:
        parser.error("--only keras needs --split (a <output>.split.json from mien train)")
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        split = args.split or os.path.join(tmp, "split.json")
        for repetition in range(max(1, args.repetitions)):
            if args.only in (None, "mien"):
                runs.setdefault("mien", []).append(run_mien(args, split))
            if args.only in (None, "keras"):
                runs.setdefault("keras", []).append(run_keras(args, split))
            print(f"repetition {repetition + 1}: wall time "
                  + ", ".join(f"{k} {v[-1]['train_seconds']:.1f} s" for k, v in runs.items()), flush=True)
    results = {k: {key: (max if key == "peak_memory_mb" else statistics.median)(r[key] for r in v)
                   for key in v[0]}
               for k, v in runs.items()}
    if "mien" in runs:
        # Only the first run's: a child forked after Keras has loaded starts as a copy of this
        # 1.7 GB process, which its peak (RUSAGE_CHILDREN) would count.
        results["mien"]["peak_memory_mb"] = runs["mien"][0]["peak_memory_mb"]
    results["runs"] = runs
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(f"{'':24}" + "".join(f"{k:>12}" for k in runs))
    for key in ["accuracy", "balanced_accuracy", "angry_recall", "train_seconds", "images_per_second", "peak_memory_mb"]:
        print(f"{key:24}" + "".join(f"{results[k][key]:12.3f}" for k in runs))
    if len(runs) == 2:
        print(f"wall time Keras / Mien: {results['keras']['train_seconds'] / results['mien']['train_seconds']:.1f}x")


if __name__ == "__main__":
    main()
